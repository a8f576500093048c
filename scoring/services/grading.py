"""Writing grades: a reader's saves (every keypress) and whole reads (demo, score sheets)."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from analytics.services import results_mark_stale
from cohorts.audit import audit_event, audit_record, audit_record_many
from iim_scoring.db.statements import insert_rows
from scoring.models import (
    Grade,
    GradeSequence,
    GradeValue,
    Muscle,
    Read,
    ScoringProtocol,
    Side,
)
from scoring.services.messages import (
    GRADE_CELL_INVALID,
    GRADE_VALUE_INVALID,
    READ_INCOMPLETE,
    READ_LOCKED,
    READ_STALE,
)


def _validate_cell(
    protocol: ScoringProtocol,
    muscle: Muscle,
    side: str,
    sequence: str,
    value: str,
    protocol_ids: set[int],
) -> None:
    """A cell of a read on `protocol`, whose muscles' ids are `protocol_ids`."""
    if sequence not in protocol.sequences or sequence not in GradeSequence.values:
        raise ValidationError(GRADE_CELL_INVALID)
    scale = protocol.scale_of(sequence)
    if value != GradeValue.NOT_ASSESSABLE and value not in scale.values:
        raise ValidationError(
            GRADE_VALUE_INVALID.format(
                sequence=sequence, scale=scale.name, values=", ".join(scale.values), value=value
            )
        )
    allowed_sides = {Side.LEFT, Side.RIGHT} if muscle.paired else {Side.MIDLINE}
    if side not in allowed_sides:
        raise ValidationError(GRADE_CELL_INVALID)
    if muscle.pk not in protocol_ids:
        raise ValidationError(GRADE_CELL_INVALID)


@dataclass(frozen=True)
class CellChange:
    muscle: Muscle | str  # a muscle or its slug
    side: str
    sequence: str
    value: str

    @property
    def muscle_slug(self) -> str:
        return self.muscle if isinstance(self.muscle, str) else self.muscle.slug


@dataclass(frozen=True)
class _GradingLock:
    cohort_id: int
    sequences: list[str]
    n_graded: int


def _lock_grading(read: Read, expected_version: int | None) -> _GradingLock:
    """Lock the read's row for this transaction and bump its version, check the version the
    page expected, set `read.version` and `read.status`, and return what the save needs.
    Every writer of a read's grades holds this lock, so the graded count stays true until
    commit; the caller rolls the bump back if nothing changes."""
    row = (
        Read.objects.select_for_update(of=("self",))
        .filter(pk=read.pk)
        .values_list("version", "status", "study__patient__cohort_id", "protocol__sequences")
        .first()
    )
    if row is None:
        raise Read.DoesNotExist
    version, status, cohort_id, sequences = row
    if expected_version is not None and version != expected_version:
        raise ValidationError(READ_STALE, code="stale")
    Read.objects.filter(pk=read.pk).update(version=F("version") + 1)
    read.version, read.status = version, status
    n_graded = Grade.objects.filter(read_id=read.pk).count()
    return _GradingLock(cohort_id=cohort_id, sequences=sequences, n_graded=n_graded)


def _cells_named(
    read: Read, slugs: set[str]
) -> tuple[dict[str, Muscle], dict[tuple[int, str, str], Grade]]:
    """The protocol's muscles named by `slugs` and the read's stored grades of them, keyed by
    (muscle id, side, sequence)."""
    muscles = {
        m.slug: m
        for m in Muscle.objects.filter(protocols__pk=read.protocol_id, slug__in=slugs).only(
            "id", "slug", "paired"
        )
    }
    existing = {
        (g.muscle_id, g.side, g.sequence): g
        for g in Grade.objects.filter(read_id=read.pk, muscle__in=muscles.values())
    }
    return muscles, existing


