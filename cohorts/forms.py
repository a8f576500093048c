"""Forms of the clinical pages: they validate and shape input, the services write.

Field order is the paper's Table 1 order (sex, age, subtype and criteria, antibodies, disease
duration, MMT-8, CK, treatment), which is also the keyboard's tab order on the page. The limits
and messages come from `cohorts.services`, so the page, the browser script and every other
caller of the services say the same thing.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator

from .choices import Antibody, Criteria, EmgFinding, Sex, Subtype
from .models import ClinicalAssessment, Cohort, Patient, Site
from .services import (
    AGE_MAX,
    AGE_OUT_OF_RANGE,
    CK_MAX,
    CK_NEGATIVE,
    CK_TOO_HIGH,
    CK_ULN_MAX,
    CK_ULN_OUT_OF_RANGE,
    DAYS_FROM_BASELINE_MAX,
    DAYS_FROM_BASELINE_OUT_OF_RANGE,
    DISEASE_DURATION_NEGATIVE,
    MMT8_AXIAL_GROUP,
    MMT8_GROUP_KEYS,
    MMT8_GROUP_LABELS,
    MMT8_GROUP_MAX,
    MMT8_GROUP_OUT_OF_RANGE,
    MMT8_GROUPS_INCOMPLETE,
    MMT8_PAIRED_GROUPS,
    MMT8_SIDES,
    MMT8_TOTAL_MAX,
    MMT8_TOTAL_NOT_SUM,
    MMT8_TOTAL_OUT_OF_RANGE,
    PSEUDONYM_INVALID,
    PSEUDONYM_PATTERN,
    assessment_rule_errors,
    ck_times_uln,
    next_pseudonym,
    patient_rule_errors,
)

PSEUDONYM_TAKEN = "This pseudonym is already used in this cohort."
DAYS_FROM_BASELINE_NEGATIVE = "Days from baseline cannot be negative."

MMT8_MODE_TOTAL = "total"
MMT8_MODE_GROUPS = "groups"

# Agents offered as checkboxes; anything else goes in the free-text field.
COMMON_IMMUNOSUPPRESSANTS = (
    "Glucocorticoids",
    "Methotrexate",
    "Azathioprine",
    "Mycophenolate",
    "IVIG",
    "Rituximab",
    "Tacrolimus",
    "Ciclosporin",
    "Cyclophosphamide",
    "JAK inhibitor",
)

UNKNOWN_YES_NO = [("", "Unknown"), ("yes", "Yes"), ("no", "No")]


def _yes_no(value: str) -> bool | None:
    return {"yes": True, "no": False}.get(value)


def _yes_no_initial(value: bool | None) -> str:
    return {True: "yes", False: "no"}.get(value, "")


def _range_messages(message: str) -> dict[str, str]:
    return {"min_value": message, "max_value": message}


def _number_input(
    *, min_message: str, max_message: str | None = None, decimal: bool = False, **attrs: str
) -> forms.NumberInput:
    """A number input that carries its messages for the browser script (same text as here)."""
    attrs = {
        "inputmode": "decimal" if decimal else "numeric",
        "data-min-message": min_message,
        **attrs,
    }
    if max_message:
        attrs["data-max-message"] = max_message
    if decimal:
        attrs["step"] = "0.1"
    return forms.NumberInput(attrs=attrs)


def mmt8_field_name(key: str) -> str:
    return f"mmt8_{key}"


class ClinicalForm(forms.Form):
    """Marks fields with errors for assistive technology and the browser script."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")  # labels sit above their fields: no colon
        super().__init__(*args, **kwargs)

    def add_error(self, field: str | None, error: Any) -> None:
        super().add_error(field, error)
        for name in self._errors:
            if name in self.fields:
                attrs = self.fields[name].widget.attrs
                attrs["aria-invalid"] = "true"
                # Setting aria-describedby replaces Django's own pointer to the help text.
                described_by = [self.error_id(name)]
                if self.fields[name].help_text:
                    described_by.append(f"{self[name].auto_id}_helptext")
                attrs["aria-describedby"] = " ".join(described_by)

    def error_id(self, name: str) -> str:
        """The id of the element that shows the field's errors (the template renders it)."""
        return f"{self[name].auto_id}_error"

    def add_service_errors(self, error: ValidationError) -> None:
        """Show a service's ValidationError next to this form's fields (or above them)."""
        if not hasattr(error, "error_dict"):
            self.add_error(None, error)
            return
        for name, messages in error.message_dict.items():
            self.add_error(name if name in self.fields else None, messages)


