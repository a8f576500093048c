"""The patient list's search and filters, and what "complete clinical data" means.

Completeness counts the items the paper's Table 1 and the clinical correlations need: sex, age
at MRI, antibody status (a positive antibody or seronegative), and at baseline (timepoint 0)
disease duration, MMT-8, CK and treatment status. Subtype is not counted: "other /
unclassified" is a valid answer, so it cannot tell a missing value from a real one.
"""

from __future__ import annotations

from dataclasses import dataclass

import django_filters
from django.db.models import (
    BooleanField,
    Case,
    Exists,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.expressions import Combinable

from .choices import Sex, Subtype
from .models import ClinicalAssessment, Cohort, Patient, Site


@dataclass(frozen=True)
class ClinicalItem:
    key: str
    label: str


CLINICAL_ITEMS: tuple[ClinicalItem, ...] = (
    ClinicalItem("sex", "sex"),
    ClinicalItem("age", "age"),
    ClinicalItem("antibodies", "antibody status"),
    ClinicalItem("disease_duration", "disease duration"),
    ClinicalItem("mmt8", "MMT-8"),
    ClinicalItem("ck", "CK"),
    ClinicalItem("treatment", "treatment status"),
)


def _baseline_has(field: str) -> Exists:
    return Exists(
        ClinicalAssessment.objects.filter(
            patient=OuterRef("pk"), timepoint=0, **{f"{field}__isnull": False}
        )
    )


def _as_flag(condition: Q) -> Case:
    return Case(
        When(condition, then=Value(True)), default=Value(False), output_field=BooleanField()
    )


def _item_expressions() -> dict[str, Combinable]:
    return {
        "sex": _as_flag(~Q(sex=Sex.UNKNOWN)),
        "age": _as_flag(Q(age_at_mri__isnull=False)),
        "antibodies": _as_flag(Q(seronegative=True) | ~Q(antibodies=[])),
        "disease_duration": _baseline_has("disease_duration_months"),
        "mmt8": _baseline_has("mmt8_total"),
        "ck": _baseline_has("ck"),
        "treatment": _baseline_has("treatment_naive"),
    }


def _flag(key: str) -> str:
    return f"clinical_has_{key}"


def with_clinical_completeness(patients: QuerySet[Patient]) -> QuerySet[Patient]:
    """Annotate each patient with one `clinical_has_<item>` flag per item and `clinical_filled`."""
    flags = {_flag(key): expression for key, expression in _item_expressions().items()}
    filled = sum(
        (
            Case(When(**{name: True}, then=Value(1)), default=Value(0), output_field=IntegerField())
            for name in flags
        ),
        start=Value(0),
    )
    return patients.annotate(**flags).annotate(clinical_filled=filled)


@dataclass(frozen=True)
class Completeness:
    filled: int
    total: int
    missing: tuple[str, ...]

    @property
    def is_complete(self) -> bool:
        return not self.missing

    def __str__(self) -> str:
        return f"{self.filled}/{self.total} fields"


def clinical_completeness(patient: Patient) -> Completeness:
    """Filled/total and the missing items, read from `with_clinical_completeness` annotations."""
    missing = tuple(item.label for item in CLINICAL_ITEMS if not getattr(patient, _flag(item.key)))
    total = len(CLINICAL_ITEMS)
    return Completeness(filled=total - len(missing), total=total, missing=missing)


COMPLETE = "complete"
INCOMPLETE = "incomplete"
COMPLETENESS_CHOICES = [
    (COMPLETE, "Complete"),
    (INCOMPLETE, "Incomplete"),
    *((f"missing-{item.key}", f"Missing {item.label}") for item in CLINICAL_ITEMS),
]


class PatientFilter(django_filters.FilterSet):
    """GET parameters of the patient list: q (pseudonym), site, subtype, completeness.

    The queryset must come from `with_clinical_completeness`.
    """

    q = django_filters.CharFilter(
        field_name="pseudonym", lookup_expr="icontains", label="Pseudonym"
    )
    site = django_filters.ModelChoiceFilter(
        queryset=Site.objects.none(), empty_label="All sites", label="Site"
    )
    subtype = django_filters.ChoiceFilter(
        choices=Subtype.choices, empty_label="All subtypes", label="Subtype"
    )
    completeness = django_filters.ChoiceFilter(
        choices=COMPLETENESS_CHOICES,
        empty_label="Any completeness",
        label="Clinical data",
        method="filter_completeness",
    )

    class Meta:
        model = Patient
        fields: list[str] = []

    def __init__(self, *args, cohort: Cohort, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Only the cohort's own sites are offered (all sites when the cohort names none).
        sites = cohort.sites.all()
        self.filters["site"].queryset = sites if sites.exists() else Site.objects.all()

    def filter_completeness(
        self, queryset: QuerySet[Patient], name: str, value: str
    ) -> QuerySet[Patient]:
        total = len(CLINICAL_ITEMS)
        if value == COMPLETE:
            return queryset.filter(clinical_filled=total)
        if value == INCOMPLETE:
            return queryset.filter(clinical_filled__lt=total)
        key = value.removeprefix("missing-")
        return queryset.filter(**{_flag(key): False})
