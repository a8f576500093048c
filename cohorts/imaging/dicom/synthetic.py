"""Synthetic whole-body muscle MR studies for the demo cohort and the tests.

A study is two axial series, STIR and T1 TSE, through six levels from shoulders to calves
(shoulder, chest with upper arms, abdomen with forearms, pelvis, thigh, lower leg). Each
muscle of the default atlas is an ellipse in its anatomical place (patient's right on the
image's left, anterior at the top, as radiologists view axial images), inside a ring of
subcutaneous fat, around bone (dark cortex, fatty marrow). STIR suppresses fat and shows
oedema: a muscle's STIR grade (0-2) sets how much of it is bright. T1 shows fat bright: a
muscle's T1 grade sets how much of it is replaced by bright fatty streaks (1: <= 50 %,
2: > 50 % of its area, the protocol's scale).

The two series have different frames of reference and slightly different slice positions,
so the viewer's position-based sync is exercised; identifying values (names, ids, dates,
institution, a private tag) are generated so that de-identification is exercised too.
The layout lists muscles by atlas slug; `cohorts` does not import `scoring`, a test checks
that both name the same muscles.
"""

from __future__ import annotations

import copy
import datetime as dt
import math
from functools import lru_cache
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.uid import UID, ExplicitVRBigEndian, ExplicitVRLittleEndian, MRImageStorage
from pydicom.uid import generate_uid as _generate_uid

from .deid import dicom_bytes

FOV_MM = 480.0
SLICE_THICKNESS_MM = 6.0
T1_Z_SHIFT_MM = 2.5  # the T1 stack sits slightly off the STIR stack

# Tissue codes of the label map; muscles are MUSCLE_BASE + their index in the level.
AIR, FAT, VISCERA, LUNG, CORTEX, MARROW, FLUID = range(7)
MUSCLE_BASE = 100
#                      air  fat  viscera lung cortex marrow fluid muscle
BASE_SIGNAL = {
    "STIR": np.array([0, 110, 600, 40, 50, 140, 2200, 330], dtype=np.float32),
    "T1": np.array([0, 2600, 950, 60, 80, 2300, 450, 900], dtype=np.float32),
}
OEDEMA_FRACTION = (0.0, 0.35, 0.8)  # share of a muscle that is oedematous, per STIR grade
OEDEMA_SIGNAL = (330.0, 1250.0, 1600.0)
FAT_FRACTION = (0.0, 0.3, 0.7)  # share replaced by fat, per T1 grade

# Anatomy in mm on the patient's right (x < 0; y < 0 is anterior); paired structures are
# mirrored to the left. Rows are drawn in order, so bones come last.
Row = tuple[str, str, float, float, float, float, float, bool]


def _m(slug: str, x: float, y: float, rx: float, ry: float, angle: float = 0) -> Row:
    """A paired muscle: an ellipse centred at (x, y) with radii rx, ry, turned by angle°."""
    return ("muscle", slug, x, y, rx, ry, angle, True)


def _t(kind: str, x: float, y: float, rx: float, ry: float, a: float = 0, pair: bool = True) -> Row:
    """Another tissue: body (fat), viscera, lung, fluid or bone (cortex around marrow)."""
    return (kind, "", x, y, rx, ry, a, pair)


