"""The codebook: every variable of every export, defined once.

Exports take their column names and order from here, the codebook export lists it, and the SPSS
writer takes its variable labels, value labels and numeric codes from it. Changing a name here
changes the contract with statisticians' scripts: tests pin the column lists.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from analytics.analyses import MixedScales
from analytics.selectors import score_scales
from cohorts.choices import EmgFinding, Sex, Subtype
from cohorts.models import Cohort
from scoring.models import (
    FunctionalGroup,
    GradeSequence,
    GradeValue,
    Muscle,
    Read,
    Region,
    Side,
)
from scoring.scales import ALL_VALUES, IIM_0_2, NA_LABEL, NOT_ASSESSABLE, GradeScale

STRING, INTEGER, NUMBER, BOOLEAN = "string", "integer", "number", "boolean"
EXPORT_NAMES = (
    "grades",
    "read-scores",
    "muscle-scores",
    "group-scores",
    "patients",
    "codebook",
)
# The codebook also documents the analytics JSON, by path, under this name.
ANALYTICS_SECTION = "analytics"
LIST_SEPARATOR = ";"
# SPSS: "not assessable" becomes a declared user-missing code, so grades stay numeric there.
GRADE_SPSS_CODES = MappingProxyType({**{v: int(v) for v in ALL_VALUES}, NOT_ASSESSABLE: 9})


@dataclass(frozen=True)
class Variable:
    name: str
    type: str
    meaning: str
    unit: str = ""
    # A rule in words (a range, a format) when the values are not a labelled list.
    allowed: str = ""
    # Allowed values with their meaning (value -> label); also the SPSS value labels.
    labels: Mapping[str, str] = field(default_factory=dict)
    # String values written as numbers in SPSS (value -> code), and codes declared missing.
    spss_codes: Mapping[str, int] = field(default_factory=dict)
    spss_missing: tuple[int, ...] = ()
    # SPSS measurement level: nominal, ordinal or scale.
    measure: str = "nominal"
    # SPSS: a categorical variable without a fixed list (site, reader), numbered from the data.
    sav_coded: bool = False
    # The value that means "not assessable": Parquet writes it as null beside a boolean flag.
    not_assessable: str = ""
    # Parquet: a dictionary whose order is the labels' order (the paper's subtype order).
    ordered: bool = False

    def sav_codes(self) -> dict[str, int]:
        """The numbers SPSS stores for a coded variable: the declared codes, else 1, 2, ... in
        the labels' order (empty: not coded)."""
        if self.spss_codes:
            return dict(self.spss_codes)
        if self.labels and self.type == STRING:
            return {value: i for i, value in enumerate(self.labels, start=1)}
        return {}

    def sav_label(self, value: str) -> str:
        """The SPSS value label of a coded value: the label, led by the value unless the label
        already says it ("1 – mild", not "1 – 1 – mild"; "Deltoid", not "deltoid – Deltoid")."""
        label = self.labels.get(value, value)
        said, code = (_plain(text) for text in (label, value))
        if said == code or (said.startswith(code) and not said[len(code)].isalnum()):
            return label
        return f"{value} – {label}"

    def allowed_values(self) -> str:
        if self.labels:
            return "; ".join(f"{value} = {label}" for value, label in self.labels.items())
        if self.type == BOOLEAN and not self.allowed:
            return "true; false; empty = unknown"
        return self.allowed


def _plain(text: str) -> str:
    return text.casefold().replace("-", " ").replace("_", " ")


