"""Clinical data pages: the patient list, the patient page with its history, and the patient and
assessment forms.

Who may do what here:
- radiologists: nothing (403) — they never see clinical data;
- clinicians, coordinators and statisticians who are members of the cohort: the list and the
  patient page; anyone else gets 404 (no hint that the cohort or patient exists);
- writes need the role's model permission (cohorts/roles.py): clinicians enter patients and
  assessments, coordinators patients; statisticians are read-only (403, also on POST);
- the history (audit events) is shown to clinicians and coordinators only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from .choices import Criteria, EmgFinding, Sex, Subtype
from .filters import PatientFilter, clinical_completeness, with_clinical_completeness
from .forms import AssessmentForm, PatientForm
from .models import ClinicalAssessment, Cohort, Patient, Site
from .roles import CLINICIAN, COORDINATOR, has_role
from .selectors import (
    audit_events_for_target,
    cohort_get_for_user,
    patient_get_for_user,
    patients_for_user,
)
from .services import (
    ASSESSMENT_FIELDS,
    MMT8_GROUP_LABELS,
    MMT8_GROUP_MAX,
    MMT8_GROUP_OUT_OF_RANGE,
    MMT8_GROUPS_INCOMPLETE,
    MMT8_TOTAL_MAX,
    SERONEGATIVE_WITH_ANTIBODY,
    TREATMENT_NAIVE_WITH_IMMUNOSUPPRESSION,
    assessment_save,
    ck_times_uln,
    patient_create_with_baseline,
    patient_update,
)
from .views import require_clinical_role

PATIENTS_PER_PAGE = 100
ASSESSMENT_PERMISSIONS = ("cohorts.add_clinicalassessment", "cohorts.change_clinicalassessment")

# The cross-field rules the browser script checks live, in the services' own words.
CLINICAL_MESSAGES = {
    "seronegativeWithAntibody": SERONEGATIVE_WITH_ANTIBODY,
    "treatmentNaiveWithImmunosuppression": TREATMENT_NAIVE_WITH_IMMUNOSUPPRESSION,
    "mmt8GroupsIncomplete": MMT8_GROUPS_INCOMPLETE,
    "mmt8GroupOutOfRange": MMT8_GROUP_OUT_OF_RANGE,
    "mmt8GroupMax": MMT8_GROUP_MAX,
    "mmt8TotalMax": MMT8_TOTAL_MAX,
}


def _clinical_cohort(request: HttpRequest, slug: str) -> Cohort:
    """403 for roles without clinical access, then 404 for a cohort the user is not in."""
    require_clinical_role(request)
    return cohort_get_for_user(slug=slug, user=request.user)


def _require_permissions(request: HttpRequest, *permissions: str) -> None:
    if not request.user.has_perms(permissions):
        raise PermissionDenied


def _patient_with_completeness(request: HttpRequest, cohort: Cohort, pseudonym: str) -> Patient:
    patient = (
        with_clinical_completeness(patients_for_user(user=request.user, cohort=cohort))
        .filter(pseudonym=pseudonym)
        .first()
    )
    if patient is None:
        raise Http404("No such patient.")
    return patient


def _form_page_context(**context: Any) -> dict[str, Any]:
    return {"clinical_messages": CLINICAL_MESSAGES, **context}


@login_required
def patient_list(request: HttpRequest, slug: str) -> HttpResponse:
    cohort = _clinical_cohort(request, slug)
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET"])  # after the access checks: a 405 reveals nothing
    patients = with_clinical_completeness(patients_for_user(user=request.user, cohort=cohort))
    filterset = PatientFilter(request.GET or None, queryset=patients, cohort=cohort)
    page = Paginator(filterset.qs.order_by("pseudonym"), PATIENTS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "cohorts/patient_list.html",
        {
            "cohort": cohort,
            "filter": filterset,
            "page": page,
            "rows": [(patient, clinical_completeness(patient)) for patient in page],
            "n_all": patients.count(),
            "can_add": request.user.has_perm("cohorts.add_patient"),
        },
    )


@login_required
def patient_detail(request: HttpRequest, slug: str, pseudonym: str) -> HttpResponse:
    cohort = _clinical_cohort(request, slug)
    patient = _patient_with_completeness(request, cohort, pseudonym)
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET"])
    assessments = list(patient.assessments.all())
    show_history = has_role(request.user, CLINICIAN, COORDINATOR)
    return render(
        request,
        "cohorts/patient_detail.html",
        {
            "cohort": cohort,
            "patient": patient,
            "completeness": clinical_completeness(patient),
            "criteria": [
                CHOICE_LABELS["classification_criteria"].get(code, code)
                for code in patient.classification_criteria
            ],
            "assessments": [(a, ck_times_uln(a.ck, a.ck_uln)) for a in assessments],
            "next_timepoint": max((a.timepoint for a in assessments), default=-1) + 1,
            "can_edit_patient": request.user.has_perm("cohorts.change_patient"),
            "can_edit_assessments": request.user.has_perms(ASSESSMENT_PERMISSIONS),
            # Access and erasure requests (GDPR Art. 15, 17) are the coordinator's.
            "can_erase": has_role(request.user, COORDINATOR),
            "history": patient_history(patient=patient, assessments=assessments)
            if show_history
            else None,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def patient_create(request: HttpRequest, slug: str) -> HttpResponse:
    cohort = _clinical_cohort(request, slug)
    _require_permissions(request, "cohorts.add_patient")
    data = request.POST if request.method == "POST" else None
    patient_form = PatientForm(data, cohort=cohort)
    # A coordinator may enrol patients but not enter clinical measures: no baseline section.
    baseline_form = (
        AssessmentForm(data, prefix="baseline", timepoint=0, autofocus=False)
        if request.user.has_perms(ASSESSMENT_PERMISSIONS)
        else None
    )
    if data is not None:
        forms_valid = [patient_form.is_valid()]
        if baseline_form is not None:
            forms_valid.append(baseline_form.is_valid())
        if all(forms_valid):
            baseline = (
                None
                if baseline_form is None or baseline_form.is_blank()
                else baseline_form.assessment_fields()
            )
            saved = _write_then_show_patient(
                request,
                lambda: patient_create_with_baseline(
                    cohort=cohort,
                    actor=request.user,
                    pseudonym=patient_form.cleaned_data["pseudonym"],
                    baseline=baseline,
                    **patient_form.patient_fields(),
                ),
                show_errors=lambda error: _show_create_errors(error, patient_form, baseline_form),
            )
            if saved is not None:
                return saved
    return render(
        request,
        "cohorts/patient_form.html",
        _form_page_context(
            cohort=cohort, patient=None, form=patient_form, baseline_form=baseline_form
        ),
    )


def _write_then_show_patient(
    request: HttpRequest,
    write: Callable[[], Patient],
    *,
    show_errors: Callable[[ValidationError], None],
    saved_message: str | None = None,
) -> HttpResponse | None:
    """Run one service write; once stored, say so and go to the patient's page.

    A service refusal goes to the form (None: the caller renders the form again).
    """
    try:
        patient = write()
    except ValidationError as error:
        show_errors(error)
        return None
    messages.success(request, saved_message or f"{patient.pseudonym} saved.")
    return redirect("cohorts:patient-detail", patient.cohort.slug, patient.pseudonym)


def _show_create_errors(
    error: ValidationError, patient_form: PatientForm, baseline_form: AssessmentForm | None
) -> None:
    if not hasattr(error, "error_dict") or baseline_form is None:
        patient_form.add_service_errors(error)
        return
    by_form: dict[str, dict[str, list[str]]] = {"patient": {}, "baseline": {}}
    for name, field_messages in error.message_dict.items():
        by_form["baseline" if name in ASSESSMENT_FIELDS else "patient"][name] = field_messages
    if by_form["patient"]:
        patient_form.add_service_errors(ValidationError(by_form["patient"]))
    if by_form["baseline"]:
        baseline_form.add_service_errors(ValidationError(by_form["baseline"]))


@login_required
@require_http_methods(["GET", "POST"])
def patient_edit(request: HttpRequest, slug: str, pseudonym: str) -> HttpResponse:
    cohort = _clinical_cohort(request, slug)
    _require_permissions(request, "cohorts.change_patient")
    patient = patient_get_for_user(user=request.user, cohort=cohort, pseudonym=pseudonym)
    data = request.POST if request.method == "POST" else None
    form = PatientForm(data, cohort=cohort, patient=patient)
    if data is not None and form.is_valid():
        saved = _write_then_show_patient(
            request,
            lambda: patient_update(patient=patient, actor=request.user, **form.patient_fields()),
            show_errors=form.add_service_errors,
        )
        if saved is not None:
            return saved
    return render(
        request,
        "cohorts/patient_form.html",
        _form_page_context(cohort=cohort, patient=patient, form=form, baseline_form=None),
    )


@login_required
@require_http_methods(["GET", "POST"])
def assessment_edit(
    request: HttpRequest, slug: str, pseudonym: str, timepoint: int
) -> HttpResponse:
    """Create or edit the assessment of one timepoint; the next free timepoint adds one."""
    cohort = _clinical_cohort(request, slug)
    _require_permissions(request, *ASSESSMENT_PERMISSIONS)
    patient = patient_get_for_user(user=request.user, cohort=cohort, pseudonym=pseudonym)
    assessments = {a.timepoint: a for a in patient.assessments.all()}
    assessment = assessments.get(timepoint)
    if assessment is None and timepoint != max(assessments, default=-1) + 1:
        raise Http404("Timepoints are added one after the other.")
    data = request.POST if request.method == "POST" else None
    form = AssessmentForm(data, timepoint=timepoint, assessment=assessment)
    if data is not None and form.is_valid():
        saved = _write_then_show_patient(
            request,
            lambda: (
                assessment_save(
                    patient=patient,
                    timepoint=timepoint,
                    actor=request.user,
                    **form.assessment_fields(),
                ).patient
            ),
            show_errors=form.add_service_errors,
            saved_message=f"{patient.pseudonym}, timepoint {timepoint} saved.",
        )
        if saved is not None:
            return saved
    return render(
        request,
        "cohorts/assessment_form.html",
        _form_page_context(
            cohort=cohort,
            patient=patient,
            form=form,
            timepoint=timepoint,
            is_new=assessment is None,
        ),
    )


# --- History: the patient's audit events as who, when, what, old → new -------------------------

FIELD_LABELS = {
    "sex": "Sex",
    "age_at_mri": "Age at MRI",
    "subtype": "Subtype",
    "classification_criteria": "Classification criteria",
    "antibodies": "Antibodies",
    "seronegative": "Seronegative",
    "biopsy_done": "Biopsy done",
    "emg_myopathic": "EMG",
    "site": "Site",
    "days_from_baseline": "Days from baseline",
    "disease_duration_months": "Disease duration (months)",
    "ck": "CK (U/L)",
    "ck_uln": "CK upper limit of normal (U/L)",
    "mmt8_total": "MMT-8 total",
    "treatment_naive": "Treatment-naive",
    "immunosuppression": "Current immunosuppression",
}
CHOICE_LABELS = {
    "sex": dict(Sex.choices),
    "subtype": dict(Subtype.choices),
    "classification_criteria": dict(Criteria.choices),
    "emg_myopathic": dict(EmgFinding.choices),
}


@dataclass(frozen=True)
class HistoryChange:
    field: str
    old: str
    new: str


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    actor: str
    what: str
    changes: list[HistoryChange]
    # Per-group MMT-8 scores, folded on the page: a full sheet is 15 lines.
    mmt8_group_changes: list[HistoryChange]


def _shown_value(field: str, value: Any, site_names: dict[int, str]) -> str:
    if value is None or value == "":
        return "—"
    if field == "site":
        return site_names.get(value, f"site #{value}")
    labels = CHOICE_LABELS.get(field, {})
    if isinstance(value, list):
        return ", ".join(labels.get(item, str(item)) for item in value) if value else "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(labels.get(value, value))


def _changes(old: dict | None, new: dict | None, site_names: dict[int, str]) -> list[HistoryChange]:
    """What an event changed, field by field, in the words of the form."""
    old, new = old or {}, new or {}
    changes = []
    for field in [name for name in FIELD_LABELS if name in new or name in old]:
        before, after = old.get(field), new.get(field)
        if not old and after in (None, "", [], False) and field != "sex":
            continue  # a creation lists what was entered, not every empty field
        changes.append(
            HistoryChange(
                FIELD_LABELS[field],
                _shown_value(field, before, site_names),
                _shown_value(field, after, site_names),
            )
        )
    return changes


def _mmt8_group_changes(old: dict | None, new: dict | None) -> list[HistoryChange]:
    """One line per MMT-8 group whose score changed, not two 15-entry dictionaries."""
    before = (old or {}).get("mmt8_groups") or {}
    after = (new or {}).get("mmt8_groups") or {}
    return [
        HistoryChange(
            f"MMT-8 {label}",
            _shown_value(key, before.get(key), {}),
            _shown_value(key, after.get(key), {}),
        )
        for key, label in MMT8_GROUP_LABELS.items()
        if before.get(key) != after.get(key)
    ]


def patient_history(
    *, patient: Patient, assessments: Iterable[ClinicalAssessment]
) -> list[HistoryEntry]:
    """The audit events of a patient and of its assessments, newest first."""
    timepoints = {str(a.pk): a.timepoint for a in assessments}
    events = [
        *audit_events_for_target(
            target_type=Patient._meta.label_lower, target_ids=[str(patient.pk)]
        ),
        *audit_events_for_target(
            target_type=ClinicalAssessment._meta.label_lower, target_ids=list(timepoints)
        ),
    ]
    site_ids = {
        values["site"]
        for event in events
        for values in (event.old or {}, event.new or {})
        if isinstance(values, dict) and isinstance(values.get("site"), int)
    }
    site_names = dict(Site.objects.filter(pk__in=site_ids).values_list("pk", "name"))
    entries = []
    for event in sorted(events, key=lambda e: (e.at, e.pk), reverse=True):
        kind, _, verb = event.action.partition(".")
        verb = {"create": "created", "update": "changed"}.get(verb, verb)
        if kind == "assessment":
            timepoint = timepoints.get(event.target_id)
            what = f"Timepoint {timepoint} {'(baseline) ' if timepoint == 0 else ''}{verb}"
        else:
            what = f"Patient {verb}"
        entries.append(
            HistoryEntry(
                at=event.at,
                actor=event.actor.get_username() if event.actor else "system",
                what=what,
                changes=_changes(event.old, event.new, site_names),
                mmt8_group_changes=_mmt8_group_changes(event.old, event.new),
            )
        )
    return entries