LEVELS: dict[str, tuple[tuple[float, float], list[Row]]] = {
    "shoulder": ((380.0, 450.0), [
        _t("body", 0, 5, 125, 95, 0, False), _t("body", -165, 0, 58, 58),
        _t("lung", -55, -5, 42, 55), _m("deltoid", -178, 0, 42, 48),
        _m("supraspinatus", -72, 30, 20, 8, 25), _m("infraspinatus", -112, 70, 38, 10, 15),
        _m("subscapularis", -110, 42, 36, 9, 15), _m("teres-minor", -150, 62, 14, 10, 30),
        _m("teres-major", -140, 38, 13, 10), _m("coracobrachialis", -140, -30, 9, 11),
        _m("trapezius", -50, 82, 45, 10, -15), _m("levator-scapulae", -45, 52, 12, 10),
        _m("rhomboids", -28, 70, 18, 7, -10), _t("bone", -110, 56, 40, 4, 15),
        _t("bone", -172, 0, 21, 21), _t("bone", 0, 58, 14, 14, 0, False),
    ]),
    "chest": ((200.0, 330.0), [
        _t("body", 0, 0, 135, 100, 0, False), _t("body", -185, 10, 45, 45),
        _t("lung", -58, 0, 50, 62), _t("viscera", 10, -5, 35, 40, 0, False),
        _m("pectoralis-major", -65, -82, 52, 11, 8), _m("pectoralis-minor", -75, -64, 28, 6, 10),
        _m("serratus-anterior", -118, 0, 9, 38), _m("latissimus-dorsi", -105, 64, 30, 11, -35),
        _m("erector-spinae-thoracic", -25, 80, 16, 11), _m("multifidus", -9, 72, 7, 9),
        _m("biceps-brachii", -185, -20, 17, 12), _m("brachialis", -183, -2, 17, 8),
        _m("triceps-brachii", -185, 35, 26, 14), _t("bone", -185, 12, 10, 10),
        _t("bone", 0, 62, 15, 15, 0, False),
    ]),
    "abdomen": ((50.0, 150.0), [
        _t("body", 0, 0, 115, 85, 0, False), _t("body", -172, 10, 48, 40),
        _t("viscera", 0, -10, 85, 55, 0, False), _m("erector-spinae-lumbar", -30, 62, 22, 15),
        _m("multifidus", -11, 58, 8, 12), _m("pronator-teres", -150, -10, 9, 8),
        _m("flexor-carpi-radialis", -165, -18, 9, 8),
        _m("flexor-digitorum-superficialis", -182, -14, 12, 8),
        _m("flexor-carpi-ulnaris", -202, -2, 9, 9),
        _m("flexor-digitorum-profundus", -186, -1, 10, 6),
        _m("flexor-pollicis-longus", -167, -2, 7, 6), _m("brachioradialis", -140, 6, 9, 12),
        _m("extensor-carpi-radialis", -150, 26, 9, 9), _m("extensor-digitorum", -172, 34, 12, 8),
        _m("extensor-carpi-ulnaris", -195, 32, 9, 8), _m("supinator", -170, 20, 6, 5),
        _t("bone", -160, 8, 7, 7), _t("bone", -188, 18, 7, 7), _t("bone", 0, 35, 18, 18, 0, False),
    ]),
    "pelvis": ((-150.0, -50.0), [
        _t("body", 0, 5, 185, 110, 0, False), _t("fluid", 0, -35, 35, 25, 0, False),
        _t("viscera", 0, 30, 15, 12, 0, False), _m("gluteus-maximus", -95, 78, 58, 22, -15),
        _m("gluteus-medius", -140, 40, 24, 20, 30), _m("gluteus-minimus", -125, 15, 15, 11, 30),
        _m("tensor-fasciae-latae", -155, -40, 12, 15), _m("iliopsoas", -75, -45, 20, 16),
        _t("bone", -95, -5, 22, 22), _t("bone", 0, 60, 30, 12, 0, False),
    ]),
    "thigh": ((-500.0, -300.0), [
        _t("body", -95, 5, 80, 82), _m("vastus-intermedius", -100, -2, 24, 22),
        _m("rectus-femoris", -95, -55, 16, 12), _m("vastus-lateralis", -138, -5, 14, 28),
        _m("vastus-medialis", -65, -30, 15, 18), _m("sartorius", -42, -18, 9, 8),
        _m("gracilis", -30, 22, 7, 10), _m("adductor-longus", -55, 0, 12, 10),
        _m("adductor-brevis", -62, 15, 9, 7), _m("adductor-magnus", -70, 36, 20, 14),
        _m("semimembranosus", -74, 58, 13, 11), _m("semitendinosus", -95, 70, 12, 9),
        _m("biceps-femoris-long", -120, 58, 14, 11), _m("biceps-femoris-short", -130, 34, 10, 9),
        _t("bone", -100, 5, 14, 14),
    ]),
    "lower-leg": ((-900.0, -750.0), [
        _t("body", -80, 5, 58, 66), _m("tibialis-anterior", -92, -30, 10, 13),
        _m("extensor-digitorum-longus", -110, -20, 7, 10),
        _m("extensor-hallucis-longus", -100, -8, 6, 6), _m("peroneus-longus", -124, 0, 8, 11),
        _m("peroneus-brevis", -119, 16, 6, 7), _m("tibialis-posterior", -84, 6, 10, 8),
        _m("flexor-digitorum-longus", -62, 10, 7, 8), _m("flexor-hallucis-longus", -100, 22, 9, 7),
        _m("soleus", -82, 35, 30, 10), _m("gastrocnemius-medial", -62, 52, 18, 11),
        _m("gastrocnemius-lateral", -100, 52, 16, 10), _t("bone", -70, -25, 15, 15),
        _t("bone", -108, 8, 7, 7),
    ]),
}  # fmt: skip
# Limb muscles are drawn a little larger than listed, so that they pack as in life (draw
# order settles the overlaps) with thin fat septa between them.
MUSCLE_SCALE = {"abdomen": 1.1, "thigh": 1.2, "lower-leg": 1.15}
LEVEL_WEIGHTS = {"shoulder": 3, "chest": 4, "abdomen": 3, "pelvis": 3, "thigh": 4, "lower-leg": 3}
_KIND_CODE = {"body": FAT, "viscera": VISCERA, "lung": LUNG, "fluid": FLUID}