class PatientForm(ClinicalForm):
    """A patient's attributes. On creation it also asks for the pseudonym (pre-filled)."""

    sex = forms.ChoiceField(
        choices=Sex.choices, initial=Sex.UNKNOWN, widget=forms.Select(attrs={"autofocus": True})
    )
    age_at_mri = forms.IntegerField(
        label="Age at MRI",
        required=False,
        min_value=0,
        max_value=AGE_MAX,
        error_messages=_range_messages(AGE_OUT_OF_RANGE),
        widget=_number_input(min_message=AGE_OUT_OF_RANGE, max_message=AGE_OUT_OF_RANGE),
    )
    subtype = forms.ChoiceField(choices=Subtype.choices, initial=Subtype.OTHER)
    classification_criteria = forms.MultipleChoiceField(
        label="Classification criteria met",
        required=False,
        choices=Criteria.choices,
        widget=forms.CheckboxSelectMultiple,
    )
    antibodies = forms.MultipleChoiceField(
        label="Positive antibodies",
        required=False,
        # The panel's own spelling (TIF1-γ, PM-Scl), not labels derived from member names.
        choices=[(value, value) for value in Antibody.values],
        widget=forms.CheckboxSelectMultiple(attrs={"data-rule": "antibody"}),
    )
    seronegative = forms.BooleanField(
        label="Seronegative (no myositis antibody found)",
        required=False,
        widget=forms.CheckboxInput(attrs={"data-rule": "seronegative"}),
    )
    biopsy_done = forms.ChoiceField(
        label="Muscle biopsy done", choices=UNKNOWN_YES_NO, required=False
    )
    emg_myopathic = forms.ChoiceField(
        label="EMG", choices=EmgFinding.choices, initial=EmgFinding.NOT_DONE
    )
    site = forms.ModelChoiceField(
        queryset=Site.objects.none(), required=False, empty_label="Not recorded"
    )
    pseudonym = forms.CharField(
        max_length=40,
        validators=[RegexValidator(PSEUDONYM_PATTERN, PSEUDONYM_INVALID)],
        help_text="Never a name or a hospital number.",
    )

    def __init__(
        self, *args: Any, cohort: Cohort, patient: Patient | None = None, **kwargs: Any
    ) -> None:
        if patient is not None:
            kwargs.setdefault("initial", patient_initial(patient))
        super().__init__(*args, **kwargs)
        self.cohort = cohort
        sites = cohort.sites.all()
        self.fields["site"].queryset = sites if sites.exists() else Site.objects.all()
        if patient is None:
            self.fields["pseudonym"].initial = next_pseudonym(cohort)
        else:
            del self.fields["pseudonym"]  # the pseudonym is the patient's name in URLs and exports

    def clean_pseudonym(self) -> str:
        pseudonym = self.cleaned_data["pseudonym"].strip()
        if Patient.objects.filter(cohort=self.cohort, pseudonym=pseudonym).exists():
            raise ValidationError(PSEUDONYM_TAKEN)
        return pseudonym

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        errors = patient_rule_errors(
            age_at_mri=cleaned.get("age_at_mri"),
            antibodies=cleaned.get("antibodies") or [],
            seronegative=bool(cleaned.get("seronegative")),
            classification_criteria=cleaned.get("classification_criteria") or [],
        )
        for name, messages in errors.items():
            if name not in self._errors:
                self.add_error(name, messages)
        return cleaned

    def patient_fields(self) -> dict[str, Any]:
        """The cleaned values as keyword arguments of patient_create / patient_update."""
        data = self.cleaned_data
        return {
            "sex": data["sex"],
            "age_at_mri": data["age_at_mri"],
            "subtype": data["subtype"],
            "classification_criteria": list(data["classification_criteria"]),
            "antibodies": list(data["antibodies"]),
            "seronegative": data["seronegative"],
            "biopsy_done": _yes_no(data["biopsy_done"]),
            "emg_myopathic": data["emg_myopathic"],
            "site": data["site"],
        }


