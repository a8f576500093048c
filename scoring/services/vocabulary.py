"""Writes the admin still makes: the shared vocabulary (atlas, protocols) and a series' sequence
role. Each is audited and marks stale the results of every cohort it can change (issue 22: an
admin change wrote no audit row and left results as they were)."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.forms.models import model_to_dict

from analytics.services import results_mark_stale
from cohorts.audit import audit_record
from cohorts.choices import Sequence
from cohorts.models import Cohort, Series
from scoring.models import FunctionalGroup, Muscle, Region, ScoringProtocol
from scoring.services.imaging import ROLES_LOCKED, study_has_submitted_reads

SEQUENCE_INVALID = "A series' sequence is one of STIR, T1 or Other."


def _jsonable(values: dict) -> dict:
    out = {}
    for key, value in values.items():
        if isinstance(value, models.Model):
            value = value.pk
        elif isinstance(value, list | tuple) and value and isinstance(value[0], models.Model):
            value = sorted(v.pk for v in value)
        out[key] = (
            value if isinstance(value, str | int | float | bool | list | dict) else str(value)
        )
    return out


def vocabulary_snapshot(obj: models.Model) -> dict:
    """The audited fields of an atlas row or protocol (many-to-many as sorted ids)."""
    return {} if obj.pk is None else _jsonable(model_to_dict(obj))


def _cohorts_using(obj: models.Model) -> Iterable[int]:
    """Cohorts whose reads or default protocol can be changed by `obj`."""
    if isinstance(obj, ScoringProtocol):
        protocols = ScoringProtocol.objects.filter(pk=obj.pk)
    elif isinstance(obj, Muscle):
        protocols = ScoringProtocol.objects.filter(muscles=obj)
    elif isinstance(obj, FunctionalGroup):
        protocols = ScoringProtocol.objects.filter(muscles__group=obj)
    elif isinstance(obj, Region):
        protocols = ScoringProtocol.objects.filter(muscles__group__region=obj)
    else:
        return []
    return (
        Cohort.objects.filter(
            models.Q(patients__studies__reads__protocol__in=protocols)
            | models.Q(scoring_setup__protocol__in=protocols)
        )
        .distinct()
        .values_list("pk", flat=True)
    )


@transaction.atomic
def vocabulary_record_change(
    *, obj: models.Model, actor: AbstractBaseUser | None, old: dict, created: bool
) -> None:
    """Audit a saved atlas row or protocol (old → new of the fields that changed) and mark the
    results of every cohort it touches stale. The caller (the admin) has saved `obj` and its
    many-to-many fields in this transaction."""
    new = vocabulary_snapshot(obj)
    changed = sorted(k for k in new if new.get(k) != old.get(k))
    if not changed and not created:
        return
    audit_record(
        actor=actor,
        action=f"{obj._meta.model_name}.{'create' if created else 'update'}",
        target=obj,
        old=None if created else {k: old.get(k) for k in changed},
        new={k: new[k] for k in changed},
    )
    for cohort_id in _cohorts_using(obj):
        results_mark_stale(cohort_id=cohort_id)


@transaction.atomic
def series_sequence_set(*, series: Series, sequence: str, actor: AbstractBaseUser | None) -> Series:
    """A coordinator sets the sequence role of a series (the tags or the rules misled the
    import): which series readers are shown changes, so it is audited and the cohort's
    results marked stale. Refused once the study has submitted reads (their grades were given
    on the series as they were); no description rule overrides it afterwards."""
    if sequence not in Sequence.values:
        raise ValidationError({"sequence": [SEQUENCE_INVALID]})
    locked = Series.objects.select_for_update().select_related("study__patient").get(pk=series.pk)
    if locked.sequence == sequence and locked.role_source == "coordinator":
        return locked
    if study_has_submitted_reads(locked.study_id):
        raise ValidationError({"sequence": [ROLES_LOCKED]})
    old = locked.sequence
    locked.sequence, locked.role_source = sequence, "coordinator"
    locked.save(update_fields=["sequence", "role_source"])
    cohort_id = locked.study.patient.cohort_id
    audit_record(
        actor=actor,
        action="series.sequence",
        target=locked,
        cohort=locked.study.patient.cohort,
        old=old,
        new=sequence,
    )
    results_mark_stale(cohort_id=cohort_id)
    return locked
