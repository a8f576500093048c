"""Coordinator pages that decide how a study is read: which series fill which sequence role
(per study, and the cohort's description rules), the stacks readers will scroll, the
flags a PACS administrator wants to see (lossy, burned-in text), and the levels of
functional groups that bring the viewer there."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, F, Max, Min
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from cohorts.choices import Sequence
from cohorts.imaging.dicom.describe import MAX_RULES, ROLES
from cohorts.imaging.stacks import study_stacks
from cohorts.models import Cohort, Series
from cohorts.roles import COORDINATOR, has_role
from cohorts.selectors import cohort_get_for_user, study_get_for_user

from .models import FunctionalGroup, Read
from .services import (
    cohort_series_rules_set,
    series_sequence_set,
    study_group_level_set,
)
from .services.imaging import ROLES_LOCKED


def _coordinator_cohort(request: HttpRequest, slug: str) -> Cohort:
    if not has_role(request.user, COORDINATOR):
        raise PermissionDenied
    return cohort_get_for_user(slug=slug, user=request.user)


def _first_error(exc: ValidationError) -> str:
    return next(iter(exc.messages), "Not saved.")


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def study_reading_setup(request: HttpRequest, slug: str, study_id: int) -> HttpResponse:
    cohort = _coordinator_cohort(request, slug)
    study = study_get_for_user(user=request.user, cohort=cohort, study_id=study_id)
    if request.method == "POST":
        try:
            if request.POST.get("action") == "role":
                _set_role(request, study)
            elif request.POST.get("action") == "levels":
                _set_levels(request, study)
            else:
                raise ValidationError("Unknown action.")
        except ValidationError as exc:
            messages.error(request, _first_error(exc))
        return redirect("scoring:study-reading", slug=cohort.slug, study_id=study.pk)
    series_rows = (
        Series.objects.filter(study=study)
        .annotate(
            n=Count("instances"),
            top=Max("instances__position_along_normal"),
            bottom=Min("instances__position_along_normal"),
        )
        # Role by role, each role's stations from head to foot.
        .order_by("sequence", F("top").desc(nulls_last=True), "series_number", "pk")
    )
    submitted = Read.objects.filter(study=study, status=Read.Status.SUBMITTED).count()
    groups = FunctionalGroup.objects.select_related("region").order_by("region__order", "order")
    levels = study.group_levels or {}
    return render(
        request,
        "scoring/study_reading.html",
        {
            "cohort": cohort,
            "study": study,
            "series_rows": series_rows,
            "roles": ROLES,
            "submitted": submitted,
            "roles_locked": ROLES_LOCKED if submitted else "",
            "stacks": study_stacks(study_id=study.pk, roles=[Sequence.STIR, Sequence.T1]),
            "groups": [{"group": g, "level": levels.get(g.slug)} for g in groups],
        },
    )


def _set_role(request: HttpRequest, study) -> None:
    try:
        series = Series.objects.get(pk=int(request.POST.get("series", "")), study=study)
    except (ValueError, Series.DoesNotExist) as exc:
        raise ValidationError("No such series in this study.") from exc
    role = request.POST.get("role", "")
    series_sequence_set(series=series, sequence=role, actor=request.user)
    messages.success(request, f"Series {series.series_number or series.pk} is now {role}.")


@transaction.atomic
def _set_levels(request: HttpRequest, study) -> None:
    changed = 0
    for group in FunctionalGroup.objects.all():
        field = f"level-{group.slug}"
        if field not in request.POST:
            continue
        text = request.POST[field].strip()
        position = float(text) if _is_number(text) else (text or None)
        before = (study.group_levels or {}).get(group.slug)
        if position == before:
            continue
        study = study_group_level_set(
            study=study, group=group.slug, position=position, actor=request.user
        )
        changed += 1
    messages.success(request, f"{changed} level{'s' if changed != 1 else ''} saved.")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class SeriesRulesForm(forms.Form):
    rules = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 8, "cols": 60}),
        required=False,
        help_text=(
            "One rule per line: a pattern, '=>', a role (STIR, T1 or OTHER). Patterns are "
            "shell-style and case-insensitive, tried in order on the series description: "
            "*STIR*, t1_tse*, *_W (Dixon water)."
        ),
    )

    def clean_rules(self) -> list[dict]:
        rules = []
        lines = [line.strip() for line in self.cleaned_data["rules"].splitlines()]
        for number, line in enumerate((line for line in lines if line), start=1):
            pattern, arrow, role = line.rpartition("=>")
            if not arrow:
                raise ValidationError(f"Line {number}: write pattern => ROLE.")
            rules.append({"pattern": pattern.strip(), "role": role.strip().upper()})
        if len(rules) > MAX_RULES:
            raise ValidationError(f"At most {MAX_RULES} rules.")
        return rules


def _rules_text(rules: list[dict]) -> str:
    return "\n".join(f"{r['pattern']} => {r['role']}" for r in rules)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def series_rules(request: HttpRequest, slug: str) -> HttpResponse:
    """The cohort's description rules, and the descriptions its series carry."""
    cohort = _coordinator_cohort(request, slug)
    form = SeriesRulesForm(
        request.POST or None, initial={"rules": _rules_text(cohort.series_rules)}
    )
    if request.method == "POST" and form.is_valid():
        try:
            changed = cohort_series_rules_set(
                cohort=cohort, rules=form.cleaned_data["rules"], actor=request.user
            )
        except ValidationError as exc:
            for message in exc.messages:
                form.add_error("rules", message)
        else:
            n = len(changed)
            messages.success(
                request, f"Rules saved; {n} series {'has' if n == 1 else 'have'} a new role."
            )
            return redirect("scoring:series-rules", slug=cohort.slug)
    descriptions = (
        Series.objects.filter(study__patient__cohort=cohort)
        .values("description", "sequence_detected", "sequence", "role_source")
        .annotate(n=Count("pk"))
        .order_by("description", "sequence")
    )
    return render(
        request,
        "scoring/series_rules.html",
        {"cohort": cohort, "form": form, "descriptions": descriptions},
    )
