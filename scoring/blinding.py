"""What a reader receives names nothing that orders or links cases (DESIGN.md, "Blinding beyond
the page text"): image URLs carry a per-read HMAC of the image, not its database id, and every
file served carries the read's own remap of the study, series, SOP instance and frame of
reference UIDs, so two reads of one study (a re-read included) cannot be linked by them."""

from __future__ import annotations

import hashlib
import hmac
from io import BytesIO

import pydicom
from django.conf import settings

from cohorts.imaging.dicom.blind import blind_dataset
from cohorts.imaging.dicom.deid import dicom_bytes, remap_uid

from .models import Read

# The UIDs that name the study, its series, an image and their space.
REMAPPED_UIDS = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID")


def _read_key(read: Read, purpose: str) -> bytes:
    secret = settings.DICOM_UID_SECRET.encode()
    return hmac.new(secret, f"{purpose}:{read.token}".encode(), hashlib.sha256).digest()


def image_token(*, read: Read, instance_id: int) -> str:
    """The image's name in this read's URLs: random-looking, unrelated to import order, and
    different in every read of the study."""
    digest = hmac.new(_read_key(read, "image"), str(instance_id).encode(), hashlib.sha256)
    return digest.hexdigest()[:24]


def read_copy(data: bytes, *, read: Read) -> bytes:
    """The Part-10 bytes this read's reader receives for a stored instance: blinded (patient
    attributes and dates, `blind_dataset`) and with the read's own UID remap."""
    ds = pydicom.dcmread(BytesIO(data))
    blind_dataset(ds, blind_label=read.blind_label)
    key = _read_key(read, "uid")
    for keyword in REMAPPED_UIDS:
        if keyword in ds:
            setattr(ds, keyword, remap_uid(str(getattr(ds, keyword)), key))
    meta = getattr(ds, "file_meta", None)
    if meta is not None and "SOPInstanceUID" in ds:
        meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    return dicom_bytes(ds)
