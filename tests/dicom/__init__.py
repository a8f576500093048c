"""Tests of the pure DICOM layer (cohorts.dicom): no database, no Django settings."""
