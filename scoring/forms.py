"""Coordinator forms: bulk read assignment."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model

from cohorts.roles import RADIOLOGIST

from .models import Read, ScoringProtocol


def _radiologists():
    return get_user_model().objects.filter(groups__name=RADIOLOGIST).order_by("username")


class AssignmentForm(forms.Form):
    protocol = forms.ModelChoiceField(queryset=ScoringProtocol.objects.filter(is_active=True))
    readers = forms.ModelMultipleChoiceField(
        queryset=_radiologists(),
        widget=forms.CheckboxSelectMultiple,
        help_text="Studies are shared round-robin between these readers.",
    )
    double_reading = forms.BooleanField(
        required=False, help_text="Each study also goes to a second, different reader."
    )
    consensus_reader = forms.ModelChoiceField(
        queryset=_radiologists(),
        required=False,
        help_text="With double reading: a third reader makes a consensus read of each study.",
    )
    reread_percent = forms.IntegerField(
        min_value=0,
        max_value=100,
        initial=10,
        help_text="Share of primary reads re-read by the same reader, for intra-reader agreement.",
    )
    reread_after_days = forms.IntegerField(
        min_value=0,
        max_value=365,
        initial=28,
        help_text="Re-reads appear on the reader's worklist, as new cases, after this many days.",
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Fresh querysets per form: readers added after start-up appear.
        self.fields["readers"].queryset = _radiologists()
        self.fields["consensus_reader"].queryset = _radiologists()

    def clean(self) -> dict:
        data = super().clean()
        readers = list(data.get("readers") or [])
        if data.get("double_reading") and len(readers) < 2:
            self.add_error("readers", "Double reading needs at least two readers.")
        consensus = data.get("consensus_reader")
        if consensus and not data.get("double_reading"):
            self.add_error("consensus_reader", "A consensus read needs double reading.")
        if consensus and consensus in readers:
            self.add_error(
                "consensus_reader",
                "The consensus reader must not be one of the two readers of the study.",
            )
        return data


class AdjudicationAssignForm(forms.Form):
    """One double-read study to one adjudicator (never one of its readers: the service says)."""

    study = forms.IntegerField(widget=forms.HiddenInput)
    adjudicator = forms.ModelChoiceField(queryset=_radiologists())

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["adjudicator"].queryset = _radiologists()


class AdjudicationThresholdForm(forms.Form):
    min_difference = forms.IntegerField(
        min_value=1,
        max_value=5,
        label="Discordant from a difference of",
        help_text="steps (or NA against a grade)",
    )


class TrainingAssignForm(forms.Form):
    """Reference reads to one trainee as training cases."""

    trainee = forms.ModelChoiceField(queryset=_radiologists())
    references = forms.ModelMultipleChoiceField(
        queryset=Read.objects.none(), widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, references=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["trainee"].queryset = _radiologists()
        if references is not None:
            self.fields["references"].queryset = references
        self.fields["references"].label_from_instance = lambda read: (
            f"{read.study.patient.pseudonym} t{read.study.timepoint} · {read.protocol.name}"
        )
