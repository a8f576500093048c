"""What a blinded reader's copy of a stored (already pseudonymized) file must not carry.

Applied at serve time: the patient-level attributes that could link the images to a pseudonym
(name, id, sex, age, size, weight, study dates and times, study id, accession number) are
replaced by the read's blind label or emptied.
"""

from __future__ import annotations

from io import BytesIO

import pydicom
from pydicom.dataset import Dataset

from .deid import dicom_bytes

BLINDED_KEYWORDS = (
    "PatientSex",
    "PatientAge",
    "PatientSize",
    "PatientWeight",
    "PatientBirthDate",
    "StudyDate",
    "StudyTime",
    "SeriesDate",
    "SeriesTime",
    "AcquisitionDate",
    "AcquisitionTime",
    "ContentDate",
    "ContentTime",
    "AcquisitionDateTime",
    "InstanceCreationDate",
    "InstanceCreationTime",
    "StudyID",
    "AccessionNumber",
    "StudyDescription",
    "InstitutionName",
    "ReferringPhysicianName",
    "OtherPatientIDsSequence",
    "LongitudinalTemporalInformationModified",
)


def blind_dataset(ds: Dataset, *, blind_label: str) -> Dataset:
    ds.PatientName = blind_label
    ds.PatientID = blind_label
    for keyword in BLINDED_KEYWORDS:
        if keyword in ds:
            delattr(ds, keyword)
    return ds


def blinded_file(data: bytes, *, blind_label: str) -> bytes:
    """The Part-10 bytes a reader receives for one stored instance."""
    ds = pydicom.dcmread(BytesIO(data))
    return dicom_bytes(blind_dataset(ds, blind_label=blind_label))
