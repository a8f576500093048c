"""Writes of the cohorts domain: cohorts, patients, clinical assessments.

Each function is a transaction that writes its audit row; anything that changes what analyses
see marks the cohort's results stale through analytics' one door.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Final

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.forms.models import model_to_dict

from cohorts.audit import audit_record
from cohorts.choices import Antibody, Criteria
from cohorts.imaging.dicom.deid import source_patient_key
from cohorts.models import AuditEvent, ClinicalAssessment, Cohort, ImagingStudy, Patient, Site

PATIENT_FIELDS = [
    "site",
    "sex",
    "age_at_mri",
    "subtype",
    "classification_criteria",
    "antibodies",
    "seronegative",
    "biopsy_done",
    "emg_myopathic",
]
ASSESSMENT_FIELDS = [
    "days_from_baseline",
    "disease_duration_months",
    "ck",
    "ck_uln",
    "mmt8_total",
    "mmt8_groups",
    "treatment_naive",
    "immunosuppression",
]


# --- Rules of clinical data --------------------------------------------------------------------
# One place for the limits and their messages: the forms show them next to the field, the
# browser script receives them from the page, and the services enforce them for every caller.

AGE_MAX: Final = 120
MMT8_TOTAL_MAX: Final = 150
MMT8_GROUP_MAX: Final = 10
CK_MAX: Final = 1_000_000
CK_ULN_MAX: Final = 10_000
# A century of follow-up; the column holds up to 2**31 - 1, which is no clinical value.
DAYS_FROM_BASELINE_MAX: Final = 36_500
# Timepoints are numbered 0, 1, 2, ... per patient; a few hundred is far beyond any study.
TIMEPOINT_MAX: Final = 999

AGE_OUT_OF_RANGE: Final = "Age at MRI must be between 0 and 120 years."
SERONEGATIVE_WITH_ANTIBODY: Final = (
    "Seronegative cannot be combined with a positive antibody: untick one or the other."
)
UNKNOWN_ANTIBODY: Final = "Not an antibody of the panel: {values}."
UNKNOWN_CRITERIA: Final = "Not a classification criteria set: {values}."
DISEASE_DURATION_NEGATIVE: Final = (
    "Disease duration cannot be negative (months from symptom onset to diagnosis)."
)
CK_NEGATIVE: Final = "CK cannot be negative."
CK_TOO_HIGH: Final = "CK above 1,000,000 U/L is not plausible: check the value and the unit (U/L)."
CK_ULN_OUT_OF_RANGE: Final = "The upper limit of normal must be between 1 and 10,000 U/L."
MMT8_TOTAL_OUT_OF_RANGE: Final = "MMT-8 total must be between 0 and 150."
MMT8_GROUP_OUT_OF_RANGE: Final = "Each MMT-8 muscle group is scored from 0 to 10."
MMT8_GROUPS_INCOMPLETE: Final = "Score all 15 MMT-8 muscle groups, or enter only the total."
MMT8_TOTAL_NOT_SUM: Final = "The MMT-8 total must equal the sum of the muscle groups ({total})."
TREATMENT_NAIVE_WITH_IMMUNOSUPPRESSION: Final = (
    "A treatment-naive patient has no current immunosuppression: answer No, or clear the agents."
)
IMMUNOSUPPRESSION_NOT_A_LIST: Final = "Give the current immunosuppression as a list of agents."
DAYS_FROM_BASELINE_OUT_OF_RANGE: Final = (
    "Days from baseline must be between 0 and 36,500 (a hundred years)."
)
TIMEPOINT_OUT_OF_RANGE: Final = "A timepoint is a whole number from 0 to 999."
PSEUDONYM_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9-]{0,39}\Z"
PSEUDONYM_INVALID: Final = (
    "A pseudonym is letters, digits and hyphens (e.g. IIM-0042), up to 40 characters."
)

# MMT-8 (IMACS): neck flexors once, seven groups on each side; 15 scores of 0–10 = 150.
MMT8_AXIAL_GROUP: Final = ("neck_flexors", "Neck flexors")
MMT8_PAIRED_GROUPS: Final = (
    ("deltoid", "Deltoid"),
    ("biceps", "Biceps brachii"),
    ("gluteus_maximus", "Gluteus maximus"),
    ("gluteus_medius", "Gluteus medius"),
    ("quadriceps", "Quadriceps"),
    ("wrist_extensors", "Wrist extensors"),
    ("ankle_dorsiflexors", "Ankle dorsiflexors"),
)
MMT8_SIDES: Final = (("right", "right"), ("left", "left"))


def _mmt8_group_labels() -> dict[str, str]:
    labels = {MMT8_AXIAL_GROUP[0]: MMT8_AXIAL_GROUP[1]}
    for key, label in MMT8_PAIRED_GROUPS:
        for side, side_label in MMT8_SIDES:
            labels[f"{key}_{side}"] = f"{label} ({side_label})"
    return labels


# Keys of ClinicalAssessment.mmt8_groups, in the order of the examination form.
MMT8_GROUP_LABELS: Final[dict[str, str]] = _mmt8_group_labels()
MMT8_GROUP_KEYS: Final[tuple[str, ...]] = tuple(MMT8_GROUP_LABELS)


def patient_rule_errors(
    *,
    age_at_mri: int | None,
    antibodies: Sequence[str],
    seronegative: bool,
    classification_criteria: Sequence[str] = (),
) -> dict[str, list[str]]:
    """The clinical rules a patient's attributes break, as {field: [message]} (empty if none)."""
    errors: dict[str, list[str]] = {}
    if age_at_mri is not None and not 0 <= age_at_mri <= AGE_MAX:
        errors["age_at_mri"] = [AGE_OUT_OF_RANGE]
    unknown = sorted(set(antibodies) - set(Antibody.values))
    if unknown:
        errors["antibodies"] = [UNKNOWN_ANTIBODY.format(values=", ".join(unknown))]
    elif seronegative and antibodies:
        errors["seronegative"] = [SERONEGATIVE_WITH_ANTIBODY]
    unknown = sorted(set(classification_criteria) - set(Criteria.values))
    if unknown:
        errors["classification_criteria"] = [UNKNOWN_CRITERIA.format(values=", ".join(unknown))]
    return errors


