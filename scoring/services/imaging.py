"""How a study is read: the roles its series fill (the cohort's description rules) and the
levels of functional groups that bring the viewer to them (a coordinator's per study, a
reader's own pins per read). Each write is audited."""

from __future__ import annotations

import math

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from analytics.services import results_mark_stale
from cohorts.audit import audit_record
from cohorts.imaging.dicom.describe import rules_errors, series_role
from cohorts.models import Cohort, ImagingStudy, Series
from scoring.models import FunctionalGroup, Read

POSITION_LIMIT_MM = 5000.0  # a body is shorter; anything beyond is a typo
LEVEL_GROUP_UNKNOWN = "No functional group '{group}' in this read's protocol."
LEVEL_POSITION_INVALID = "A level is a position in mm between -5000 and 5000."
ROLES_LOCKED = (
    "This study has submitted reads: their grades were given on the series as they are, so "
    "its series' roles can no longer change."
)


def study_has_submitted_reads(study_id: int) -> bool:
    return Read.objects.filter(study_id=study_id, status=Read.Status.SUBMITTED).exists()


def _checked_position(position: object) -> float:
    try:
        value = float(position)
    except (TypeError, ValueError) as exc:
        raise ValidationError({"position": [LEVEL_POSITION_INVALID]}) from exc
    if isinstance(position, bool) or not math.isfinite(value) or abs(value) > POSITION_LIMIT_MM:
        raise ValidationError({"position": [LEVEL_POSITION_INVALID]})
    return value


@transaction.atomic
def read_level_pin(
    *, read: Read, group: str, position: object, actor: AbstractBaseUser | None
) -> Read:
    """The reader pins "this position is the level of `group`" for their read (navigation
    only: it changes no grade, and no other reader sees it)."""
    groups = set(read.protocol.muscles.values_list("group__slug", flat=True))
    if group not in groups:
        raise ValidationError({"group": [LEVEL_GROUP_UNKNOWN.format(group=str(group)[:60])]})
    value = _checked_position(position)
    locked = Read.objects.select_for_update().get(pk=read.pk)
    old = (locked.level_pins or {}).get(group)
    locked.level_pins = {**(locked.level_pins or {}), group: value}
    locked.save(update_fields=["level_pins"])
    audit_record(
        actor=actor,
        action="read.level_pin",
        target=locked,
        cohort=locked.study.patient.cohort,
        old=None if old is None else {group: old},
        new={group: value},
    )
    return locked


@transaction.atomic
def study_group_level_set(
    *, study: ImagingStudy, group: str, position: object | None, actor: AbstractBaseUser | None
) -> ImagingStudy:
    """A coordinator sets (or, with `position` None, clears) the level of a functional group
    in a study, for every reader of it."""
    if not FunctionalGroup.objects.filter(slug=group).exists():
        raise ValidationError({"group": [f"No functional group '{str(group)[:60]}'."]})
    value = None if position is None else _checked_position(position)
    locked = ImagingStudy.objects.select_for_update().get(pk=study.pk)
    levels = dict(locked.group_levels or {})
    old = levels.get(group)
    if value is None:
        levels.pop(group, None)
    else:
        levels[group] = value
    if old == value:
        return locked
    locked.group_levels = levels
    locked.save(update_fields=["group_levels"])
    audit_record(
        actor=actor,
        action="study.group_level",
        target=locked,
        cohort=locked.patient.cohort,
        old={group: old},
        new={group: value},
    )
    return locked


@transaction.atomic
def cohort_series_rules_set(
    *, cohort: Cohort, rules: list[dict], actor: AbstractBaseUser | None
) -> list[Series]:
    """Save the cohort's description rules and give them to its series: every series whose
    role no coordinator set by hand, in a study without submitted reads, gets the role the
    rules (then its tags) give it. Returns the series whose role changed."""
    errors = rules_errors(rules)
    if errors:
        raise ValidationError({"rules": errors})
    rules = [{"pattern": r["pattern"].strip(), "role": r["role"]} for r in rules]
    locked = Cohort.objects.select_for_update().get(pk=cohort.pk)
    old = locked.series_rules
    locked.series_rules = rules
    locked.save(update_fields=["series_rules"])
    audit_record(
        actor=actor, action="cohort.series_rules", target=locked, cohort=locked, old=old, new=rules
    )
    locked_studies = set(
        Read.objects.filter(
            study__patient__cohort=locked, status=Read.Status.SUBMITTED
        ).values_list("study_id", flat=True)
    )
    changed = []
    candidates = (
        Series.objects.select_for_update()
        .filter(study__patient__cohort=locked)
        .exclude(role_source="coordinator")
        .exclude(study_id__in=locked_studies)
    )
    for series in candidates:
        role, why = series_role(series.description, series.sequence_detected, rules)
        if (role, why) == (series.sequence, series.role_source):
            continue
        audit_record(
            actor=actor,
            action="series.sequence",
            target=series,
            cohort=locked,
            old={"sequence": series.sequence, "source": series.role_source},
            new={"sequence": role, "source": why},
        )
        series.sequence, series.role_source = role, why
        series.save(update_fields=["sequence", "role_source"])
        changed.append(series)
    if changed:
        results_mark_stale(cohort_id=locked.pk)
    return changed