Muscle = tuple[str, str]  # (slug, side "R"/"L")


def muscle_slugs() -> set[str]:
    """Every muscle slug the layout draws."""
    return {row[1] for _z, rows in LEVELS.values() for row in rows if row[0] == "muscle"}


def level_of_slice(index: int, slices: int) -> str:
    """The level slice `index` of `slices` cuts through (head to feet, by LEVEL_WEIGHTS)."""
    total = sum(LEVEL_WEIGHTS.values())
    where, edge = (index + 0.5) / slices * total, 0.0
    for name, weight in LEVEL_WEIGHTS.items():
        edge += weight
        if where < edge:
            return name
    return name


def _slice_z(index: int, slices: int) -> float:
    """Table position (mm, +z towards the head) of a slice, spread within its level."""
    level = level_of_slice(index, slices)
    members = [i for i in range(slices) if level_of_slice(i, slices) == level]
    low, high = LEVELS[level][0]
    k = members.index(index)
    return high - (high - low) * (k + 0.5) / len(members)


def _ellipse(size: int, x: float, y: float, rx: float, ry: float, angle: float) -> np.ndarray:
    spacing = FOV_MM / size
    coords = (np.arange(size, dtype=np.float32) - (size - 1) / 2) * spacing
    dx, dy = coords[None, :] - x, coords[:, None] - y
    c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    return ((dx * c + dy * s) / rx) ** 2 + ((dy * c - dx * s) / ry) ** 2 <= 1.0


@lru_cache(maxsize=64)
def _label_map(level: str, size: int) -> tuple[np.ndarray, tuple[Muscle, ...]]:
    """Tissue labels of one level (cached: every slice of the level shares it)."""
    labels = np.zeros((size, size), dtype=np.int16)
    muscles: list[Muscle] = []
    for kind, slug, x, y, rx, ry, angle, paired in LEVELS[level][1]:
        # mirrored copy for the patient's left (x > 0), which is the image's right
        sides = [("R", x, angle), ("L", -x, -angle)] if paired else [("", x, angle)]
        for side, sx, sa in sides:
            if kind == "bone":
                labels[_ellipse(size, sx, y, rx, ry, sa)] = CORTEX
                inner = _ellipse(size, sx, y, max(rx - 3, 1), max(ry - 3, 1), sa)
                labels[inner] = MARROW
            elif kind == "muscle":
                grow = MUSCLE_SCALE.get(level, 1.0)
                labels[_ellipse(size, sx, y, rx * grow, ry * grow, sa)] = MUSCLE_BASE + len(muscles)
                muscles.append((slug, side))
            else:
                labels[_ellipse(size, sx, y, rx, ry, sa)] = _KIND_CODE[kind]
    labels.setflags(write=False)
    return labels, tuple(muscles)


def muscle_mask(slug: str, side: str, *, index: int, slices: int, size: int) -> np.ndarray | None:
    """Pixels of a muscle on slice `index` (None when the slice does not cut it)."""
    labels, muscles = _label_map(level_of_slice(index, slices), size)
    if (slug, side) not in muscles:
        return None
    return labels == MUSCLE_BASE + muscles.index((slug, side))