def _is_score(value: Any, maximum: int) -> bool:
    # bool is an int in Python; True must not pass as a score of 1.
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= maximum


def mmt8_total_from_groups(groups: Mapping[str, Any]) -> int:
    """The MMT-8 total of a complete per-group entry; ValidationError when it is not one."""
    if set(groups) != set(MMT8_GROUP_KEYS):
        raise ValidationError({"mmt8_groups": [MMT8_GROUPS_INCOMPLETE]})
    if not all(_is_score(value, MMT8_GROUP_MAX) for value in groups.values()):
        raise ValidationError({"mmt8_groups": [MMT8_GROUP_OUT_OF_RANGE]})
    return sum(groups.values())


def assessment_rule_errors(
    *,
    disease_duration_months: Decimal | None,
    ck: int | None,
    ck_uln: int | None,
    mmt8_total: int | None,
    treatment_naive: bool | None,
    immunosuppression: Sequence[str],
    days_from_baseline: int | None = None,
) -> dict[str, list[str]]:
    """The clinical rules an assessment breaks, as {field: [message]} (the MMT-8 groups are
    checked by `mmt8_total_from_groups`)."""
    errors: dict[str, list[str]] = {}
    if days_from_baseline is not None and not 0 <= days_from_baseline <= DAYS_FROM_BASELINE_MAX:
        errors["days_from_baseline"] = [DAYS_FROM_BASELINE_OUT_OF_RANGE]
    if disease_duration_months is not None and disease_duration_months < 0:
        errors["disease_duration_months"] = [DISEASE_DURATION_NEGATIVE]
    if ck is not None and ck < 0:
        errors["ck"] = [CK_NEGATIVE]
    elif ck is not None and ck > CK_MAX:
        errors["ck"] = [CK_TOO_HIGH]
    if ck_uln is not None and not 1 <= ck_uln <= CK_ULN_MAX:
        errors["ck_uln"] = [CK_ULN_OUT_OF_RANGE]
    if mmt8_total is not None and not _is_score(mmt8_total, MMT8_TOTAL_MAX):
        errors["mmt8_total"] = [MMT8_TOTAL_OUT_OF_RANGE]
    if treatment_naive and immunosuppression:
        errors["treatment_naive"] = [TREATMENT_NAIVE_WITH_IMMUNOSUPPRESSION]
    return errors