@transaction.atomic
def grades_set(
    *,
    read: Read,
    changes: list[CellChange],
    actor: AbstractBaseUser,
    expected_version: int | None,
    reason: str = "",
) -> Read:
    """Record one or more cells of a read (one cell, a copied side, a whole group).

    Refuses a submitted read (amend first) and a stale version (another tab saved since).
    Each changed cell gets its own audit row; unchanged cells write nothing. The returned read
    carries `n_graded`, its graded cells after the change.
    """
    lock = _lock_grading(read, expected_version)
    read.n_graded = lock.n_graded
    if read.status == Read.Status.SUBMITTED:
        raise ValidationError(READ_LOCKED, code="locked")
    slugs = {change.muscle_slug for change in changes}
    muscles, existing = _cells_named(read, slugs)
    unknown = slugs - set(muscles)
    if unknown:
        raise ValidationError(f"{GRADE_CELL_INVALID} ({', '.join(sorted(unknown))})")
    in_protocol = {muscle.pk for muscle in muscles.values()}
    for change in changes:
        muscle = muscles[change.muscle_slug]
        _validate_cell(
            read.protocol, muscle, change.side, change.sequence, change.value, in_protocol
        )
    # The last value of each cell counts (a request may name a cell twice); equal values
    # write nothing.
    final = {(muscles[c.muscle_slug].pk, c.side, c.sequence): c for c in changes}
    changed = {
        key: change
        for key, change in final.items()
        if key not in existing or existing[key].value != change.value
    }
    if not changed:
        transaction.set_rollback(True)  # the version bump: nothing was saved
        return read
    written = {
        key: Grade(
            read_id=read.pk,
            muscle_id=key[0],
            side=change.side,
            sequence=change.sequence,
            value=change.value,
        )
        for key, change in changed.items()
    }
    # New cells and changed ones in one statement; each instance gets its row's id.
    insert_rows(
        list(written.values()),
        unique_fields=("read", "muscle", "side", "sequence"),
        update_fields=("value", "updated_at"),
    )
    read.n_graded += sum(1 for key in changed if key not in existing)
    events = [
        audit_event(
            actor=actor,
            action="grade.set",
            target=written[key],
            cohort_id=lock.cohort_id,
            old=existing[key].value if key in existing else None,
            new=change.value,
            reason=reason,
        )
        for key, change in changed.items()
    ]
    read.version += 1  # the bump taken with the lock
    if read.status == Read.Status.ASSIGNED:
        events.append(
            audit_event(
                actor=actor,
                action="read.status",
                target=read,
                cohort_id=lock.cohort_id,
                old=read.status,
                new=Read.Status.IN_PROGRESS,
            )
        )
        read.status = Read.Status.IN_PROGRESS
        Read.objects.filter(pk=read.pk).update(status=read.status)
    audit_record_many(events)
    results_mark_stale(cohort_id=lock.cohort_id, read_id=read.pk)
    return read


def read_missing_cells(*, read: Read) -> list[tuple[Muscle, str, str]]:
    """Cells of the protocol not yet graded (NA counts as graded), in atlas order."""
    graded = set(Grade.objects.filter(read=read).values_list("muscle_id", "side", "sequence"))
    missing = []
    muscles = read.protocol.muscles.select_related("group__region").order_by(
        "group__region__order", "group__order", "order"
    )
    for muscle in muscles:
        sides = [Side.RIGHT, Side.LEFT] if muscle.paired else [Side.MIDLINE]
        for side in sides:
            for sequence in read.protocol.sequences:
                if (muscle.pk, side, sequence) not in graded:
                    missing.append((muscle, side, sequence))
    return missing


@transaction.atomic
def read_record_complete(
    *,
    read: Read,
    cells: dict[tuple[str, str, str], str],
    actor: AbstractBaseUser | None,
    reason: str,
    submit: bool,
) -> Read:
    """Write a whole read at once (demo seed, score-sheet import), one audit row per cell.

    `cells` maps (muscle slug, side, sequence) to a grade value. Refuses a read that already has
    grades: imports never overwrite a reader's work.
    """
    if Grade.objects.filter(read=read).exists():
        raise ValidationError(f"Read {read.blind_label} already has grades; nothing was imported.")
    muscles = {m.slug: m for m in read.protocol.muscles.all()}
    protocol_ids = {m.pk for m in muscles.values()}
    grades = []
    for (slug, side, sequence), value in cells.items():
        muscle = muscles.get(slug)
        if muscle is None:
            raise ValidationError(GRADE_CELL_INVALID)
        _validate_cell(read.protocol, muscle, side, sequence, value, protocol_ids)
        grades.append(Grade(read=read, muscle=muscle, side=side, sequence=sequence, value=value))
    created = Grade.objects.bulk_create(grades, batch_size=2000)
    cohort = read.study.patient.cohort
    audit_record_many(
        [
            audit_event(
                actor=actor,
                action="grade.set",
                target=g,
                cohort=cohort,
                new=g.value,
                reason=reason,
            )
            for g in created
        ]
    )
    old_status = read.status
    read.status = Read.Status.SUBMITTED if submit else Read.Status.IN_PROGRESS
    read.submitted_at = timezone.now() if submit else None
    read.version += 1
    read.save(update_fields=["status", "submitted_at", "version"])
    audit_record(
        actor=actor,
        action="read.status",
        target=read,
        cohort=cohort,
        old=old_status,
        new=read.status,
        reason=reason,
    )
    if submit and read_missing_cells(read=read):
        raise ValidationError(READ_INCOMPLETE, code="incomplete")
    results_mark_stale(cohort_id=cohort.pk, read_id=read.pk)
    return read