def _smooth_field(rng: np.random.Generator, size: int, waves: int = 8) -> np.ndarray:
    """A smooth random pattern in about [-1, 1] (sum of random plane waves, ~15-45 mm)."""
    coords = (np.arange(size, dtype=np.float32) - size / 2) * (FOV_MM / size)
    field = np.zeros((size, size), dtype=np.float32)
    for _ in range(waves):
        theta, wavelength, phase = rng.uniform(0, math.pi), rng.uniform(15, 45), rng.uniform(0, 6.3)
        k = 2 * math.pi / wavelength
        field += np.cos(
            k * (coords[None, :] * math.cos(theta) + coords[:, None] * math.sin(theta)) + phase
        )
    return field / math.sqrt(waves / 2)


def _render(
    labels: np.ndarray,
    muscles: tuple[Muscle, ...],
    grades: dict[Muscle, tuple[int, int]],
    sequence: str,
    rng: np.random.Generator,
) -> np.ndarray:
    """One slice's signal: tissue signal, grades inside muscles, blur, bias field, Rician noise."""
    size = labels.shape[0]
    tissue = np.where(labels >= MUSCLE_BASE, 7, np.minimum(labels, 6))
    image = BASE_SIGNAL[sequence][tissue]
    patches = _smooth_field(rng, size)
    stripes = _smooth_field(rng, size, waves=3) * 0.6 + patches * 0.4
    for number, muscle in enumerate(muscles):
        stir_grade, t1_grade = grades.get(muscle, (0, 0))
        grade = stir_grade if sequence == "STIR" else t1_grade
        if not grade:
            continue
        mask = labels == MUSCLE_BASE + number
        pattern = patches if sequence == "STIR" else stripes
        share = OEDEMA_FRACTION[grade] if sequence == "STIR" else FAT_FRACTION[grade]
        affected = mask & (pattern >= np.quantile(pattern[mask], 1.0 - share))
        if sequence == "STIR":
            image[mask] += 60.0 * grade  # diffuse rise around the patches
            image[affected] = OEDEMA_SIGNAL[grade]
        else:
            image[affected] = 0.85 * BASE_SIGNAL["T1"][FAT] + 0.15 * BASE_SIGNAL["T1"][7]
    image = (
        image + np.roll(image, 1, 0) + np.roll(image, 1, 1) + np.roll(image, (1, 1), (0, 1))
    ) / 4
    radius = np.hypot(*np.meshgrid(np.linspace(-1, 1, size), np.linspace(-1, 1, size)))
    image *= (1.0 - 0.15 * radius**2).astype(np.float32)  # coil sensitivity falls off
    sigma = 18.0 if sequence == "STIR" else 25.0
    noisy = np.hypot(image + rng.normal(0, sigma, image.shape), rng.normal(0, sigma, image.shape))
    return np.clip(noisy, 0, 4095).astype(np.uint16)


SURNAMES = ("Keller", "Novak", "Jansen", "Moreau", "Rossi", "Larsen", "Weber", "Costa", "Berg")
GIVEN = ("Anna", "Jonas", "Marta", "Elias", "Ines", "Paul", "Sofia", "Lukas", "Clara")
INSTITUTIONS = ("St. Example University Hospital", "Hospital Synthetica Nord")
SERIES = {
    # sequence: number, description, scanning sequence, variant, TR, TE, TI, flip, echo train
    "STIR": (3, "STIR_TRA_WB", ["IR"], ["SK", "SP", "MP"], 5000.0, 70.0, 150.0, 150.0, 15),
    "T1": (4, "T1_TSE_TRA_WB", ["SE"], ["SK", "SP"], 550.0, 12.0, None, 150.0, 3),
}


def _uid(*parts: object) -> UID:
    """Deterministic UID from the study's parameters (same seed, same UIDs)."""
    return _generate_uid(entropy_srcs=[str(p) for p in parts])


def _person(rng: np.random.Generator) -> str:
    return f"{SURNAMES[rng.integers(len(SURNAMES))]}^{GIVEN[rng.integers(len(GIVEN))]}"