def patient_initial(patient: Patient) -> dict[str, Any]:
    return {
        "sex": patient.sex,
        "age_at_mri": patient.age_at_mri,
        "subtype": patient.subtype,
        "classification_criteria": patient.classification_criteria,
        "antibodies": patient.antibodies,
        "seronegative": patient.seronegative,
        "biopsy_done": _yes_no_initial(patient.biopsy_done),
        "emg_myopathic": patient.emg_myopathic,
        "site": patient.site_id,
    }


class AssessmentForm(ClinicalForm):
    """One timepoint's clinical assessment. MMT-8 is entered as a total or per muscle group; with
    groups the total is their sum, computed here and again by the service."""

    days_from_baseline = forms.IntegerField(
        min_value=0,
        max_value=DAYS_FROM_BASELINE_MAX,
        error_messages={
            "min_value": DAYS_FROM_BASELINE_NEGATIVE,
            "max_value": DAYS_FROM_BASELINE_OUT_OF_RANGE,
        },
        help_text="Days after the baseline MRI.",
    )
    disease_duration_months = forms.DecimalField(
        label="Disease duration",
        required=False,
        min_value=Decimal(0),
        max_digits=6,
        decimal_places=1,
        error_messages={"min_value": DISEASE_DURATION_NEGATIVE},
        help_text="Months from symptom onset to diagnosis.",
        widget=_number_input(min_message=DISEASE_DURATION_NEGATIVE, decimal=True),
    )
    mmt8_mode = forms.ChoiceField(
        label="MMT-8 entered as",
        choices=[(MMT8_MODE_TOTAL, "Total"), (MMT8_MODE_GROUPS, "Per muscle group")],
        initial=MMT8_MODE_TOTAL,
        widget=forms.RadioSelect(attrs={"data-role": "mmt8-mode"}),
    )
    mmt8_total = forms.IntegerField(
        label="MMT-8 total",
        required=False,
        min_value=0,
        max_value=MMT8_TOTAL_MAX,
        error_messages=_range_messages(MMT8_TOTAL_OUT_OF_RANGE),
        widget=_number_input(
            min_message=MMT8_TOTAL_OUT_OF_RANGE,
            max_message=MMT8_TOTAL_OUT_OF_RANGE,
            **{"data-role": "mmt8-total"},
        ),
    )
    ck = forms.IntegerField(
        label="CK",
        required=False,
        min_value=0,
        max_value=CK_MAX,
        error_messages={"min_value": CK_NEGATIVE, "max_value": CK_TOO_HIGH},
        widget=_number_input(
            min_message=CK_NEGATIVE, max_message=CK_TOO_HIGH, **{"data-role": "ck"}
        ),
    )
    ck_uln = forms.IntegerField(
        label="Upper limit of normal",
        required=False,
        min_value=1,
        max_value=CK_ULN_MAX,
        error_messages=_range_messages(CK_ULN_OUT_OF_RANGE),
        help_text="Of the laboratory that measured CK.",
        widget=_number_input(
            min_message=CK_ULN_OUT_OF_RANGE,
            max_message=CK_ULN_OUT_OF_RANGE,
            **{"data-role": "ck-uln"},
        ),
    )
    treatment_naive = forms.ChoiceField(
        label="Treatment-naive",
        choices=UNKNOWN_YES_NO,
        required=False,
        widget=forms.Select(attrs={"data-rule": "treatment-naive"}),
    )
    immunosuppression_agents = forms.MultipleChoiceField(
        label="Current immunosuppression",
        required=False,
        choices=[(agent, agent) for agent in COMMON_IMMUNOSUPPRESSANTS],
        widget=forms.CheckboxSelectMultiple(attrs={"data-rule": "agent"}),
    )
    immunosuppression_other = forms.CharField(
        label="Other agents",
        required=False,
        max_length=500,
        help_text="Comma-separated.",
        widget=forms.TextInput(attrs={"data-rule": "agent"}),
    )

    def __init__(
        self,
        *args: Any,
        timepoint: int,
        assessment: ClinicalAssessment | None = None,
        autofocus: bool = True,
        **kwargs: Any,
    ) -> None:
        if assessment is not None:
            kwargs.setdefault("initial", assessment_initial(assessment))
        super().__init__(*args, **kwargs)
        self.timepoint = timepoint
        for key in MMT8_GROUP_KEYS:
            self.fields[mmt8_field_name(key)] = forms.IntegerField(
                label=MMT8_GROUP_LABELS[key],
                required=False,
                min_value=0,
                max_value=MMT8_GROUP_MAX,
                error_messages=_range_messages(MMT8_GROUP_OUT_OF_RANGE),
                widget=_number_input(
                    min_message=MMT8_GROUP_OUT_OF_RANGE,
                    max_message=MMT8_GROUP_OUT_OF_RANGE,
                    **{
                        "data-mmt8-group": key,
                        "class": "score",
                        "aria-label": f"MMT-8 {MMT8_GROUP_LABELS[key]}",
                        "data-label": MMT8_GROUP_LABELS[key],
                    },
                ),
            )
        if timepoint == 0:
            del self.fields["days_from_baseline"]  # baseline is day 0 by definition
        first = "days_from_baseline" if timepoint else "disease_duration_months"
        if autofocus:
            self.fields[first].widget.attrs["autofocus"] = True

    @property
    def mmt8_group_fields(self) -> list[forms.BoundField]:
        return [self[mmt8_field_name(key)] for key in MMT8_GROUP_KEYS]

    @property
    def mmt8_rows(self) -> list[tuple[str, list[forms.BoundField]]]:
        """The examination grid: neck flexors alone, then each paired group right and left."""
        rows = [(MMT8_AXIAL_GROUP[1], [self[mmt8_field_name(MMT8_AXIAL_GROUP[0])]])]
        for key, label in MMT8_PAIRED_GROUPS:
            rows.append((label, [self[mmt8_field_name(f"{key}_{side}")] for side, _ in MMT8_SIDES]))
        return rows

    @property
    def mmt8_groups_error_id(self) -> str:
        return f"id_{self.add_prefix('mmt8_groups')}_error"

    def error_id(self, name: str) -> str:
        if name.startswith("mmt8_") and name not in ("mmt8_total", "mmt8_mode"):
            return self.mmt8_groups_error_id  # the grid has one error list under it
        return super().error_id(name)

    def _shown(self, name: str) -> Any:
        """What the page shows for a field: the cleaned input, else the saved value."""
        if self.is_bound:
            return getattr(self, "cleaned_data", {}).get(name)
        return self.initial.get(name)

    def mmt8_groups_shown(self) -> tuple[int, int]:
        """(sum, number of groups scored) of the grid as the page shows it."""
        scores = [self._shown(mmt8_field_name(key)) for key in MMT8_GROUP_KEYS]
        scored = [score for score in scores if isinstance(score, int)]
        return sum(scored), len(scored)

    def ck_times_uln_shown(self) -> Decimal | None:
        return ck_times_uln(self._shown("ck"), self._shown("ck_uln"))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if cleaned.get("mmt8_mode") == MMT8_MODE_GROUPS:
            self._clean_mmt8_groups(cleaned)
        else:
            # Scores of a hidden, unused grid are ignored, so they must not block the save.
            for key in MMT8_GROUP_KEYS:
                self._errors.pop(mmt8_field_name(key), None)
                attrs = self.fields[mmt8_field_name(key)].widget.attrs
                attrs.pop("aria-invalid", None)
                attrs.pop("aria-describedby", None)
            cleaned["mmt8_groups"] = {}
        errors = assessment_rule_errors(
            disease_duration_months=cleaned.get("disease_duration_months"),
            ck=cleaned.get("ck"),
            ck_uln=cleaned.get("ck_uln"),
            mmt8_total=cleaned.get("mmt8_total"),
            treatment_naive=_yes_no(cleaned.get("treatment_naive", "")),
            immunosuppression=self._immunosuppression(cleaned),
        )
        for name, messages in errors.items():
            if name not in self._errors:
                self.add_error(name, messages)
        return cleaned

    def _clean_mmt8_groups(self, cleaned: dict[str, Any]) -> None:
        names = [mmt8_field_name(key) for key in MMT8_GROUP_KEYS]
        if any(name in self._errors for name in names):
            return  # a score out of range already says what to fix
        missing = [name for name in names if cleaned.get(name) is None]
        for name in missing:
            self.add_error(name, MMT8_GROUPS_INCOMPLETE)
        if missing:
            return
        groups = {key: cleaned[mmt8_field_name(key)] for key in MMT8_GROUP_KEYS}
        total = sum(groups.values())
        given = cleaned.get("mmt8_total")
        if given is not None and given != total and "mmt8_total" not in self._errors:
            self.add_error("mmt8_total", MMT8_TOTAL_NOT_SUM.format(total=total))
            return
        cleaned["mmt8_groups"] = groups
        cleaned["mmt8_total_given"] = given
        cleaned["mmt8_total"] = total

    @staticmethod
    def _immunosuppression(cleaned: dict[str, Any]) -> list[str]:
        agents = list(cleaned.get("immunosuppression_agents") or [])
        for agent in (cleaned.get("immunosuppression_other") or "").split(","):
            agent = " ".join(agent.split())
            if agent and agent.casefold() not in {a.casefold() for a in agents}:
                agents.append(agent)
        return agents

    def is_blank(self) -> bool:
        """True when nothing was entered (a new patient saved without a baseline assessment)."""
        data = self.cleaned_data
        return all(
            data.get(name) in (None, "", [])
            for name in (
                "disease_duration_months",
                "mmt8_total",
                "ck",
                "ck_uln",
                "treatment_naive",
                "immunosuppression_agents",
                "immunosuppression_other",
            )
        ) and not data.get("mmt8_groups")

    def assessment_fields(self) -> dict[str, Any]:
        """The cleaned values as keyword arguments of assessment_save."""
        data = self.cleaned_data
        groups = data.get("mmt8_groups") or {}
        fields = {
            "disease_duration_months": data["disease_duration_months"],
            "ck": data["ck"],
            "ck_uln": data["ck_uln"],
            # With groups, the service checks the typed total (if any) against its own sum.
            "mmt8_total": data.get("mmt8_total_given") if groups else data["mmt8_total"],
            "mmt8_groups": groups,
            "treatment_naive": _yes_no(data["treatment_naive"]),
            "immunosuppression": self._immunosuppression(data),
        }
        if "days_from_baseline" in self.fields:
            fields["days_from_baseline"] = data["days_from_baseline"]
        return fields


def assessment_initial(assessment: ClinicalAssessment) -> dict[str, Any]:
    groups = assessment.mmt8_groups or {}
    agents = list(assessment.immunosuppression or [])
    common = [agent for agent in agents if agent in COMMON_IMMUNOSUPPRESSANTS]
    other = [agent for agent in agents if agent not in COMMON_IMMUNOSUPPRESSANTS]
    initial: dict[str, Any] = {
        "days_from_baseline": assessment.days_from_baseline,
        "disease_duration_months": assessment.disease_duration_months,
        "mmt8_mode": MMT8_MODE_GROUPS if groups else MMT8_MODE_TOTAL,
        "mmt8_total": assessment.mmt8_total,
        "ck": assessment.ck,
        "ck_uln": assessment.ck_uln,
        "treatment_naive": _yes_no_initial(assessment.treatment_naive),
        "immunosuppression_agents": common,
        "immunosuppression_other": ", ".join(other),
    }
    for key, value in groups.items():
        initial[mmt8_field_name(key)] = value
    return initial
