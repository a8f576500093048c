"""What a blinded reader's copy of a stored (already pseudonymized) file must not carry.

Applied at serve time: the patient-level attributes that could link the images to a pseudonym
(name, id, sex, age, size, weight, study id, accession number) are replaced by the read's blind
label or removed, and every date, time and date-time at any depth is removed, because even
shifted dates order a reader's cases in time.
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
    "StudyID",
    "AccessionNumber",
    "StudyDescription",
    "InstitutionName",
    "ReferringPhysicianName",
    "OtherPatientIDsSequence",
    "LongitudinalTemporalInformationModified",
)
_TEMPORAL_VRS = {"DA", "DT", "TM"}


def _strip_temporal(ds: Dataset) -> None:
    for element in list(ds):
        if element.VR in _TEMPORAL_VRS:
            del ds[element.tag]
        elif element.VR == "SQ":
            for item in element.value:
                _strip_temporal(item)


def blind_dataset(ds: Dataset, *, blind_label: str) -> Dataset:
    ds.PatientName = blind_label
    ds.PatientID = blind_label
    for keyword in BLINDED_KEYWORDS:
        if keyword in ds:
            delattr(ds, keyword)
    _strip_temporal(ds)
    return ds


def blinded_file(data: bytes, *, blind_label: str) -> bytes:
    """The Part-10 bytes a reader receives for one stored instance."""
    ds = pydicom.dcmread(BytesIO(data))
    return dicom_bytes(blind_dataset(ds, blind_label=blind_label))