def _age(birth_date: str, on: dt.date) -> str:
    born = dt.date(int(birth_date[:4]), int(birth_date[4:6]), int(birth_date[6:8]))
    years = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
    return f"{years:03d}Y"


def _study_header(patient_id: str, patient_name: str, birth_date: str, seed: int) -> Dataset:
    """Patient, study and equipment attributes shared by every image of the study."""
    rng = np.random.default_rng([seed, 7])
    study_day = dt.date(2018, 1, 1) + dt.timedelta(days=int(rng.integers(0, 2000)))
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.PatientName = patient_name
    ds.PatientID = patient_id
    ds.PatientBirthDate = birth_date
    ds.PatientSex = ("F", "M")[int(rng.integers(2))]
    ds.PatientAge = _age(birth_date, study_day)
    ds.PatientWeight = f"{rng.integers(50, 100)}"
    ds.StudyDate = study_day.strftime("%Y%m%d")
    ds.StudyTime = f"{rng.integers(7, 17):02d}{rng.integers(0, 40):02d}00"
    ds.AccessionNumber = f"A{rng.integers(10**7, 10**8)}"
    ds.StudyID = f"{rng.integers(1000, 9999)}"
    ds.StudyInstanceUID = _uid(patient_id, seed, "study")
    ds.StudyDescription = "MRI WHOLE BODY MYOSITIS"
    ds.ReferringPhysicianName = _person(rng)
    ds.PerformingPhysicianName = _person(rng)
    ds.OperatorsName = _person(rng)
    ds.InstitutionName = INSTITUTIONS[int(rng.integers(len(INSTITUTIONS)))]
    ds.InstitutionAddress = f"{rng.integers(1, 200)} Example Street, Synthetic City"
    ds.StationName = f"MRC{rng.integers(10000, 99999)}"
    ds.DeviceSerialNumber = f"{rng.integers(10000, 99999)}"
    ds.Manufacturer = "iim-scoring"
    ds.ManufacturerModelName = "Synthetic 1.5T"
    ds.SoftwareVersions = "synthetic-1"
    ds.MagneticFieldStrength = "1.5"
    ds.ImagingFrequency = "63.68"
    ds.ImagedNucleus = "1H"
    ds.BodyPartExamined = "WHOLEBODY"
    ds.PatientPosition = "HFS"
    request = Dataset()
    request.RequestedProcedureID = ds.AccessionNumber
    request.ScheduledProcedureStepID = f"S{ds.AccessionNumber}"
    request.RequestedProcedureDescription = f"Myositis work-up {patient_name}"
    ds.RequestAttributesSequence = [request]
    block = ds.private_block(0x0029, "IIM SYNTHETIC 1.0", create=True)
    block.add_new(0x10, "LO", f"{patient_name} {patient_id}")  # a leak if privates survive
    return ds


def synthetic_study(
    *,
    patient_id: str,
    patient_name: str,
    birth_date: str,
    grades: dict[tuple[str, str], tuple[int, int]],
    slices: int = 20,
    size: int = 160,
    seed: int = 0,
    transfer_syntax: str = ExplicitVRLittleEndian,
) -> list[FileDataset]:
    """A STIR and a T1 series (`slices` axial images each) of one synthetic patient.

    `grades` maps (muscle slug, side "L"/"R") to (STIR grade, T1 grade), each 0-2; muscles
    not named are normal. The same arguments give the same pixels and UIDs.
    """
    unknown = {slug for slug, _side in grades} - muscle_slugs()
    if unknown:
        raise ValueError(f"no such muscle in the synthetic layout: {sorted(unknown)}")
    bad = {k: v for k, v in grades.items() if k[1] not in ("L", "R") or not set(v) <= {0, 1, 2}}
    if bad:
        raise ValueError(f"grades need side L/R and values 0-2: {bad}")
    header = _study_header(patient_id, patient_name, birth_date, seed)
    rng = np.random.default_rng([seed, 11])
    start = int(header.StudyTime[:2]) * 60 + int(header.StudyTime[2:4])
    datasets: list[FileDataset] = []
    for minutes, sequence in ((4, "STIR"), (11, "T1")):
        acquired = f"{(start + minutes) // 60:02d}{(start + minutes) % 60:02d}00"
        series_uid = _uid(patient_id, seed, sequence, "series")
        frame_uid = _uid(patient_id, seed, sequence, "frame")  # differs between the series
        for index in range(slices):
            labels, muscles = _label_map(level_of_slice(index, slices), size)
            pixels = _render(labels, muscles, grades, sequence, rng)
            z = _slice_z(index, slices) + (T1_Z_SHIFT_MM if sequence == "T1" else 0.0)
            ds = _image(header, sequence, index, z, pixels, acquired, series_uid, frame_uid)
            ds.SOPInstanceUID = _uid(patient_id, seed, sequence, index)
            _encode(ds, pixels, UID(transfer_syntax))
            datasets.append(ds)
    return datasets