@dataclass(frozen=True)
class AtlasVocabulary:
    """The muscle atlas as the exports name it: slugs with display names, in atlas order."""

    regions: tuple[tuple[str, str], ...]
    groups: tuple[tuple[str, str], ...]
    muscles: tuple[tuple[str, str], ...]
    # Per scope (unified, stir, t1), the grading scales of the exported reads.
    scales: Mapping[str, tuple[GradeScale, ...]] = field(default_factory=lambda: PAPER_SCALES)

    @property
    def grade_scales(self) -> tuple[GradeScale, ...]:
        """Every scale a grade of the export is on."""
        found = {scale for scales in self.scales.values() for scale in scales}
        return tuple(sorted(found, key=lambda scale: scale.key))

    def score_range(self) -> str:
        """The range of muscle and group scores, in words (the top grade of their scale)."""
        tops = {scale.max for scales in self.scales.values() for scale in scales}
        if len(tops) == 1:
            return f"0–{tops.pop()}"
        per_scope = "; ".join(
            f"{scope}: " + ", ".join(scale.name for scale in scales)
            for scope, scales in self.scales.items()
        )
        return f"0 – the top grade of the scale ({per_scope})"

    def one_scale(self, scope: str) -> GradeScale:
        """The scale of `scope`'s scores; MixedScales when reads on several scales would pool."""
        scales = self.scales[scope]
        if len(scales) > 1:
            names = " and ".join(scale.name for scale in scales)
            raise MixedScales(
                f"Reads graded on different scales ({names}) are not pooled: choose one "
                "protocol (the protocol parameter)."
            )
        return scales[0]


PAPER_SCALES = MappingProxyType({scope: (IIM_0_2,) for scope in ("unified", "stir", "t1")})


def atlas_vocabulary(cohort: Cohort | None = None, protocol: str = "") -> AtlasVocabulary:
    """The atlas, and the scales of the cohort's reads (of one protocol if given; the paper's
    scale without a cohort)."""
    scales = (
        {scope: tuple(found) for scope, found in score_scales(cohort, protocol=protocol).items()}
        if cohort is not None
        else PAPER_SCALES
    )
    return AtlasVocabulary(
        scales=scales,
        regions=tuple(Region.objects.order_by("order").values_list("slug", "name")),
        groups=tuple(
            FunctionalGroup.objects.order_by("region__order", "order").values_list("slug", "name")
        ),
        muscles=tuple(
            Muscle.objects.order_by("group__region__order", "group__order", "order").values_list(
                "slug", "name"
            )
        ),
    )


def column_for_slug(prefix: str, slug: str) -> str:
    """`group_ventral_thigh` for ("group", "ventral-thigh"): a valid name in SPSS, R and Stata."""
    return f"{prefix}_{slug.replace('-', '_')}"


def _choices(choices: list[tuple[str, str]]) -> dict[str, str]:
    return dict(choices)


PSEUDONYM = Variable(
    "pseudonym", STRING, "Patient pseudonym, unique within the cohort.", allowed="e.g. IIM-0007"
)
SUBTYPE = Variable(
    "subtype", STRING, "IIM subtype.", labels=_choices(Subtype.choices), ordered=True
)
SITE = Variable(
    "site",
    STRING,
    "Code of the site (hospital) the patient was seen at. In SPSS: numbered, labelled with "
    "the code.",
    sav_coded=True,
)
TIMEPOINT = Variable(
    "timepoint",
    INTEGER,
    "Timepoint of the visit (0 = baseline, 1 = first follow-up, ...).",
    allowed="0, 1, 2, ...",
    measure="ordinal",
)
SEX = Variable("sex", STRING, "Sex.", labels=_choices(Sex.choices))
AGE = Variable(
    "age_at_mri", INTEGER, "Age at the MRI.", unit="years", allowed="0–120", measure="scale"
)
DISEASE_DURATION = Variable(
    "disease_duration_months",
    NUMBER,
    "Disease duration: symptom onset to diagnosis.",
    unit="months",
    allowed="≥ 0, one decimal",
    measure="scale",
)
CK = Variable("ck", INTEGER, "Creatine kinase.", unit="U/L", allowed="≥ 0", measure="scale")
MMT8 = Variable(
    "mmt8_total",
    INTEGER,
    "Manual muscle testing of 8 muscle groups (MMT-8), total score.",
    unit="points",
    allowed="0–150",
    measure="scale",
)
TREATMENT_NAIVE = Variable(
    "treatment_naive", BOOLEAN, "No immunosuppressive treatment before the MRI."
)


