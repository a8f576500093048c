"""The synthetic demo cohort: patients, clinical values and grades that mirror the seed paper.

Pure data generation (no database): seed_demo turns it into rows and images. Deterministic for a
seed, so re-running produces the same cohort.

Subtype patterns (paper, "Results"): DM severe, symmetric, proximal and upper-limb, oedema
(STIR) dominant; IMNM extensive proximal (gluteal, thigh, rotator cuff), oedema and fat; PM
proximal lower > upper, heterogeneous; IBM distal lower-leg flexors and ventral thigh, fat (T1)
dominant and asymmetric; ASYS mildest, distal lower leg and thigh, fat over oedema.

The seeded grades tell the paper's story (tests/analytics/test_demo_story.py): subtype totals
DM > IMNM > PM > IBM > ASYS; lower > upper extremity except in DM; Kruskal–Wallis significant in
most functional groups but in the lower limb (thigh and lower leg) only in the medial thigh; MMT-8
and CK correlate with the total score across the cohort but not within IBM or IMNM.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from .atlas_data import GROUPS

SUBTYPE_COUNTS = {"IBM": 9, "DM": 5, "PM": 6, "ASYS": 5, "IMNM": 9}
SITES = [
    ("UKD", "University Hospital Düsseldorf (synthetic)"),
    ("UKH", "University Hospital Halle (synthetic)"),
]

# Expected involvement (0–2) per functional group and subtype, before patient severity.
_LOW, _MID, _HIGH = 0.15, 0.8, 1.5
PATTERNS: dict[str, dict[str, float]] = {
    "DM": {
        "shoulder-girdle": 1.7,
        "rotator-cuff": 1.2,
        "upper-arm-flexors": 1.7,
        "upper-arm-extensors": 1.3,
        "lower-arm-flexors": 1.1,
        "lower-arm-extensors": 1.7,
        "chest-wall": 1.5,
        "extrinsic-back": 1.5,
        "intrinsic-back": 0.8,
        "gluteal": 1.0,
        "ventral-thigh": 0.9,
        "medial-thigh": 1.5,
        "dorsal-thigh": 0.5,
        "lower-leg-extensors": 0.6,
        "lower-leg-flexors": 0.6,
    },
    "IMNM": {
        "shoulder-girdle": 0.6,
        "rotator-cuff": 1.0,
        "upper-arm-flexors": 0.5,
        "upper-arm-extensors": 0.4,
        "lower-arm-flexors": 0.2,
        "lower-arm-extensors": 0.3,
        "chest-wall": 0.5,
        "extrinsic-back": 0.6,
        "intrinsic-back": 0.9,
        "gluteal": 1.5,
        "ventral-thigh": 1.0,
        "medial-thigh": 1.5,
        "dorsal-thigh": 1.0,
        "lower-leg-extensors": 0.6,
        "lower-leg-flexors": 0.8,
    },
    "PM": {
        "shoulder-girdle": 0.35,
        "rotator-cuff": 0.25,
        "upper-arm-flexors": 0.4,
        "upper-arm-extensors": 0.2,
        "lower-arm-flexors": 0.1,
        "lower-arm-extensors": 0.1,
        "chest-wall": 0.2,
        "extrinsic-back": 0.25,
        "intrinsic-back": 0.4,
        "gluteal": 0.8,
        "ventral-thigh": 0.8,
        "medial-thigh": 0.9,
        "dorsal-thigh": 0.6,
        "lower-leg-extensors": 0.5,
        "lower-leg-flexors": 0.8,
    },
    "IBM": {
        "shoulder-girdle": 0.05,
        "rotator-cuff": 0.05,
        "upper-arm-flexors": 0.1,
        "upper-arm-extensors": 0.05,
        "lower-arm-flexors": 0.1,
        "lower-arm-extensors": 0.05,
        "chest-wall": 0.05,
        "extrinsic-back": 0.1,
        "intrinsic-back": 0.6,
        "gluteal": 0.15,
        "ventral-thigh": 1.0,
        "medial-thigh": 0.2,
        "dorsal-thigh": 0.5,
        "lower-leg-extensors": 0.8,
        "lower-leg-flexors": 1.2,
    },
    "ASYS": {
        "shoulder-girdle": 0.0,
        "rotator-cuff": 0.0,
        "upper-arm-flexors": 0.02,
        "upper-arm-extensors": 0.0,
        "lower-arm-flexors": 0.0,
        "lower-arm-extensors": 0.0,
        "chest-wall": 0.0,
        "extrinsic-back": 0.02,
        "intrinsic-back": 0.1,
        "gluteal": 0.3,
        "ventral-thigh": 0.6,
        "medial-thigh": 0.1,
        "dorsal-thigh": 0.6,
        "lower-leg-extensors": 0.4,
        "lower-leg-flexors": 0.8,
    },
}
# Share of muscles whose two sides are graded independently in the symmetric subtypes.
SIDE_DISCORDANCE = 0.15
# Share of the involvement seen as oedema on STIR versus fat on T1.
OEDEMA_SHARE = {"DM": 0.9, "IMNM": 0.6, "PM": 0.5, "IBM": 0.15, "ASYS": 0.25}
# The thigh and lower leg are involved in every subtype, patchily: how much of a lower-limb group
# is affected varies more from patient to patient than between subtypes (paper: no difference
# between subtypes in the lower limb except the medial thigh, a ceiling effect).
PATCHY_REGIONS = {"thigh", "lower-leg"}
PATCHINESS = 0.6
# Clinical severity follows the MRI total loosely: across the cohort about as strongly as in the
# paper (R² 0.20 for MMT-8, 0.17 for CK, both p < 0.05), within IBM or IMNM not significantly.
# MMT-8 sits near the paper's median 139 (IQR 121–142).
MMT8_PER_POINT = 0.132
MMT8_NOISE = 15.0
CK_PER_POINT = 0.02
CK_NOISE = 0.45
# Median CK (U/L) per subtype: highest in IMNM, then PM (paper).
CK_MEDIAN = {"IMNM": 4200, "PM": 2100, "DM": 900, "ASYS": 600, "IBM": 380}
TREATMENT_NAIVE = {"IBM": (6, 8), "PM": (5, 6), "DM": (4, 5), "ASYS": (3, 5), "IMNM": (9, 9)}
ANTIBODIES = {
    "IBM": [["cN1A"], [], ["cN1A"], [], [], ["cN1A", "Ro52"], [], [], []],
    "DM": [["Mi-2"], ["TIF1-γ"], ["NXP2"], ["MDA5"], ["SAE"]],
    "PM": [[], ["Ro52"], [], ["PM-Scl"], [], ["Ku"]],
    "ASYS": [["Jo-1"], ["Jo-1", "Ro52"], ["PL-7"], ["PL-12"], []],
    "IMNM": [
        ["SRP"],
        ["HMGCR"],
        ["SRP"],
        ["HMGCR"],
        ["HMGCR"],
        ["SRP", "Ro52"],
        ["HMGCR"],
        ["SRP"],
        ["HMGCR"],
    ],
}
CRITERIA = {
    "IBM": ["eular-acr-2017"],
    "DM": ["eular-acr-2017"],
    "PM": ["eular-acr-2017"],
    "ASYS": ["enmc-asys-2024"],
    "IMNM": ["eular-acr-2017"],
}


@dataclass
class DemoPatient:
    pseudonym: str
    source_id: str
    subtype: str
    site_code: str
    sex: str
    age: int
    disease_duration_months: float
    ck: int
    mmt8: int | None
    treatment_naive: bool | None
    antibodies: list[str]
    seronegative: bool
    criteria: list[str]
    # (muscle slug, side) -> (STIR grade, T1 grade)
    grades: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)

    @property
    def total(self) -> float:
        """Total score under the paper's method (max of sequences, mean of sides)."""
        per_muscle: dict[str, list[int]] = {}
        for (muscle, _side), (stir, t1) in self.grades.items():
            per_muscle.setdefault(muscle, []).append(max(stir, t1))
        return sum(sum(v) / len(v) for v in per_muscle.values())