def ck_times_uln(ck: int | None, ck_uln: int | None) -> Decimal | None:
    """CK as a multiple of the laboratory's upper limit of normal, one decimal (None if unknown)."""
    if ck is None or not ck_uln:
        return None
    return (Decimal(ck) / Decimal(ck_uln)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def source_key_for(source_patient_id: str) -> str:
    """HMAC-SHA256 of a source patient id with the secret pepper: re-imports find the same
    patient while the id itself is never stored."""
    return source_patient_key(source_patient_id, settings.PSEUDONYM_PEPPER.encode())


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in values.items():
        if isinstance(value, Decimal):
            value = float(value)
        elif hasattr(value, "pk"):
            value = value.pk
        out[key] = value
    return out


def _number(value: Any) -> Any:
    """The value when it is a number the rules can compare, else None (full_clean reports it)."""
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return value
    return None


def pseudonym_is_valid(pseudonym: object) -> bool:
    """Letters, digits and hyphens, starting with a letter or digit, 1 to 40 characters: safe in
    URLs, file names, HTTP headers and spreadsheet cells."""
    return isinstance(pseudonym, str) and re.match(PSEUDONYM_PATTERN, pseudonym) is not None


def _check_patient_rules(patient: Patient) -> None:
    errors = patient_rule_errors(
        age_at_mri=_number(patient.age_at_mri),
        antibodies=list(patient.antibodies or []),
        seronegative=bool(patient.seronegative),
        classification_criteria=list(patient.classification_criteria or []),
    )
    if errors:
        raise ValidationError(errors)
    patient.full_clean()


def _derive_mmt8_total(assessment: ClinicalAssessment, *, given_total: Any) -> None:
    """With per-group scores the stored total is always their sum, computed here: a total sent
    by a caller (or a browser) is only compared with it, never trusted."""
    if not assessment.mmt8_groups:
        return
    if not isinstance(assessment.mmt8_groups, Mapping):
        raise ValidationError({"mmt8_groups": [MMT8_GROUPS_INCOMPLETE]})
    total = mmt8_total_from_groups(assessment.mmt8_groups)
    if given_total is not None and given_total != total:
        raise ValidationError({"mmt8_total": [MMT8_TOTAL_NOT_SUM.format(total=total)]})
    assessment.mmt8_total = total


def _check_assessment_rules(assessment: ClinicalAssessment) -> None:
    immunosuppression = assessment.immunosuppression
    if not isinstance(immunosuppression, list) or not all(
        isinstance(agent, str) and agent.strip() for agent in immunosuppression
    ):
        raise ValidationError({"immunosuppression": [IMMUNOSUPPRESSION_NOT_A_LIST]})
    errors = assessment_rule_errors(
        disease_duration_months=_number(assessment.disease_duration_months),
        ck=_number(assessment.ck),
        ck_uln=_number(assessment.ck_uln),
        mmt8_total=_number(assessment.mmt8_total),
        treatment_naive=assessment.treatment_naive,
        immunosuppression=immunosuppression,
        days_from_baseline=_number(assessment.days_from_baseline),
    )
    if not isinstance(assessment.timepoint, int) or not 0 <= assessment.timepoint <= TIMEPOINT_MAX:
        errors["timepoint"] = [TIMEPOINT_OUT_OF_RANGE]
    if errors:
        raise ValidationError(errors)
    assessment.full_clean()


def _mark_stale(cohort: Cohort) -> None:
    from analytics.services import results_mark_stale  # analytics reads cohorts, not reverse

    results_mark_stale(cohort_id=cohort.pk)


@transaction.atomic
def cohort_create(
    *,
    slug: str,
    title: str,
    actor: AbstractBaseUser | None,
    description: str = "",
    sites: list[Site] | None = None,
    is_synthetic: bool = False,
) -> Cohort:
    cohort = Cohort(slug=slug, title=title, description=description, is_synthetic=is_synthetic)
    cohort.full_clean()
    cohort.save()
    if sites:
        cohort.sites.set(sites)
    audit_record(
        actor=actor,
        action="cohort.create",
        target=cohort,
        cohort=cohort,
        new={"slug": slug, "title": title},
    )
    return cohort


def next_pseudonym(cohort: Cohort, prefix: str = "IIM") -> str:
    """The next free `PREFIX-NNNN`, after every number the cohort ever gave: an erased
    patient's pseudonym is never given again (its exports and notes may still circulate)."""
    taken = set(cohort.patients.values_list("pseudonym", flat=True))
    numbered = re.compile(rf"{re.escape(prefix)}-(\d+)")
    highest = max((int(m.group(1)) for p in taken if (m := numbered.fullmatch(p))), default=0)
    # Every patient ever created through the service left a patient.create audit row, kept
    # after an erasure (the erasure redacts its content, not its existence).
    ever_created = AuditEvent.objects.filter(cohort=cohort, action="patient.create").count()
    number = max(highest, ever_created, len(taken)) + 1
    while f"{prefix}-{number:04d}" in taken:
        number += 1
    return f"{prefix}-{number:04d}"


@transaction.atomic
def patient_create(
    *,
    cohort: Cohort,
    actor: AbstractBaseUser | None,
    pseudonym: str | None = None,
    source_patient_id: str | None = None,
    source_key: str = "",
    is_synthetic: bool = False,
    **fields: Any,
) -> Patient:
    """A new pseudonymized patient; the source id (if any) is kept only as its HMAC
    (`source_key`, when the caller has only that)."""
    patient = Patient(
        cohort=cohort,
        pseudonym=pseudonym or next_pseudonym(cohort),
        source_key=source_key_for(source_patient_id) if source_patient_id else source_key,
        is_synthetic=is_synthetic,
        **fields,
    )
    # Every path that creates a patient (form, score sheet, DICOM upload, demo) meets here.
    if not pseudonym_is_valid(patient.pseudonym):
        raise ValidationError({"pseudonym": [PSEUDONYM_INVALID]})
    _check_patient_rules(patient)
    patient.save()
    audit_record(
        actor=actor,
        action="patient.create",
        target=patient,
        cohort=cohort,
        new=_jsonable(model_to_dict(patient, fields=PATIENT_FIELDS)),
    )
    _mark_stale(cohort)
    return patient


@transaction.atomic
def study_create(
    *,
    patient: Patient,
    actor: AbstractBaseUser | None,
    study_uid: str,
    source: str,
    timepoint: int | None = None,
    **fields: Any,
) -> ImagingStudy:
    """A new imaging study of a patient, from a DICOM import, a score sheet or the demo
    (`source`, recorded in the audit row). With `timepoint` given it is kept; without, the
    patient's timepoints follow the shifted study dates (a later study, a later timepoint)."""
    study = ImagingStudy(patient=patient, study_uid=study_uid, timepoint=timepoint or 0, **fields)
    study.save(force_insert=True)
    if timepoint is None:
        _renumber_timepoints(patient)
        study.refresh_from_db()
    audit_record(
        actor=actor,
        action="study.create",
        target=study,
        cohort=patient.cohort,
        new={
            "patient": patient.pseudonym,
            "study_uid": study.study_uid,
            "timepoint": study.timepoint,
            "source": source,
        },
    )
    return study


def _renumber_timepoints(patient: Patient) -> None:
    """Timepoints follow the (shifted) study dates: a second study is a later timepoint."""
    studies = list(patient.studies.order_by("study_date_shifted", "pk"))
    first = next((s.study_date_shifted for s in studies if s.study_date_shifted), None)
    for number, study in enumerate(studies):
        days = (study.study_date_shifted - first).days if first and study.study_date_shifted else 0
        if (study.timepoint, study.days_from_baseline) != (number, days):
            study.timepoint, study.days_from_baseline = number, days
            study.save(update_fields=["timepoint", "days_from_baseline"])


@transaction.atomic
def patient_update(*, patient: Patient, actor: AbstractBaseUser | None, **fields: Any) -> Patient:
    """Change a patient's clinical attributes; the audit row holds only the fields that changed."""
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    old = _jsonable(model_to_dict(patient, fields=PATIENT_FIELDS))
    for name, value in fields.items():
        if name not in PATIENT_FIELDS:
            raise ValueError(f"{name} is not a patient field that can be changed.")
        setattr(patient, name, value)
    _check_patient_rules(patient)
    new = _jsonable(model_to_dict(patient, fields=PATIENT_FIELDS))
    changed = {k for k in new if new[k] != old[k]}
    if changed:
        patient.save(update_fields=sorted(changed))
        audit_record(
            actor=actor,
            action="patient.update",
            target=patient,
            cohort=patient.cohort,
            old={k: old[k] for k in changed},
            new={k: new[k] for k in changed},
        )
        _mark_stale(patient.cohort)
    return patient


@transaction.atomic
def assessment_save(
    *, patient: Patient, timepoint: int, actor: AbstractBaseUser | None, **fields: Any
) -> ClinicalAssessment:
    """Create or update the clinical assessment of a patient at a timepoint."""
    assessment = (
        ClinicalAssessment.objects.select_for_update()
        .filter(patient=patient, timepoint=timepoint)
        .first()
    )
    created = assessment is None
    if created:
        assessment = ClinicalAssessment(patient=patient, timepoint=timepoint)
    old = {} if created else _jsonable(model_to_dict(assessment, fields=ASSESSMENT_FIELDS))
    for name, value in fields.items():
        if name not in ASSESSMENT_FIELDS:
            raise ValueError(f"{name} is not a clinical assessment field.")
        setattr(assessment, name, value)
    _derive_mmt8_total(assessment, given_total=fields.get("mmt8_total"))
    _check_assessment_rules(assessment)
    new = _jsonable(model_to_dict(assessment, fields=ASSESSMENT_FIELDS))
    changed = {k for k in new if new.get(k) != old.get(k)}
    if created or changed:
        assessment.save()
        audit_record(
            actor=actor,
            action="assessment.create" if created else "assessment.update",
            target=assessment,
            cohort=patient.cohort,
            old={k: old.get(k) for k in changed} if not created else None,
            new={k: new[k] for k in changed},
        )
        _mark_stale(patient.cohort)
    return assessment


@transaction.atomic
def patient_create_with_baseline(
    *,
    cohort: Cohort,
    actor: AbstractBaseUser | None,
    pseudonym: str | None = None,
    baseline: Mapping[str, Any] | None = None,
    **fields: Any,
) -> Patient:
    """A new patient and, when given, its baseline (timepoint 0) assessment: all or nothing."""
    patient = patient_create(cohort=cohort, actor=actor, pseudonym=pseudonym, **fields)
    if baseline:
        assessment_save(patient=patient, timepoint=0, actor=actor, **baseline)
    return patient