def atlas_labels(pairs: tuple[tuple[str, str], ...]) -> dict[str, str]:
    return dict(pairs)


def grades_variables(atlas: AtlasVocabulary) -> list[Variable]:
    return [
        PSEUDONYM,
        SUBTYPE,
        SITE,
        TIMEPOINT,
        Variable(
            "study",
            STRING,
            "Pseudonymized StudyInstanceUID of the MRI study the grade was given on.",
            allowed="DICOM UID",
        ),
        Variable(
            "series",
            STRING,
            "Pseudonymized SeriesInstanceUID of the study's series of the grade's sequence (the "
            "one with the most images if there are several); empty when the study has no such "
            "series (e.g. a score sheet imported without images).",
            allowed="DICOM UID or empty",
        ),
        Variable(
            "reader",
            STRING,
            "Username of the radiologist who gave the grade. In SPSS: numbered, labelled "
            "with the username.",
            sav_coded=True,
        ),
        Variable(
            "read_status", STRING, "Status of the read.", labels=_choices(Read.Status.choices)
        ),
        Variable(
            "read_kind",
            STRING,
            "Kind of read: analyses use the consensus read when one exists, else the mean over "
            "readers; re-reads measure intra-reader agreement. An adjudicated consensus read "
            "holds the two readers' grade where they agree (Reader A's, the primary read's, where "
            "they differ by less than the cohort's threshold) and the adjudicator's decision on "
            "every discordant cell; agreement is computed from the two reads.",
            labels=_choices(Read.Kind.choices),
        ),
        Variable(
            "region", STRING, "Body region of the muscle.", labels=atlas_labels(atlas.regions)
        ),
        Variable("group", STRING, "Functional muscle group.", labels=atlas_labels(atlas.groups)),
        Variable("muscle", STRING, "Muscle.", labels=atlas_labels(atlas.muscles)),
        Variable("side", STRING, "Side graded.", labels=_choices(Side.choices)),
        Variable(
            "sequence",
            STRING,
            "MRI sequence graded: STIR shows oedema, T1 shows fatty replacement.",
            labels=_choices(GradeSequence.choices),
        ),
        Variable(
            "grade",
            STRING,
            "Grade of the muscle on this side and sequence, on the scale named in the column "
            f"scale ({_scales_in_words(atlas.grade_scales)}). In SPSS: numeric, 9 = not "
            "assessable, declared user-missing. In Parquet: an integer, null when not "
            "assessable, with the boolean column grade_not_assessable beside it. In XLSX: "
            "numbers, NA as text.",
            labels=(labels := grade_labels(atlas.grade_scales)),
            # Codes for the grades the export's scales have (no "3" label on a 0–2 export).
            spss_codes={value: GRADE_SPSS_CODES[value] for value in labels},
            spss_missing=(9,),
            measure="ordinal",
            not_assessable=GradeValue.NOT_ASSESSABLE.value,
        ),
        Variable(
            "scale",
            STRING,
            "The grading scale of the grade: the read's protocol's scale for this sequence.",
            labels={scale.key: scale.name for scale in atlas.grade_scales},
        ),
    ]


def _scales_in_words(scales: tuple[GradeScale, ...]) -> str:
    return "; ".join(f"{scale.name}: {scale.reference}" for scale in scales)


def grade_labels(scales: tuple[GradeScale, ...]) -> dict[str, str]:
    """Each grade value's label (SPSS value labels): the scale's own when the export holds one
    scale, else each scale's label for it, named."""
    labels: dict[str, str] = {}
    for value in ALL_VALUES:
        named = [
            (scale.name, grade.label)
            for scale in scales
            for grade in scale.grades
            if str(grade.value) == value
        ]
        if len(scales) == 1 and named:
            labels[value] = named[0][1]
        elif named:
            labels[value] = "; ".join(f"{name}: {label}" for name, label in named)
    return {**labels, NOT_ASSESSABLE: NA_LABEL}


