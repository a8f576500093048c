"""Synthetic whole-body muscle MR studies for the demo cohort and the tests.

A study is axial STIR and T1 TSE images through six levels from shoulders to calves
(shoulder, chest with upper arms, abdomen with forearms, pelvis, thigh, lower leg), each level
a band of table positions z (mm, + towards the head; LEVELS), the bands following one another
from BODY_TOP to BODY_BOTTOM: a slice at z shows the level whose band holds z, in every
series. Each muscle of the default atlas is an ellipse in its anatomical place (patient's
right on the image's left, anterior at the top, as radiologists view axial images), inside a
ring of subcutaneous fat, around bone (dark cortex, fatty marrow). STIR suppresses fat and
shows oedema: a muscle's STIR grade (0-2) sets how much of it is bright. T1 shows fat bright:
a muscle's T1 grade sets how much of it is replaced by bright fatty streaks (1: <= 50 %,
2: > 50 % of its area, the protocol's scale). Which part is affected follows a texture that
is smooth along the body, so neighbouring slices and overlapping stations agree.

Two layouts: by default one series per sequence whose few slices cut every level (tests);
with `stations`, a whole-body study as scanners send it (DESIGN.md, "Whole-body MRI as
scanners send it"): several overlapping stations per sequence, each its own series, and
optionally each series as one Enhanced MR object. STIR and T1 have different frames of
reference and slightly different slice positions, so the viewer's position-based sync is
exercised; identifying values (names, ids, dates, institution, a private tag) are generated
so that de-identification is exercised too. The layout lists muscles by atlas slug; `cohorts`
does not import `scoring`, a test checks that both name the same muscles, and
muscle_levels() tells the scoring side at which z each muscle is seen best.
"""

from __future__ import annotations

