"""The ordinal grading scales a protocol may use, per sequence (DESIGN.md, scoring).

A grade is stored as its number ("0".."5") or "NA" on the scale of its protocol and sequence;
the labels and one-line definitions here are what the grid, the `?` list, the codebooks and
the SAV value labels show. Scores (analytics/stats) need only a scale's maximum.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

NOT_ASSESSABLE = "NA"
NA_LABEL = "Not assessable"
NA_DEFINITION = "Outside the field of view, or an artefact hides the muscle."
# The widest scale's grades: the database accepts these, a protocol's scale narrows them.
ALL_VALUES = ("0", "1", "2", "3", "4", "5")


@dataclass(frozen=True)
class ScaleGrade:
    value: int
    label: str
    definition: str


@dataclass(frozen=True)
class GradeScale:
    key: str
    name: str
    reference: str
    grades: tuple[ScaleGrade, ...]

    @property
    def max(self) -> int:
        return self.grades[-1].value

    @property
    def values(self) -> tuple[str, ...]:
        """The stored grade values of this scale, NA excluded."""
        return tuple(str(grade.value) for grade in self.grades)

    @property
    def span(self) -> str:
        return f"0–{self.max}"

    def labels(self) -> dict[str, str]:
        """{value: "label – definition"}, NA included (codebooks, value labels)."""
        labels = {str(g.value): f"{g.label} – {g.definition}" for g in self.grades}
        return {**labels, NOT_ASSESSABLE: f"{NA_LABEL} – {NA_DEFINITION}"}

    def as_json(self) -> dict[str, Any]:
        """The scale as the read page's grid takes it (frontend/README.md)."""
        return {
            "key": self.key,
            "name": self.name,
            "max": self.max,
            "grades": [
                {"value": str(g.value), "label": g.label, "definition": g.definition}
                for g in self.grades
            ],
        }


def _scale(key: str, name: str, reference: str, *grades: tuple[str, str]) -> GradeScale:
    return GradeScale(
        key, name, reference, tuple(ScaleGrade(i, *grade) for i, grade in enumerate(grades))
    )


IIM_0_2 = _scale(
    "iim-0-2",
    "IIM 0–2",
    "The seed paper's scale: extent of oedema (STIR) or fat replacement (T1).",
    ("No involvement", "The muscle looks normal on this sequence."),
    ("≤ 50 % of the muscle", "Involvement of ≤ 50 % of the muscle's cross-sectional area."),
    ("> 50 % of the muscle", "Involvement of > 50 % of the muscle's cross-sectional area."),
)
MERCURI_0_4 = _scale(
    "mercuri-0-4",
    "Mercuri 0–4",
    "Fat replacement on T1 (Mercuri et al. 2002).",
    ("Normal", "Normal appearance."),
    ("Early moth-eaten", "Scattered small areas of increased T1 signal."),
    ("Late moth-eaten", "Numerous discrete areas, beginning confluence, < 30 % of the muscle."),
    ("Washed-out", "Confluent areas of increased signal, 30–60 % of the muscle."),
    ("End stage", "Muscle replaced by fat and connective tissue (> 60 %)."),
)
MERCURI_MODIFIED_0_5 = _scale(
    "mercuri-modified-0-5",
    "Modified Mercuri 0–5",
    "Fat replacement on T1, the 6-point scale of Fischer et al. 2008 (0, 1, 2a, 2b, 3, 4 "
    "stored as 0–5).",
    ("Normal", "Normal appearance."),
    ("Mild", "Traces of increased T1 signal."),
    ("Moderate (2a)", "Increased signal, beginning confluence, < 50 % of the muscle."),
    ("Moderate (2b)", "Increased signal, beginning confluence, > 50 % of the muscle."),
    ("Severe (3)", "Washed-out appearance: confluent increased signal, fuzzy borders."),
    ("End stage (4)", "Muscle replaced by fat and connective tissue; only a fascial rim left."),
)
OEDEMA_0_3 = _scale(
    "oedema-0-3",
    "Oedema 0–3",
    "Muscle oedema on STIR, semi-quantitative (as in Morrow et al. 2016).",
    ("None", "No STIR hyperintensity."),
    ("Mild", "Faint or patchy hyperintensity."),
    ("Moderate", "Clear hyperintensity in part of the muscle."),
    ("Severe", "Marked hyperintensity throughout most of the muscle."),
)

SCALES: dict[str, GradeScale] = {
    scale.key: scale for scale in (IIM_0_2, MERCURI_0_4, MERCURI_MODIFIED_0_5, OEDEMA_0_3)
}
DEFAULT_SCALE = IIM_0_2.key
SCALE_CHOICES = [(scale.key, scale.name) for scale in SCALES.values()]


def scale_named(key: str) -> GradeScale:
    try:
        return SCALES[key]
    except KeyError:
        raise ValueError(f"unknown grading scale {key!r}; known: {', '.join(SCALES)}") from None