def patient_variables() -> list[Variable]:
    return [
        PSEUDONYM,
        SITE,
        Variable(
            "timepoint",
            INTEGER,
            TIMEPOINT.meaning + " Empty when the patient has no clinical assessment yet.",
            allowed=TIMEPOINT.allowed,
            measure="ordinal",
        ),
        Variable(
            "days_from_baseline",
            INTEGER,
            "Days from the baseline visit (dates are never stored).",
            unit="days",
            measure="scale",
        ),
        SUBTYPE,
        SEX,
        AGE,
        Variable(
            "classification_criteria",
            STRING,
            "Classification criteria met, separated by ';'.",
            allowed="eular-acr-2017; enmc-asys-2024; enmc-ibm-clinical; enmc-ibm-probable; "
            "enmc-ibm-pathological",
        ),
        Variable(
            "antibodies",
            STRING,
            "Myositis-specific and -associated antibodies found, separated by ';'.",
            allowed="Jo-1; PL-7; PL-12; EJ; OJ; Mi-2; TIF1-γ; NXP2; MDA5; SAE; SRP; HMGCR; cN1A; "
            "Ro52; PM-Scl; Ku",
        ),
        Variable("seronegative", BOOLEAN, "No myositis antibody found.", allowed="true; false"),
        Variable("biopsy_done", BOOLEAN, "A muscle biopsy was done."),
        Variable("emg_myopathic", STRING, "EMG finding.", labels=_choices(EmgFinding.choices)),
        DISEASE_DURATION,
        CK,
        Variable(
            "ck_uln",
            INTEGER,
            "The laboratory's upper limit of normal for CK.",
            unit="U/L",
            measure="scale",
        ),
        MMT8,
        TREATMENT_NAIVE,
        Variable(
            "immunosuppression",
            STRING,
            "Current immunosuppressive treatment, separated by ';'.",
        ),
    ]


def codebook_variables() -> list[Variable]:
    return [
        Variable(
            "export",
            STRING,
            "Name of the export the variable belongs to (analytics: the analytics JSON).",
            allowed=", ".join([*EXPORT_NAMES, ANALYTICS_SECTION]),
        ),
        Variable("variable", STRING, "Column name in the export."),
        Variable("type", STRING, "Value type.", allowed="string; integer; number; boolean"),
        Variable("unit", STRING, "Unit of measurement, if any."),
        Variable("allowed_values", STRING, "Allowed values, with their meaning where coded."),
        Variable("meaning", STRING, "What the variable means and how it is computed."),
    ]


def export_variables(name: str, atlas: AtlasVocabulary) -> list[Variable]:
    """The columns of one export, in order."""
    from exports.codebook_scores import (
        group_score_variables,
        muscle_score_variables,
        read_score_variables,
    )

    if name == "grades":
        return grades_variables(atlas)
    if name == "read-scores":
        return read_score_variables(atlas)
    if name == "muscle-scores":
        return muscle_score_variables(atlas)
    if name == "group-scores":
        return group_score_variables(atlas)
    if name == "patients":
        return patient_variables()
    if name == "codebook":
        return codebook_variables()
    raise ValueError(f"No export named {name!r}; exports are {', '.join(EXPORT_NAMES)}.")


def codebook_rows(atlas: AtlasVocabulary) -> Iterator[tuple[str, str, str, str, str, str]]:
    """One row per variable of every export (the codebook export's rows), then the paths of
    the analytics JSON under export = "analytics"."""
    from exports.codebook_results import analytics_variables

    sections = [(export, export_variables(export, atlas)) for export in EXPORT_NAMES]
    for export, variables in [*sections, (ANALYTICS_SECTION, analytics_variables())]:
        for variable in variables:
            yield (
                export,
                variable.name,
                variable.type,
                variable.unit,
                variable.allowed_values(),
                variable.meaning,
            )