import copy
import datetime as dt
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.uid import (
    UID,
    EnhancedMRImageStorage,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    MRImageStorage,
)
from pydicom.uid import generate_uid as _generate_uid
from threadpoolctl import threadpool_limits

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
    "shoulder": ((340.0, 470.0), [
        _t("body", 0, 5, 125, 95, 0, False), _t("body", -165, 0, 58, 58),
        _t("lung", -55, -5, 42, 55), _m("deltoid", -178, 0, 42, 48),
        _m("supraspinatus", -72, 30, 20, 8, 25), _m("infraspinatus", -112, 70, 38, 10, 15),
        _m("subscapularis", -110, 42, 36, 9, 15), _m("teres-minor", -150, 62, 14, 10, 30),
        _m("teres-major", -140, 38, 13, 10), _m("coracobrachialis", -140, -30, 9, 11),
        _m("trapezius", -50, 82, 45, 10, -15), _m("levator-scapulae", -45, 52, 12, 10),
        _m("rhomboids", -28, 70, 18, 7, -10), _t("bone", -110, 56, 40, 4, 15),
        _t("bone", -172, 0, 21, 21), _t("bone", 0, 58, 14, 14, 0, False),
    ]),
    "chest": ((160.0, 340.0), [
        _t("body", 0, 0, 135, 100, 0, False), _t("body", -185, 10, 45, 45),
        _t("lung", -58, 0, 50, 62), _t("viscera", 10, -5, 35, 40, 0, False),
        _m("pectoralis-major", -65, -82, 52, 11, 8), _m("pectoralis-minor", -75, -64, 28, 6, 10),
        _m("serratus-anterior", -118, 0, 9, 38), _m("latissimus-dorsi", -105, 64, 30, 11, -35),
        _m("erector-spinae-thoracic", -25, 80, 16, 11), _m("multifidus", -9, 72, 7, 9),
        _m("biceps-brachii", -185, -20, 17, 12), _m("brachialis", -183, -2, 17, 8),
        _m("triceps-brachii", -185, 35, 26, 14), _t("bone", -185, 12, 10, 10),
        _t("bone", 0, 62, 15, 15, 0, False),
    ]),
    "abdomen": ((-10.0, 160.0), [
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
    "pelvis": ((-200.0, -10.0), [
        _t("body", 0, 5, 185, 110, 0, False), _t("fluid", 0, -35, 35, 25, 0, False),
        _t("viscera", 0, 30, 15, 12, 0, False), _m("gluteus-maximus", -95, 78, 58, 22, -15),
        _m("gluteus-medius", -140, 40, 24, 20, 30), _m("gluteus-minimus", -125, 15, 15, 11, 30),
        _m("tensor-fasciae-latae", -155, -40, 12, 15), _m("iliopsoas", -75, -45, 20, 16),
        _t("bone", -95, -5, 22, 22), _t("bone", 0, 60, 30, 12, 0, False),
    ]),
    "thigh": ((-570.0, -200.0), [
        _t("body", -95, 5, 80, 82), _m("vastus-intermedius", -100, -2, 24, 22),
        _m("rectus-femoris", -95, -55, 16, 12), _m("vastus-lateralis", -138, -5, 14, 28),
        _m("vastus-medialis", -65, -30, 15, 18), _m("sartorius", -42, -18, 9, 8),
        _m("gracilis", -30, 22, 7, 10), _m("adductor-longus", -55, 0, 12, 10),
        _m("adductor-brevis", -62, 15, 9, 7), _m("adductor-magnus", -70, 36, 20, 14),
        _m("semimembranosus", -74, 58, 13, 11), _m("semitendinosus", -95, 70, 12, 9),
        _m("biceps-femoris-long", -120, 58, 14, 11), _m("biceps-femoris-short", -130, 34, 10, 9),
        _t("bone", -100, 5, 14, 14),
    ]),
    "lower-leg": ((-960.0, -570.0), [
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
# The levels' z bands follow one another without gap: the body runs from BODY_TOP (base of
# the neck) to BODY_BOTTOM (ankles); whole-body stations cover it, overlapping.
BODY_TOP = max(high for (_low, high), _rows in LEVELS.values())
BODY_BOTTOM = min(low for (low, _high), _rows in LEVELS.values())
STATION_OVERLAP_MM = 40.0

Muscle = tuple[str, str]  # (slug, side "R"/"L")


def muscle_slugs() -> set[str]:
    """Every muscle slug the layout draws."""
    return {row[1] for _z, rows in LEVELS.values() for row in rows if row[0] == "muscle"}


def level_at(z: float) -> str:
    """The level drawn at table position z (mm, + towards the head); beyond the body's ends,
    the nearest level. The same z gives the same level in every series and station."""
    for name, ((low, _high), _rows) in LEVELS.items():  # head to feet
        if z > low:
            return name
    return name


def level_centre(level: str) -> float:
    """The middle of a level's z band (mm)."""
    low, high = LEVELS[level][0]
    return (low + high) / 2


def muscle_levels() -> dict[str, float]:
    """For each muscle slug, the z (mm) where it is drawn best: the centre of the level where
    it is largest (a muscle drawn at two levels, multifidus, takes the larger drawing)."""
    best: dict[str, tuple[float, str]] = {}
    for level, (_z, rows) in LEVELS.items():
        grow = MUSCLE_SCALE.get(level, 1.0)
        for kind, slug, _x, _y, rx, ry, _a, _pair in rows:
            area = rx * ry * grow**2
            if kind == "muscle" and area > best.get(slug, (0.0, ""))[0]:
                best[slug] = (area, level)
    return {slug: level_centre(level) for slug, (_area, level) in best.items()}


def station_positions(
    stations: int, slices: int, *, overlap_mm: float = STATION_OVERLAP_MM
) -> list[list[float]]:
    """Slice positions (z, mm, head to feet) of `stations` stations of `slices` slices each:
    equal stations covering BODY_TOP to BODY_BOTTOM, neighbours overlapping by overlap_mm
    (each slice stands for spacing mm of the station's length)."""
    if stations < 1 or slices < 1:
        raise ValueError("stations and slices per station must be at least 1")
    span = BODY_TOP - BODY_BOTTOM
    length = (span + (stations - 1) * overlap_mm) / stations
    spacing = length / slices
    return [
        [BODY_TOP - k * (length - overlap_mm) - spacing * (i + 0.5) for i in range(slices)]
        for k in range(stations)
    ]


def level_of_slice(index: int, slices: int) -> str:
    """The level slice `index` of `slices` cuts through in the single-series layout (head to
    feet, every level at least once, by LEVEL_WEIGHTS)."""
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


def muscle_mask_at(slug: str, side: str, *, z: float, size: int) -> np.ndarray | None:
    """Pixels of a muscle on a slice at table position z (None when the slice misses it)."""
    labels, muscles = _label_map(level_at(z), size)
    if (slug, side) not in muscles:
        return None
    return labels == MUSCLE_BASE + muscles.index((slug, side))


def muscle_mask(slug: str, side: str, *, index: int, slices: int, size: int) -> np.ndarray | None:
    """Pixels of a muscle on slice `index` of the single-series layout (None when missed)."""
    labels, muscles = _label_map(level_of_slice(index, slices), size)
    if (slug, side) not in muscles:
        return None
    return labels == MUSCLE_BASE + muscles.index((slug, side))


class _Texture:
    """A smooth random pattern in about [-1, 1] over the body, the same at the same z in every
    series of a study (overlapping stations show the same patches): a sum of plane waves,
    15-45 mm across in the slice and 80-250 mm along the body, as oedema and fatty streaks
    run along a muscle. Each wave is separable, so a slice is one small matrix product:
    cos(kx x + ky y + kz z + p) = Re(e^{i ky y} e^{i (kz z + p)} e^{i kx x})."""

    def __init__(self, seed: int, kind: int, size: int, waves: int) -> None:
        rng = np.random.default_rng([seed, 13, kind, waves])
        coords = (np.arange(size) - size / 2) * (FOV_MM / size)
        theta = rng.uniform(0, math.pi, waves)
        k = 2 * math.pi / rng.uniform(15, 45, waves)
        self.kz = 2 * math.pi / rng.uniform(80, 250, waves) * rng.choice([-1, 1], waves)
        self.phase = rng.uniform(0, 2 * math.pi, waves)
        self.ey = np.exp(1j * np.outer(coords, k * np.sin(theta))) / math.sqrt(waves / 2)
        ex = np.exp(1j * np.outer(k * np.cos(theta), coords))
        self.ex = np.vstack([ex.real, ex.imag]).astype(np.float32)

    def at(self, z: float) -> np.ndarray:
        rows = self.ey * np.exp(1j * (self.kz * z + self.phase))[None, :]
        rows = np.hstack([rows.real, -rows.imag]).astype(np.float32)
        return rows @ self.ex  # under synthetic_study's one BLAS thread: see there


@lru_cache(maxsize=8)
def _coil_profile(size: int) -> np.ndarray:
    radius = np.hypot(*np.meshgrid(np.linspace(-1, 1, size), np.linspace(-1, 1, size)))
    return (1.0 - 0.15 * radius**2).astype(np.float32)  # coil sensitivity falls off


@lru_cache(maxsize=64)
def _muscle_boxes(level: str, size: int) -> tuple[tuple[slice, slice, np.ndarray], ...]:
    """Each muscle's bounding box on the level's label map and its mask within the box (the
    grades are drawn inside the box only: a slice has up to 60 muscles). On a coarse grid
    a small muscle may have no pixel left: its box is empty."""
    labels, muscles = _label_map(level, size)
    boxes = []
    for number in range(len(muscles)):
        rows, columns = np.nonzero(labels == MUSCLE_BASE + number)
        if not rows.size:
            rows = columns = np.array([0, -1])
        box = (slice(rows.min(), rows.max() + 1), slice(columns.min(), columns.max() + 1))
        local = labels[box] == MUSCLE_BASE + number
        local.setflags(write=False)
        boxes.append((*box, local))
    return tuple(boxes)


@lru_cache(maxsize=64)
def _tissue_signal(level: str, size: int, sequence: str) -> np.ndarray:
    """The level's signal before grades, blur and noise (cached; copied before drawing)."""
    labels, _muscles = _label_map(level, size)
    tissue = np.where(labels >= MUSCLE_BASE, 7, np.minimum(labels, 6))
    signal = BASE_SIGNAL[sequence][tissue]
    signal.setflags(write=False)
    return signal


def _render(
    level: str,
    size: int,
    grades: dict[Muscle, tuple[int, int]],
    sequence: str,
    rng: np.random.Generator,
    pattern: np.ndarray,
) -> np.ndarray:
    """One slice's signal: tissue signal, grades inside muscles (where `pattern`, the study's
    texture at this z, is highest), blur, bias field, Rician noise."""
    _labels, muscles = _label_map(level, size)
    image = _tissue_signal(level, size, sequence).copy()
    boxes = _muscle_boxes(level, size)
    for muscle, (rows, columns, mask) in zip(muscles, boxes, strict=True):
        stir_grade, t1_grade = grades.get(muscle, (0, 0))
        grade = stir_grade if sequence == "STIR" else t1_grade
        if not grade or not mask.size:
            continue
        region, texture = image[rows, columns], pattern[rows, columns]  # views into the slice
        share = OEDEMA_FRACTION[grade] if sequence == "STIR" else FAT_FRACTION[grade]
        values = texture[mask]
        k = int((1.0 - share) * (values.size - 1))
        affected = mask & (texture >= np.partition(values, k)[k])  # the `share` most textured
        if sequence == "STIR":
            region[mask] += 60.0 * grade  # diffuse rise around the patches
            region[affected] = OEDEMA_SIGNAL[grade]
        else:
            region[affected] = 0.85 * BASE_SIGNAL["T1"][FAT] + 0.15 * BASE_SIGNAL["T1"][7]
    image = (
        image + np.roll(image, 1, 0) + np.roll(image, 1, 1) + np.roll(image, (1, 1), (0, 1))
    ) / 4
    image *= _coil_profile(size)
    sigma = np.float32(18.0 if sequence == "STIR" else 25.0)
    bank = _noise_bank(size)  # a window at a random place of it: drawing costs more than all else
    y1, x1, y2, x2 = rng.integers(0, size, 4)
    real = bank[y1 : y1 + size, x1 : x1 + size] * sigma
    imaginary = bank[y2 : y2 + size, x2 : x2 + size] * sigma
    noisy = np.hypot(image + real, imaginary)
    return np.clip(noisy, 0, 4095).astype(np.uint16)


@lru_cache(maxsize=8)
def _noise_bank(size: int) -> np.ndarray:
    """Standard normal noise, twice the image size each way."""
    bank = np.random.default_rng([size, 17]).standard_normal((2 * size, 2 * size), np.float32)
    bank.setflags(write=False)
    return bank


SURNAMES = ("Keller", "Novak", "Jansen", "Moreau", "Rossi", "Larsen", "Weber", "Costa", "Berg")
GIVEN = ("Anna", "Jonas", "Marta", "Elias", "Ines", "Paul", "Sofia", "Lukas", "Clara")
INSTITUTIONS = ("St. Example University Hospital", "Hospital Synthetica Nord")
SERIES = {
    # sequence: description, scanning sequence, variant, TR, TE, TI, flip, echo train
    "STIR": ("STIR_TRA_WB", ["IR"], ["SK", "SP", "MP"], 5000.0, 70.0, 150.0, 150.0, 15),
    "T1": ("T1_TSE_TRA_WB", ["SE"], ["SK", "SP"], 550.0, 12.0, None, 150.0, 3),
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
    stations: int | None = None,
    overlap_mm: float = STATION_OVERLAP_MM,
    enhanced: bool = False,
) -> list[FileDataset]:
    """The STIR and T1 series of one synthetic patient.

    Without `stations`: one series per sequence of `slices` axial images spread over the six
    levels (every level cut at least once). With `stations=N`: a whole-body study as scanners
    send it, N station series per sequence of `slices` images each, evenly spaced from
    BODY_TOP to BODY_BOTTOM, neighbouring stations overlapping by `overlap_mm`; stations are
    acquired in turn (STIR then T1 at each table position), so series numbers alternate.
    With `enhanced`, each series is one Enhanced MR object (multi-frame, functional groups)
    holding the same frames, positions and pixels as the single-frame images.

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
    start = int(header.StudyTime[:2]) * 60 + int(header.StudyTime[2:4])
    syntax = UID(transfer_syntax)
    if stations is None:
        plan = [(None, [_slice_z(i, slices) for i in range(slices)], 0.0)]
    else:
        positions = station_positions(stations, slices, overlap_mm=overlap_mm)
        spacing = positions[0][0] - positions[0][1] if slices > 1 else SLICE_THICKNESS_MM
        plan = [(k, zs, spacing) for k, zs in enumerate(positions)]
    # One BLAS thread: the texture's matrix products are tiny, and BLAS threads fighting over
    # a busy machine's CPUs made them twenty times slower.
    with threadpool_limits(1, user_api="blas"):
        return _series(
            header,
            plan,
            grades,
            patient_id=patient_id,
            seed=seed,
            size=size,
            syntax=syntax,
            start=start,
            enhanced=enhanced,
        )


def _series(
    header: Dataset,
    plan: list[tuple[int | None, list[float], float]],
    grades: dict[Muscle, tuple[int, int]],
    *,
    patient_id: str,
    seed: int,
    size: int,
    syntax: UID,
    start: int,
    enhanced: bool,
) -> list[FileDataset]:
    """The images (or Enhanced MR objects) of every series of the plan, in acquisition order."""
    patches, stripes = _Texture(seed, 0, size, 8), _Texture(seed, 1, size, 3)
    datasets: list[FileDataset] = []
    for station, zs, spacing in plan:
        for order, sequence in enumerate(("STIR", "T1")):
            if station is None:
                minutes, number, parts = (4, 11)[order], 3 + order, (sequence,)
            else:
                minutes, number = 4 + 8 * station + 4 * order, 3 + 2 * station + order
                parts = (sequence, station)
            series = _SeriesPlan(
                sequence=sequence,
                station=station,
                number=number,
                acquired=f"{(start + minutes) // 60 % 24:02d}{(start + minutes) % 60:02d}00",
                series_uid=_uid(patient_id, seed, *parts, "series"),
                frame_uid=_uid(patient_id, seed, sequence, "frame"),  # differs between sequences
                spacing=spacing,
            )
            images, frames = [], []
            for index, z_station in enumerate(zs):
                z = z_station + (T1_Z_SHIFT_MM if sequence == "T1" else 0.0)
                pattern = patches.at(z)
                if sequence == "T1":
                    pattern = stripes.at(z) * np.float32(0.6) + pattern * np.float32(0.4)
                noise = [seed, 11, order, 0 if station is None else station + 1, index]
                rng = np.random.default_rng(noise)
                pixels = _render(level_at(z), size, grades, sequence, rng, pattern)
                ds = _image(header, series, index, z, pixels)
                ds.SOPInstanceUID = _uid(patient_id, seed, *parts, index)
                images.append(ds)
                frames.append(pixels)
            if enhanced:
                ds = _enhanced(images, series)
                ds.SOPInstanceUID = _uid(patient_id, seed, *parts, "enhanced")
                _encode(ds, np.stack(frames), syntax)
                datasets.append(ds)
                continue
            for ds, pixels in zip(images, frames, strict=True):
                _encode(ds, pixels, syntax)
                datasets.append(ds)
    return datasets


@dataclass(frozen=True)
class _SeriesPlan:
    sequence: str
    station: int | None  # None: the single-series layout
    number: int
    acquired: str  # HHMMSS
    series_uid: str
    frame_uid: str
    spacing: float  # between slice centres, mm (0: irregular, the single-series layout)

    @property
    def description(self) -> str:
        base = SERIES[self.sequence][0]
        return base if self.station is None else f"{base}_S{self.station + 1}"

    @property
    def thickness(self) -> float:
        return min(SLICE_THICKNESS_MM, self.spacing) if self.spacing else SLICE_THICKNESS_MM


def _image(
    header: Dataset, series: _SeriesPlan, index: int, z: float, pixels: np.ndarray
) -> FileDataset:
    sequence = series.sequence
    _description, scanning, variant, tr, te, ti, flip, train = SERIES[sequence]
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = MRImageStorage
    ds = FileDataset(f"{sequence}_{index:04d}.dcm", {}, file_meta=meta, preamble=b"\0" * 128)
    ds.update(copy.deepcopy(header))  # no element shared between images: callers edit them
    ds.SOPClassUID = MRImageStorage
    ds.ImageType = ["ORIGINAL", "PRIMARY", "M", "NORM", "DIS2D"]
    ds.Modality = "MR"
    ds.SeriesInstanceUID = series.series_uid
    ds.SeriesNumber = series.number
    ds.SeriesDescription = ds.ProtocolName = series.description
    ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = header.StudyDate
    ds.SeriesTime = ds.AcquisitionTime = ds.ContentTime = series.acquired
    ds.FrameOfReferenceUID = series.frame_uid
    ds.PositionReferenceIndicator = ""
    ds.ScanningSequence, ds.SequenceVariant = scanning, variant
    ds.ScanOptions = "IR" if ti else ""
    ds.MRAcquisitionType = "2D"
    ds.SequenceName = "*tir2d1_15" if ti else "*tse2d1_3"
    ds.RepetitionTime, ds.EchoTime = f"{tr:.1f}", f"{te:.1f}"
    if ti:
        ds.InversionTime = f"{ti:.1f}"
    ds.EchoTrainLength, ds.FlipAngle, ds.NumberOfAverages = train, f"{flip:.0f}", "1"
    ds.SliceThickness = f"{series.thickness:.4g}"
    if series.spacing:
        ds.SpacingBetweenSlices = f"{series.spacing:.4g}"
    size = pixels.shape[0]
    ds.PixelBandwidth = "200" if ti else "180"
    ds.ReceiveCoilName, ds.TransmitCoilName = "Body", "Body"
    ds.InPlanePhaseEncodingDirection = "ROW"
    ds.AcquisitionMatrix = [0, size, size, 0]
    ds.PercentSampling, ds.PercentPhaseFieldOfView = "100", "100"
    ds.InstanceNumber = index + 1
    ds.AcquisitionNumber = 1
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


def _item(**values: object) -> Dataset:
    item = Dataset()
    for keyword, value in values.items():
        setattr(item, keyword, value)
    return item


# Attributes of a single-frame image that an Enhanced MR image holds in its functional groups
# (or does not have at all).
_MOVED_TO_FUNCTIONAL_GROUPS = (
    "ImageType", "ScanningSequence", "SequenceVariant", "ScanOptions", "SequenceName",
    "RepetitionTime", "EchoTime", "InversionTime", "EchoTrainLength", "FlipAngle",
    "NumberOfAverages", "SliceThickness", "SpacingBetweenSlices", "PixelBandwidth",
    "ReceiveCoilName", "TransmitCoilName", "InPlanePhaseEncodingDirection", "AcquisitionMatrix",
    "PercentSampling", "PercentPhaseFieldOfView", "ImagePositionPatient",
    "ImageOrientationPatient", "SliceLocation", "PixelSpacing", "WindowCenter", "WindowWidth",
    "ImagingFrequency", "ImagedNucleus", "AcquisitionDate", "AcquisitionTime",
)  # fmt: skip


def _enhanced(images: list[FileDataset], series: _SeriesPlan) -> FileDataset:
    """One Enhanced MR Image (PS3.3 A.36.2) holding the frames of a single-frame series:
    geometry, timing, contrast and window in the shared functional groups, each frame's
    position and place in the stack in its per-frame group."""
    first, sequence = images[0], series.sequence
    _description, _scanning, _variant, tr, te, ti, flip, train = SERIES[sequence]
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = EnhancedMRImageStorage
    ds = FileDataset(f"{sequence}_enhanced.dcm", {}, file_meta=meta, preamble=b"\0" * 128)
    for element in first:
        if element.keyword not in _MOVED_TO_FUNCTIONAL_GROUPS:
            ds.add(copy.deepcopy(element))
    ds.SOPClassUID = EnhancedMRImageStorage
    contrast = "STIR" if sequence == "STIR" else "T1"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "WHOLE_BODY", "NONE"]
    ds.PixelPresentation, ds.VolumetricProperties = "MONOCHROME", "VOLUME"
    ds.VolumeBasedCalculationTechnique, ds.ComplexImageComponent = "NONE", "MAGNITUDE"
    ds.AcquisitionContrast = contrast
    ds.AcquisitionDateTime = f"{first.StudyDate}{series.acquired}"
    ds.InstanceNumber = 1
    ds.NumberOfFrames = len(images)
    ds.ContentQualification = "PRODUCT"
    ds.ResonantNucleus = "1H"
    ds.KSpaceFiltering = "NONE"
    ds.ApplicableSafetyStandardAgency = "IEC"
    ds.BurnedInAnnotation = "NO"
    ds.LossyImageCompression = "00"
    ds.PresentationLUTShape = "IDENTITY"
    ds.AcquisitionContextSequence = []
    # MR Pulse Sequence module
    ds.PulseSequenceName = "tir2d1_15" if ti else "tse2d1_3"
    ds.MRAcquisitionType = "2D"
    ds.EchoPulseSequence = "SPIN"
    ds.MultipleSpinEcho = "NO"
    ds.MultiPlanarExcitation = "YES"
    ds.PhaseContrast = ds.TimeOfFlightContrast = "NO"
    ds.SteadyStatePulseSequence = "NONE"
    ds.EchoPlanarPulseSequence = ds.SaturationRecovery = "NO"
    ds.SpectrallySelectedSuppression = "NONE"
    ds.OversamplingPhase = "NONE"
    ds.GeometryOfKSpaceTraversal = "RECTILINEAR"
    ds.RectilinearPhaseEncodeReordering = "LINEAR"
    ds.SegmentedKSpaceTraversal = "PARTIAL"
    ds.NumberOfKSpaceTrajectories = 1
    ds.AcquisitionDuration = 0.001 * tr * int(first.Rows) / train  # seconds, slices interleaved
    # Multi-frame Dimension module: frames are indexed by stack and position in the stack
    organization = _uid(series.series_uid, "dimensions")
    ds.DimensionOrganizationSequence = [_item(DimensionOrganizationUID=organization)]
    ds.DimensionOrganizationType = "3D"
    ds.DimensionIndexSequence = [
        _item(
            DimensionOrganizationUID=organization,
            DimensionIndexPointer=tag,
            FunctionalGroupPointer=0x00209111,  # Frame Content Sequence
            DimensionDescriptionLabel=label,
        )
        for tag, label in ((0x00209056, "Stack ID"), (0x00209057, "In-Stack Position Number"))
    ]
    size = int(first.Rows)
    shared = Dataset()
    shared.PixelMeasuresSequence = [
        _item(
            PixelSpacing=first.PixelSpacing,
            SliceThickness=first.SliceThickness,
            **({"SpacingBetweenSlices": first.SpacingBetweenSlices} if series.spacing else {}),
        )
    ]
    shared.PlaneOrientationSequence = [_item(ImageOrientationPatient=first.ImageOrientationPatient)]
    shared.FrameAnatomySequence = [
        _item(
            AnatomicRegionSequence=[
                _item(CodeValue="38266002", CodingSchemeDesignator="SCT", CodeMeaning="Entire body")
            ],
            FrameLaterality="B",
        )
    ]
    shared.PixelValueTransformationSequence = [
        _item(RescaleIntercept="0", RescaleSlope="1", RescaleType="US")
    ]
    shared.FrameVOILUTSequence = [
        _item(WindowCenter=first.WindowCenter, WindowWidth=first.WindowWidth)
    ]
    shared.MRImageFrameTypeSequence = [
        _item(
            FrameType=["ORIGINAL", "PRIMARY", "WHOLE_BODY", "NONE"],
            PixelPresentation="MONOCHROME",
            VolumetricProperties="VOLUME",
            VolumeBasedCalculationTechnique="NONE",
            ComplexImageComponent="MAGNITUDE",
            AcquisitionContrast=contrast,
        )
    ]
    shared.MRTimingAndRelatedParametersSequence = [
        _item(
            RepetitionTime=tr,
            FlipAngle=flip,
            EchoTrainLength=train,
            RFEchoTrainLength=train,
            GradientEchoTrainLength=0,
            SpecificAbsorptionRateSequence=[
                _item(
                    SpecificAbsorptionRateDefinition="IEC_WHOLE_BODY",
                    SpecificAbsorptionRateValue=0.8,
                )
            ],
            OperatingModeSequence=[
                _item(OperatingModeType=kind, OperatingMode="IEC_NORMAL")
                for kind in ("STATIC FIELD", "RF", "GRADIENT")
            ],
            GradientOutputType="DB_DT",
            GradientOutput=20.0,
        )
    ]
    shared.MRFOVGeometrySequence = [
        _item(
            InPlanePhaseEncodingDirection="ROW",
            MRAcquisitionFrequencyEncodingSteps=size,
            MRAcquisitionPhaseEncodingStepsInPlane=size,
            PercentSampling=100.0,
            PercentPhaseFieldOfView=100.0,
        )
    ]
    shared.MREchoSequence = [_item(EffectiveEchoTime=te)]
    modifier = _item(
        InversionRecovery="YES" if ti else "NO",
        FlowCompensation="NONE",
        T2Preparation="NO",
        SpectrallySelectedExcitation="NONE",
        SpatialPresaturation="NONE",
        PartialFourier="NO",
        ParallelAcquisition="NO",
    )
    if ti:
        modifier.InversionTimes = [ti]
    shared.MRModifierSequence = [modifier]
    shared.MRImagingModifierSequence = [
        _item(
            PixelBandwidth=float(first.PixelBandwidth),
            MagnetizationTransfer="NONE",
            BloodSignalNulling="NO",
            Tagging="NONE",
            TransmitterFrequency=float(first.ImagingFrequency),
        )
    ]
    shared.MRReceiveCoilSequence = [
        _item(
            ReceiveCoilName="Body",
            ReceiveCoilManufacturerName="",
            ReceiveCoilType="BODY",
            QuadratureReceiveCoil="YES",
        )
    ]
    shared.MRTransmitCoilSequence = [
        _item(TransmitCoilName="Body", TransmitCoilManufacturerName="", TransmitCoilType="BODY")
    ]
    shared.MRAveragesSequence = [_item(NumberOfAverages=1.0)]
    ds.SharedFunctionalGroupsSequence = [shared]
    frame_time = f"{first.StudyDate}{series.acquired}"
    ds.PerFrameFunctionalGroupsSequence = [
        _item(
            FrameContentSequence=[
                _item(
                    FrameAcquisitionNumber=index + 1,
                    FrameReferenceDateTime=frame_time,
                    FrameAcquisitionDateTime=frame_time,
                    FrameAcquisitionDuration=tr,
                    StackID="1",
                    InStackPositionNumber=index + 1,
                    DimensionIndexValues=[1, index + 1],
                )
            ],
            PlanePositionSequence=[_item(ImagePositionPatient=image.ImagePositionPatient)],
        )
        for index, image in enumerate(images)
    ]
    return ds


def _encode(ds: FileDataset, pixels: np.ndarray, syntax: UID) -> None:
    """Pixel data in the requested transfer syntax (compressed ones by pydicom's encoders);
    `pixels` is one frame, or frames stacked along the first axis."""
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


def study_files(prefix: str, **study: object) -> list[tuple[str, bytes]]:
    """synthetic_study(**study) as (name, Part-10 bytes) pairs, as dicom_import takes files;
    free of Django, so a worker process can render a study while another is imported."""
    datasets = synthetic_study(**study)  # type: ignore[arg-type]
    return [(f"{prefix}-{i:03d}.dcm", dicom_bytes(ds)) for i, ds in enumerate(datasets)]
