"""Who sees which read. Every view and API that touches a read goes through here."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Count, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from cohorts.roles import COORDINATOR, RADIOLOGIST, has_role
from cohorts.selectors import cohorts_for_user

from .models import Grade, Muscle, Read, ScoringProtocol, Side


def _reads_visible_to(reader: AbstractBaseUser) -> QuerySet[Read]:
    """The one rule of what a radiologist may open: their own reads, and a re-read only from
    its `not_before` time on (so it comes back as a new case)."""
    return Read.objects.filter(reader=reader).filter(
        Q(not_before__isnull=True) | Q(not_before__lte=timezone.now())
    )


def reads_for_reader(*, reader: AbstractBaseUser) -> QuerySet[Read]:
    """A radiologist's worklist: the reads they may open, blind fields only, in the reader's
    random order."""
    return (
        _reads_visible_to(reader)
        .only("id", "token", "blind_label", "status", "sort_key", "protocol_id", "version")
        .order_by("sort_key")
    )


def worklist_for_reader(*, reader: AbstractBaseUser) -> QuerySet[Read]:
    """`reads_for_reader` with each read's number of graded cells (`n_graded`)."""
    return reads_for_reader(reader=reader).annotate(n_graded=Count("grades"))


def read_get_for_reader(*, read_token: str, user: AbstractBaseUser | AnonymousUser) -> Read:
    """The reader's own read, named by its token (404 for anyone else, including other
    radiologists); every grade save and image fetch starts here."""
    if not user.is_authenticated or not has_role(user, RADIOLOGIST):
        raise Http404("No such read.")
    read = _reads_visible_to(user).filter(token=read_token).first()
    if read is None:
        raise Http404("No such read.")
    return read


def read_get_for_coordinator(*, read_id: int, user: AbstractBaseUser | AnonymousUser) -> Read:
    """A coordinator sees any read of the cohorts they belong to (audit, amendments)."""
    if not user.is_authenticated or not has_role(user, COORDINATOR):
        raise Http404("No such read.")
    try:
        return Read.objects.select_related("study__patient__cohort", "protocol", "reader").get(
            pk=read_id, study__patient__cohort__in=cohorts_for_user(user=user)
        )
    except Read.DoesNotExist as exc:
        raise Http404("No such read.") from exc


def protocol_muscles(*, protocol: ScoringProtocol) -> QuerySet[Muscle]:
    """The protocol's muscles in atlas order, with group and region for display."""
    return protocol.muscles.select_related("group__region").order_by(
        "group__region__order", "group__order", "order"
    )


def protocol_cell_count(*, protocol: ScoringProtocol) -> int:
    """Number of grade cells a complete read has: muscles × sides × graded sequences."""
    muscles = list(protocol.muscles.values_list("paired", flat=True))
    sides = sum(2 if paired else 1 for paired in muscles)
    return sides * len(protocol.sequences)


def next_open_read(*, reader: AbstractBaseUser, after: Read) -> Read | None:
    """The next unsubmitted read on the reader's worklist after `after` (wrapping around)."""
    open_reads = list(
        reads_for_reader(reader=reader).exclude(status=Read.Status.SUBMITTED).exclude(pk=after.pk)
    )
    later = [r for r in open_reads if r.sort_key > after.sort_key]
    return (later or open_reads or [None])[0]


def read_stacks(*, read: Read) -> list:
    """The stacks the read is graded on: for each graded sequence role, its axial series
    composed into one head-to-foot stack, and a coronal or sagittal series in its own
    orientation (cohorts/imaging/stacks.py says how stations are joined)."""
    from cohorts.imaging.stacks import study_stacks

    return study_stacks(study_id=read.study_id, roles=read.protocol.sequences)


def read_levels(*, read: Read) -> dict[str, dict]:
    """Known levels of functional groups for this read, {group slug: {position, source}}:
    the coordinator's levels of the study, overridden by the reader's own pins."""
    levels = {
        group: {"position": position, "source": "study"}
        for group, position in (read.study.group_levels or {}).items()
    }
    for group, position in (read.level_pins or {}).items():
        levels[group] = {"position": position, "source": "read"}
    return levels


def read_instance_get(*, read: Read, image: str):
    """An image of the read's own study, named by its token in this read (404 for anything
    else). The token → id map of the read is computed once and kept in the cache (a speed-up
    only: it is recomputed whenever the cache has dropped it)."""
    from django.core.cache import cache

    from cohorts.models import Instance

    from .blinding import image_token

    key = f"read-images:{read.token}"
    images = cache.get(key)
    if images is None or image not in images:
        ids = Instance.objects.filter(series__study_id=read.study_id).values_list("pk", flat=True)
        images = {image_token(read=read, instance_id=pk): pk for pk in ids}
        cache.set(key, images, timeout=3600)
    instance = Instance.objects.filter(pk=images.get(image), series__study_id=read.study_id).first()
    if instance is None:
        raise Http404("No such image.")
    return instance


def grid_rows(*, read: Read) -> list[dict]:
    """The grading grid: one row per muscle with its region and group, in atlas order."""
    rows = []
    for muscle in protocol_muscles(protocol=read.protocol):
        rows.append(
            {
                "muscle": muscle,
                "group": muscle.group,
                "region": muscle.group.region,
                "sides": ["R", "L"] if muscle.paired else ["M"],
            }
        )
    return rows


def read_audit_rows(*, read: Read, events: list) -> list[dict]:
    """The read's audit events, each with what it changed in a reader's words: a grade as
    "Deltoid · right · STIR" (not "scoring.grade #14161"), the read itself as its blind label."""
    grade_ids = [int(e.target_id) for e in events if e.target_type == "scoring.grade"]
    grades = {str(g.pk): g for g in Grade.objects.filter(pk__in=grade_ids).select_related("muscle")}
    rows = []
    for event in events:
        grade = grades.get(event.target_id) if event.target_type == "scoring.grade" else None
        if grade is not None:
            side = Side(grade.side).label.lower()
            target = f"{grade.muscle.name} · {side} · {grade.sequence}"
        elif event.target_type == "scoring.read":
            target = f"read {read.blind_label}"
        else:
            target = f"{event.target_type} #{event.target_id}"
        rows.append({"event": event, "target": target})
    return rows


def protocol_has_grades(protocol: ScoringProtocol) -> bool:
    """Whether any read on `protocol` holds a grade (its scales are then fixed)."""
    return Grade.objects.filter(read__protocol=protocol).exists()
