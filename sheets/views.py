"""The coordinator's upload page for existing score sheets (a plain form; no JavaScript)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from cohorts.roles import COORDINATOR, RADIOLOGIST, has_role
from cohorts.selectors import cohort_get_for_user
from sheets.files import ImportRefused
from sheets.imports import GRADES, PATIENTS, score_sheet_import

MAX_SHEET_BYTES = 50 * 1024 * 1024


class ScoreSheetForm(forms.Form):
    sheet = forms.FileField(
        label="Score sheet (CSV or XLSX)",
        help_text="Grades in the grades export's columns, or clinical data in the patients "
        "export's columns.",
    )
    kind = forms.ChoiceField(
        label="Contents",
        required=False,
        choices=[("", "Detect from the columns"), (GRADES, "Grades"), (PATIENTS, "Clinical data")],
    )
    reader = forms.ModelChoiceField(
        label="Reader of every grade",
        required=False,
        queryset=get_user_model().objects.none(),
        to_field_name="username",
        empty_label="From the file's reader column",
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reader"].queryset = (
            get_user_model().objects.filter(groups__name=RADIOLOGIST).order_by("username")
        )

    def clean_sheet(self):
        sheet = self.cleaned_data["sheet"]
        if sheet.size > MAX_SHEET_BYTES:
            raise forms.ValidationError("The file is larger than 50 MB.")
        return sheet


@login_required
def score_sheet_import_page(request: HttpRequest, slug: str) -> HttpResponse:
    if not has_role(request.user, COORDINATOR):
        raise PermissionDenied
    cohort = cohort_get_for_user(slug=slug, user=request.user)
    problems = []
    form = ScoreSheetForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["sheet"]
        reader = form.cleaned_data["reader"]
        try:
            summary = score_sheet_import(
                cohort=cohort,
                content=upload.read(),
                filename=upload.name,
                actor=request.user,
                reader=reader.get_username() if reader else None,
                kind=form.cleaned_data["kind"] or None,
            )
        except ImportRefused as exc:
            problems = exc.problems
        else:
            messages.success(
                request,
                f"Imported {summary.rows_text} from {upload.name}: {summary.counts_text}.",
            )
            return redirect(request.path)
    return render(
        request,
        "analytics/import_scores.html",
        {"cohort": cohort, "form": form, "problems": problems},
    )
