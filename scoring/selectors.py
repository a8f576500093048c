"""Who sees which read. Every view and API that touches a read goes through here."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Count, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from cohorts.models import ImagingStudy
from cohorts.roles import COORDINATOR, RADIOLOGIST, has_role
from cohorts.selectors import cohorts_for_user

from .models import CohortProtocol, Grade, Muscle, Read, ScoringProtocol, Side
from .scales import NOT_ASSESSABLE


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


def grid_rows(*, read: Read, feedback: TrainingFeedback | None = None) -> list[dict]:
    """The grading grid: one row per muscle with its region and group, in atlas order, and
    its cells (side x sequence). An adjudication read shows only the muscles with a cell to
    decide; each such cell carries Reader A's and Reader B's grades, its other cells are fixed
    at the readers' grade. With a training read's `feedback`, each cell carries the
    reference's grade and whether the trainee's agrees."""
    to_decide = adjudication_cells(read)
    fixed = read_cells(read) if to_decide else {}
    rows = []
    for muscle in protocol_muscles(protocol=read.protocol):
        sides = ["R", "L"] if muscle.paired else ["M"]
        cells = []
        for side in sides:
            for sequence in read.protocol.sequences:
                key = (muscle.slug, side, sequence)
                a, b = to_decide.get(key, (None, None))
                decide = not to_decide or key in to_decide
                reference = feedback.reference.get(key) if feedback else None
                cells.append(
                    {
                        "side": side,
                        "sequence": sequence,
                        "decide": decide,
                        "reference": reference,
                        "agrees": reference is not None and feedback.mine.get(key) == reference,
                        "reader_a": a,
                        "reader_b": b,
                        "fixed": None if decide else fixed.get(key, ""),
                    }
                )
        if to_decide and not any(cell["reader_a"] is not None for cell in cells):
            continue
        rows.append(
            {
                "muscle": muscle,
                "group": muscle.group,
                "region": muscle.group.region,
                "sides": sides,
                "cells": cells,
                "to_decide": [c for c in cells if c["reader_a"] is not None],
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


# --- adjudication of double reads (the rule: scoring/services/adjudication.py) --------------

Cell = tuple[str, str, str]  # muscle slug, side, sequence


@dataclass(frozen=True)
class Discordance:
    """The two reads of a double-read study, cell by cell."""

    study: ImagingStudy
    protocol: ScoringProtocol
    read_a: Read  # the primary read
    read_b: Read  # the second read
    min_difference: int
    grades_a: dict[Cell, str]
    grades_b: dict[Cell, str]

    def is_discordant(self, cell: Cell) -> bool:
        a, b = self.grades_a.get(cell, NOT_ASSESSABLE), self.grades_b.get(cell, NOT_ASSESSABLE)
        if NOT_ASSESSABLE in (a, b):
            return a != b
        return abs(int(a) - int(b)) >= self.min_difference

    @property
    def cells(self) -> list[Cell]:
        return sorted(set(self.grades_a) | set(self.grades_b))

    @property
    def discordant(self) -> list[Cell]:
        return [cell for cell in self.cells if self.is_discordant(cell)]

    @property
    def discordant_rows(self) -> list[tuple[str, str, str, str, str]]:
        """Each discordant cell with Reader A's and Reader B's grades."""
        a, b = self.grades_a, self.grades_b
        return [
            (*cell, a.get(cell, NOT_ASSESSABLE), b.get(cell, NOT_ASSESSABLE))
            for cell in self.discordant
        ]

    def agreed(self) -> dict[Cell, str]:
        """The consensus read's grades before adjudication (the module's rule)."""
        return {c: self.grades_a[c] for c in self.cells if not self.is_discordant(c)}


def min_difference_of(study: ImagingStudy) -> int:
    setup = CohortProtocol.objects.filter(cohort_id=study.patient.cohort_id).first()
    return setup.adjudication_min_difference if setup is not None else 1


def read_cells(read: Read) -> dict[Cell, str]:
    """A read's grades by cell: {(muscle slug, side, sequence): value}."""
    rows = Grade.objects.filter(read=read).values_list("muscle__slug", "side", "sequence", "value")
    return {(m, side, seq): value for m, side, seq, value in rows}


