"""Pure DICOM layer: de-identification, validation, classification, archives, demo images."""