def _grade(expected: float, rng: random.Random) -> int:
    """Draw a 0–2 grade whose mean follows `expected` (clipped), with realistic spread."""
    # Spread grows with involvement, so barely affected subtypes stay mostly at 0.
    x = expected + rng.gauss(0, 0.12 + 0.25 * min(expected, 1.0))
    return 0 if x < 0.5 else (1 if x < 1.45 else 2)


def demo_patients(seed: int = 2026) -> list[DemoPatient]:
    rng = random.Random(seed)
    # The lower-limb patchiness draws from its own generator, so the patients' other values
    # (sex, age, disease duration) stay those of earlier versions of the demo.
    patchy = random.Random(seed + 1)
    patients: list[DemoPatient] = []
    number = 0
    for subtype, count in SUBTYPE_COUNTS.items():
        naive_yes, naive_known = TREATMENT_NAIVE[subtype]
        naive_flags = [True] * naive_yes + [False] * (naive_known - naive_yes)
        naive_flags += [None] * (count - naive_known)
        rng.shuffle(naive_flags)
        for i in range(count):
            number += 1
            severity = max(0.25, rng.gauss(1.0, 0.3))
            asymmetric = subtype == "IBM"
            weaker_side = rng.choice(["L", "R"])
            grades: dict[tuple[str, str], tuple[int, int]] = {}
            for region, group, _name, muscles in GROUPS:
                expected = PATTERNS[subtype][group] * severity
                if region in PATCHY_REGIONS:
                    expected *= patchy.lognormvariate(0, PATCHINESS)
                for slug, _muscle_name in muscles:
                    muscle_expected = expected * rng.uniform(0.7, 1.3)
                    # The inflammatory subtypes are bilateral and symmetric: both sides share
                    # one involvement, now and then graded apart; IBM's sides differ.
                    shared = _grade(muscle_expected, rng)
                    # Oedema versus fat is a property of the muscle's disease, not of a side.
                    shared_split = (rng.random(), rng.random())
                    for side in ("R", "L"):
                        if asymmetric:
                            factor = 1.45 if side == weaker_side else 0.45
                            involvement = _grade(muscle_expected * factor, rng)
                        elif rng.random() < SIDE_DISCORDANCE:
                            involvement = _grade(muscle_expected, rng)
                        else:
                            involvement = shared
                        oedema = OEDEMA_SHARE[subtype]
                        split = (rng.random(), rng.random()) if asymmetric else shared_split
                        stir = involvement if split[0] < oedema else max(0, involvement - 1)
                        t1 = involvement if split[1] > oedema else max(0, involvement - 1)
                        grades[(slug, side)] = (stir, t1)
            antibodies = ANTIBODIES[subtype][i % len(ANTIBODIES[subtype])]
            patient = DemoPatient(
                pseudonym=f"IIM-{number:04d}",
                source_id=f"DEMO-SRC-{seed}-{number:04d}",
                subtype=subtype,
                site_code=SITES[number % 2][0],
                sex="F" if rng.random() < 0.5 else "M",
                age=int(min(90, max(28, rng.gauss(74 if subtype == "IBM" else 69, 9)))),
                disease_duration_months=round(
                    0.0
                    if subtype == "DM" and rng.random() < 0.4
                    else min(60.0, math.exp(rng.gauss(math.log(6), 0.9))),
                    1,
                ),
                ck=0,
                mmt8=None,
                treatment_naive=naive_flags[i],
                antibodies=antibodies,
                seronegative=not antibodies,
                criteria=CRITERIA[subtype]
                + (
                    ["enmc-ibm-pathological" if i < 4 else "enmc-ibm-probable"]
                    if subtype == "IBM"
                    else []
                ),
                grades=grades,
            )
            # Clinical severity follows the MRI total, with noise (see MMT8_* and CK_*).
            total = patient.total
            weakness = MMT8_PER_POINT * total + abs(rng.gauss(0, MMT8_NOISE))
            patient.mmt8 = int(min(150, max(60, round(150 - weakness))))
            patient.ck = int(
                CK_MEDIAN[subtype] * math.exp(CK_PER_POINT * total + rng.gauss(-0.3, CK_NOISE))
            )
            patients.append(patient)
    # One missing MMT-8 (the paper reports n per variable where data were incomplete).
    patients[3].mmt8 = None
    return patients