def study_discordance(*, study: ImagingStudy) -> Discordance | None:
    """The study's double read, or None when it has none to adjudicate: exactly one primary and
    one second read, both submitted, on one protocol, and no consensus read yet."""
    reads = list(
        Read.objects.filter(study=study, kind__in=[Read.Kind.PRIMARY, Read.Kind.SECOND])
        .select_related("protocol")
        .order_by("pk")
    )
    if Read.objects.filter(study=study, kind=Read.Kind.CONSENSUS).exists():
        return None
    primary = [r for r in reads if r.kind == Read.Kind.PRIMARY]
    second = [r for r in reads if r.kind == Read.Kind.SECOND]
    if len(primary) != 1 or len(second) != 1:
        return None
    read_a, read_b = primary[0], second[0]
    submitted = read_a.status == read_b.status == Read.Status.SUBMITTED
    if not submitted or read_a.protocol_id != read_b.protocol_id:
        return None
    return Discordance(
        study=study,
        protocol=read_a.protocol,
        read_a=read_a,
        read_b=read_b,
        min_difference=min_difference_of(study),
        grades_a=read_cells(read_a),
        grades_b=read_cells(read_b),
    )


def adjudication_cells(read: Read) -> dict[Cell, tuple[str, str]]:
    """An adjudication read's cells to decide: {cell: (Reader A's grade, Reader B's grade)}."""
    return {
        (m, side, seq): (a, b) for m, side, seq, a, b in (read.adjudication or {}).get("cells", [])
    }


@dataclass(frozen=True)
class AdjudicationRow:
    """A double-read study on the coordinator's adjudication page."""

    study: ImagingStudy
    discordance: Discordance | None  # None once adjudication is assigned
    adjudication: Read | None


def adjudication_overview(*, cohort) -> list[AdjudicationRow]:
    """The cohort's double-read studies: those waiting for adjudication, with their discordant
    cells, and those given to an adjudicator, with the adjudication read."""
    studies = (
        ImagingStudy.objects.filter(patient__cohort=cohort, reads__kind=Read.Kind.SECOND)
        .select_related("patient")
        .distinct()
        .order_by("patient__pseudonym", "timepoint")
    )
    adjudications = {
        read.study_id: read
        for read in Read.objects.filter(
            study__patient__cohort=cohort, kind=Read.Kind.CONSENSUS
        ).exclude(adjudication={})
    }
    rows = []
    for study in studies:
        if study.pk in adjudications:
            rows.append(AdjudicationRow(study, None, adjudications[study.pk]))
        elif (discordance := study_discordance(study=study)) is not None:
            rows.append(AdjudicationRow(study, discordance, None))
    return rows


# --- training reads against their reference (after submission) -------------------------------


@dataclass(frozen=True)
class TrainingFeedback:
    """A submitted training read cell by cell against its reference read."""

    reference: dict[Cell, str]  # the reference's grade of each cell
    mine: dict[Cell, str]
    groups: list[dict]  # per functional group: name, n, exact, percent
    n: int
    exact: int

    @property
    def percent(self) -> float:
        return 100 * self.exact / self.n if self.n else 0.0


def training_feedback(read: Read) -> TrainingFeedback | None:
    """For a submitted training read, its agreement with the reference; None otherwise (a
    trainee sees the reference only after submitting)."""
    if (
        read.kind != Read.Kind.TRAINING
        or read.status != Read.Status.SUBMITTED
        or read.reference_id is None
    ):
        return None
    rows = (
        Grade.objects.filter(read_id__in=[read.pk, read.reference_id])
        .order_by("muscle__group__region__order", "muscle__group__order")
        .values_list("read_id", "muscle__slug", "muscle__group__name", "side", "sequence", "value")
    )
    mine: dict[Cell, str] = {}
    reference: dict[Cell, str] = {}
    group_of: dict[Cell, str] = {}
    for read_id, muscle, group, side, sequence, value in rows:
        cell = (muscle, side, sequence)
        (mine if read_id == read.pk else reference)[cell] = value
        group_of[cell] = group
    groups: dict[str, dict] = {}
    for cell, value in mine.items():
        if cell not in reference:
            continue
        counts = groups.setdefault(group_of[cell], {"name": group_of[cell], "n": 0, "exact": 0})
        counts["n"] += 1
        counts["exact"] += value == reference[cell]
    for counts in groups.values():
        counts["percent"] = 100 * counts["exact"] / counts["n"]
    return TrainingFeedback(
        reference=reference,
        mine=mine,
        groups=list(groups.values()),
        n=sum(g["n"] for g in groups.values()),
        exact=sum(g["exact"] for g in groups.values()),
    )