def _image(
    header: Dataset,
    sequence: str,
    index: int,
    z: float,
    pixels: np.ndarray,
    acquired: str,
    series_uid: str,
    frame_uid: str,
) -> FileDataset:
    number, description, scanning, variant, tr, te, ti, flip, train = SERIES[sequence]
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = MRImageStorage
    ds = FileDataset(f"{sequence}_{index:04d}.dcm", {}, file_meta=meta, preamble=b"\0" * 128)
    ds.update(copy.deepcopy(header))  # no element shared between images: callers edit them
    ds.SOPClassUID = MRImageStorage
    ds.ImageType = ["ORIGINAL", "PRIMARY", "M", "NORM", "DIS2D"]
    ds.Modality = "MR"
    ds.SeriesInstanceUID = series_uid
    ds.SeriesNumber = number
    ds.SeriesDescription = ds.ProtocolName = description
    ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = header.StudyDate
    ds.SeriesTime = ds.AcquisitionTime = ds.ContentTime = acquired
    ds.FrameOfReferenceUID = frame_uid
    ds.PositionReferenceIndicator = ""
    ds.ScanningSequence, ds.SequenceVariant = scanning, variant
    ds.ScanOptions = "IR" if ti else ""
    ds.MRAcquisitionType = "2D"
    ds.SequenceName = "*tir2d1_15" if ti else "*tse2d1_3"
    ds.RepetitionTime, ds.EchoTime = f"{tr:.1f}", f"{te:.1f}"
    if ti:
        ds.InversionTime = f"{ti:.1f}"
    ds.EchoTrainLength, ds.FlipAngle, ds.NumberOfAverages = train, f"{flip:.0f}", "1"
    ds.SliceThickness = f"{SLICE_THICKNESS_MM:.1f}"
    ds.InstanceNumber = index + 1
    ds.AcquisitionNumber = 1
    size = pixels.shape[0]
    spacing = FOV_MM / size
    corner = -(size - 1) / 2 * spacing  # centre of the first pixel
    ds.ImagePositionPatient = [f"{corner:.4f}", f"{corner:.4f}", f"{z:.4f}"]
    ds.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
    ds.SliceLocation = f"{z:.4f}"
    ds.PixelSpacing = [f"{spacing:.6g}", f"{spacing:.6g}"]
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.Rows = ds.Columns = size
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.WindowCenter, ds.WindowWidth = ("700", "1400") if sequence == "STIR" else ("1300", "2600")
    return ds


def _encode(ds: FileDataset, pixels: np.ndarray, syntax: UID) -> None:
    """Pixel data in the requested transfer syntax (compressed ones by pydicom's encoders)."""
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    if syntax.is_compressed:
        ds.compress(syntax, pixels, generate_instance_uid=False)
        return
    ds.file_meta.TransferSyntaxUID = syntax
    order = ">u2" if syntax == ExplicitVRBigEndian else "<u2"
    ds.PixelData = pixels.astype(order).tobytes()
    ds["PixelData"].VR = "OW"


def write_series(datasets: list[FileDataset], folder: str | Path) -> list[Path]:
    """Write each dataset to `folder/<series number>/<instance number>.dcm`; the paths."""
    paths = []
    for ds in datasets:
        path = Path(folder) / f"{int(ds.SeriesNumber):03d}" / f"{int(ds.InstanceNumber):04d}.dcm"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(dicom_bytes(ds))
        paths.append(path)
    return paths