# --- second opinions, re-reads and follow-ups (the analyses beyond the paper need them) -----

# Every third study is double read by a second expert, every seventh re-read by the first
# expert weeks later, and every fourth patient has a follow-up MRI about a year on.
SECOND_READ_EVERY = 3
REREAD_EVERY = 7
FOLLOW_UP_EVERY = 4


def reader_variant(
    grades: dict[tuple[str, str], tuple[int, int]], rng: random.Random, *, disagreement: float
) -> dict[tuple[str, str], tuple[int, int]]:
    """The same muscles graded by another reading: each grade moves one step up or down with
    probability `disagreement` (readers disagree by one grade, rarely by two)."""

    def vary(grade: int) -> int:
        if rng.random() >= disagreement:
            return grade
        if grade == 0:  # a clean muscle is rarely called involved: no systematic bias upward
            return 1 if rng.random() < 0.3 else 0
        return grade - 1 if grade == 2 or rng.random() < 0.5 else grade + 1

    return {cell: (vary(stir), vary(t1)) for cell, (stir, t1) in grades.items()}


def follow_up_grades(
    patient: DemoPatient, rng: random.Random
) -> dict[tuple[str, str], tuple[int, int]]:
    """A year on: treated inflammatory myositis loses oedema (STIR falls) and keeps some fat;
    IBM, which does not respond to treatment, gains fat (T1 rises)."""
    out = {}
    for cell, (stir, t1) in patient.grades.items():
        if patient.subtype == "IBM":
            t1 = min(2, t1 + 1) if rng.random() < 0.35 else t1
        else:
            stir = max(0, stir - 1) if rng.random() < 0.55 else stir
            t1 = min(2, t1 + 1) if stir and rng.random() < 0.1 else t1
        out[cell] = (stir, t1)
    return out
