"""Tests of the pure DICOM layer (cohorts.imaging.dicom): no database, no Django settings."""
