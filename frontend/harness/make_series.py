"""Generate small synthetic MR series for the reader harness.

Writes into OUT_DIR:
  stir/000.dcm..   20 slices 160x160, 16-bit, explicit VR little endian,
                   FrameOfReference A, z = 0, 5, ..., 95 mm
  t1/000.dcm..     20 slices 160x160, 16-bit, FrameOfReference B,
                   z = 3 + 4.5 k (offset and different spacing)
  stir_j2k/...     the STIR series re-encoded as JPEG 2000 lossless
  t1_jls/...       20 slices of pydicom's MR_small JPEG-LS lossless frame,
                   with the T1 geometry (decoder check for JPEG-LS)
  stir_cor/...     20 coronal STIR slices (orientation [1,0,0, 0,0,-1], y = -40 + 4 k,
                   the STIR picture again: only the geometry matters), for the
                   sync groups and orientation markers
  series.json      for each series: files, positions, sliceLocations

Usage: python make_series.py OUT_DIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    MRImageStorage,
    generate_uid,
)

ROWS = COLS = 160
SPACING = 1.0
AXIAL = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
CORONAL = [1.0, 0.0, 0.0, 0.0, 0.0, -1.0]

SERIES = {
    "stir": {"count": 20, "z0": 0.0, "dz": 5.0, "desc": "STIR TRA", "fat": 0.15, "water": 1.0},
    "t1": {"count": 20, "z0": 3.0, "dz": 4.5, "desc": "T1 TSE TRA", "fat": 1.0, "water": 0.25},
}


def phantom(kind: str, z: float) -> np.ndarray:
    """A thigh-like cross-section: fat ring, muscle blobs, bone, oedema in one
    muscle; a marker whose angle follows z so slices differ visibly."""
    p = SERIES[kind]
    y, x = np.mgrid[0:ROWS, 0:COLS].astype(np.float32)
    cx, cy = COLS / 2, ROWS / 2
    r = np.hypot(x - cx, y - cy)
    body_r = 70 - 0.15 * z
    img = np.zeros((ROWS, COLS), np.float32)
    body = r < body_r
    img[body] = 2200 * p["fat"]  # subcutaneous fat
    muscle = r < body_r - 10
    img[muscle] = 900
    for k, (dx, dy, rad) in enumerate(
        [(-25, -20, 18), (20, -25, 16), (28, 15, 17), (-20, 25, 15), (0, 35, 12)]
    ):
        blob = np.hypot(x - cx - dx, y - cy - dy) < rad
        img[blob] = 1000 + 80 * k
    oedema = np.hypot(x - cx - 20, y - cy + 25) < 12
    img[oedema] = 900 + 2600 * p["water"]
    bone = r < 9
    img[bone] = 150
    marrow = r < 6
    img[marrow] = 1800 * p["fat"]
    angle = np.deg2rad(z * 3.6)
    mx, my = cx + 52 * np.cos(angle), cy + 52 * np.sin(angle)
    img[np.hypot(x - mx, y - my) < 5] = 3800
    rng = np.random.default_rng(int(z * 10) + (0 if kind == "stir" else 7))
    img += rng.normal(0, 25, img.shape).astype(np.float32)
    img[~body] = rng.normal(20, 8, (~body).sum())
    return np.clip(img, 0, 4095).astype(np.uint16)


def base_dataset(
    kind: str, study_uid: str, series_uid: str, for_uid: str, k: int, z: float
) -> Dataset:
    p = SERIES[kind]
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = MRImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = MRImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.FrameOfReferenceUID = for_uid
    ds.Modality = "MR"
    ds.PatientName = "HARNESS^SYNTHETIC"
    ds.PatientID = "HARNESS"
    ds.SeriesDescription = p["desc"]
    ds.SeriesNumber = 3 if kind == "stir" else 4
    ds.InstanceNumber = k + 1
    ds.ImageOrientationPatient = AXIAL
    ds.ImagePositionPatient = [-80.0, -80.0, z]
    ds.SliceLocation = z
    ds.SliceThickness = p["dz"]
    ds.SpacingBetweenSlices = p["dz"]
    ds.PixelSpacing = [SPACING, SPACING]
    ds.Rows, ds.Columns = ROWS, COLS
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ds.RescaleIntercept = 0
    ds.RescaleSlope = 1
    if kind == "stir":
        ds.WindowCenter = 1600
        ds.WindowWidth = 3200
        ds.RepetitionTime, ds.EchoTime, ds.InversionTime = 5000, 60, 160
    else:
        ds.RepetitionTime, ds.EchoTime = 600, 12
    return ds


def write_series(
    out: Path, kind: str, folder: str, transform=None, *, coronal: bool = False
) -> dict:
    p = SERIES[kind]
    study_uid = "2.25.1000"
    series_uid = generate_uid()
    for_uid = generate_uid()  # a frame of reference per series
    d = out / folder
    d.mkdir(parents=True, exist_ok=True)
    files, positions = [], []
    for k in range(p["count"]):
        z = p["z0"] + p["dz"] * k
        ds = base_dataset(kind, study_uid, series_uid, for_uid, k, z)
        if coronal:
            z = -40.0 + 4.0 * k  # position along the normal (0, 1, 0): y
            ds.ImageOrientationPatient = CORONAL
            ds.ImagePositionPatient = [-80.0, z, 80.0]
            ds.SliceLocation = z
            ds.SeriesNumber = 5
            ds.SeriesDescription = "STIR COR"
        if transform is None:
            ds.PixelData = phantom(kind, abs(z)).tobytes()
        else:
            transform(ds, kind, z)
        name = f"{k:03d}.dcm"
        ds.save_as(d / name, enforce_file_format=True)
        files.append(name)
        positions.append(z)  # dot(IPP, normal): normal (0, 0, 1), coronal (0, 1, 0)
    return {
        "folder": folder,
        "files": files,
        "positions": positions,
        "sliceLocations": list(positions),
    }


def j2k(ds: Dataset, kind: str, z: float) -> None:
    ds.PixelData = phantom(kind, z).tobytes()
    ds.compress(JPEG2000Lossless, encoding_plugin="pylibjpeg")


def jpeg_ls_from_testdata(ds: Dataset, kind: str, z: float) -> None:
    src = dcmread(get_testdata_file("MR_small_jpeg_ls_lossless.dcm"))
    ds.file_meta.TransferSyntaxUID = src.file_meta.TransferSyntaxUID
    for kw in (
        "Rows",
        "Columns",
        "BitsAllocated",
        "BitsStored",
        "HighBit",
        "PixelRepresentation",
        "PhotometricInterpretation",
        "SamplesPerPixel",
        "PixelSpacing",
    ):
        setattr(ds, kw, getattr(src, kw))
    for kw in ("WindowCenter", "WindowWidth"):
        if kw in ds:
            delattr(ds, kw)
    ds.PixelData = src.PixelData
    ds["PixelData"].VR = "OB"


def main(out_dir: str) -> None:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    info = {
        "stir": write_series(out, "stir", "stir"),
        "t1": write_series(out, "t1", "t1"),
        "stir_j2k": write_series(out, "stir", "stir_j2k", j2k),
        "t1_jls": write_series(out, "t1", "t1_jls", jpeg_ls_from_testdata),
        "stir_cor": write_series(out, "stir", "stir_cor", coronal=True),
    }
    (out / "series.json").write_text(json.dumps(info, indent=1))
    print(f"wrote {sum(len(v['files']) for v in info.values())} files to {out}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/iim-reader-harness-data")
