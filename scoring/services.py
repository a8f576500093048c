"""Writes of the scoring domain: assignment, grading, submission, amendment.

Every function here runs in a transaction, writes its audit row in it, and marks the patient's
results stale through analytics' one door.
"""

from __future__ import annotations

import json
import random
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from analytics.services import results_mark_stale
from cohorts.audit import audit_event, audit_record, audit_record_many
from cohorts.models import AuditEvent, Cohort, ImagingStudy
from cohorts.roles import RADIOLOGIST, has_role
from iim_scoring.rows import insert_rows

from .models import (
    Grade,
    GradeSequence,
    GradeValue,
    Muscle,
    Read,
    ReaderPreference,
    ScoringProtocol,
    Side,
)

READ_LOCKED = "This read is submitted; amend it with a reason."
READ_STALE = "This read was changed elsewhere (another tab or device); reload to see the latest."
READ_INCOMPLETE = "Every cell must be graded or marked NA before the read can be submitted."
AMEND_NEEDS_REASON = "An amendment needs a reason."
AMEND_NOT_SUBMITTED = "Only a submitted read can be amended."
GRADE_VALUE_INVALID = "A grade is 0, 1, 2 or NA."
GRADE_CELL_INVALID = "That muscle, side or sequence is not part of this read's protocol."
READER_NOT_RADIOLOGIST = "Reads can only be assigned to users with the radiologist role."
FINDING_INVALID = "That region-level finding is not part of this read's protocol."

_LABEL_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no I/O/0/1: read aloud without doubt


def _new_blind_label() -> str:
    while True:
        label = "R-" + "".join(secrets.choice(_LABEL_ALPHABET) for _ in range(4))
        if not Read.objects.filter(blind_label=label).exists():
            return label


def _read_state(read: Read) -> dict[str, object]:
    return {"status": read.status, "version": read.version}


@transaction.atomic
def read_assign(
    *,
    study: ImagingStudy,
    protocol: ScoringProtocol,
    reader: AbstractBaseUser,
    actor: AbstractBaseUser | None,
    kind: str = Read.Kind.PRIMARY,
    rereads: Read | None = None,
    not_before=None,  # noqa: ANN001 - datetime | None
    is_synthetic: bool = False,
) -> Read:
    """Give one study to one reader; returns the existing read if that assignment exists."""
    if not has_role(reader, RADIOLOGIST):
        raise ValidationError(READER_NOT_RADIOLOGIST)
    existing = Read.objects.filter(study=study, protocol=protocol, reader=reader, kind=kind).first()
    if existing is not None:
        return existing
    read = Read.objects.create(
        study=study,
        protocol=protocol,
        reader=reader,
        kind=kind,
        rereads=rereads,
        not_before=not_before,
        blind_label=_new_blind_label(),
        sort_key=random.random(),
        is_synthetic=is_synthetic,
    )
    audit_record(
        actor=actor,
        action="read.assign",
        target=read,
        cohort=study.patient.cohort,
        new={"reader": reader.get_username(), "kind": kind, "study": study.pk},
    )
    return read


@dataclass(frozen=True)
class AssignmentPlan:
    readers: list[AbstractBaseUser]
    double_reading: bool = False
    consensus_reader: AbstractBaseUser | None = None
    reread_fraction: float = 0.10
    reread_after_days: int = 28


@transaction.atomic
def reads_assign_bulk(
    *,
    cohort: Cohort,
    protocol: ScoringProtocol,
    plan: AssignmentPlan,
    actor: AbstractBaseUser | None,
    studies: Iterable[ImagingStudy] | None = None,
) -> list[Read]:
    """Assign a cohort's studies round-robin to readers.

    Double reading gives each study to two different readers; a consensus reader gets a third
    read of each double-read study; a random `reread_fraction` of primary reads is re-read by the
    same reader after `reread_after_days`, appearing on the worklist as a new case.
    """
    if not plan.readers:
        raise ValidationError("Choose at least one reader.")
    if plan.double_reading and len(plan.readers) < 2:
        raise ValidationError("Double reading needs at least two readers.")
    studies = list(
        studies
        if studies is not None
        else ImagingStudy.objects.filter(patient__cohort=cohort).order_by("pk")
    )
    created: list[Read] = []
    n = len(plan.readers)
    for i, study in enumerate(studies):
        first = plan.readers[i % n]
        primary = read_assign(study=study, protocol=protocol, reader=first, actor=actor)
        created.append(primary)
        if plan.double_reading:
            second = plan.readers[(i + 1) % n]
            created.append(
                read_assign(
                    study=study,
                    protocol=protocol,
                    reader=second,
                    actor=actor,
                    kind=Read.Kind.SECOND,
                )
            )
            if plan.consensus_reader is not None:
                created.append(
                    read_assign(
                        study=study,
                        protocol=protocol,
                        reader=plan.consensus_reader,
                        actor=actor,
                        kind=Read.Kind.CONSENSUS,
                    )
                )
    primaries = [r for r in created if r.kind == Read.Kind.PRIMARY]
    n_rereads = round(len(primaries) * plan.reread_fraction)
    later = timezone.now() + timedelta(days=plan.reread_after_days)
    for read in random.sample(primaries, n_rereads):
        created.append(
            read_assign(
                study=read.study,
                protocol=protocol,
                reader=read.reader,
                actor=actor,
                kind=Read.Kind.REREAD,
                rereads=read,
                not_before=later,
            )
        )
    return created


def _lock_for_change(read: Read, expected_version: int | None) -> Read:
    """The read, fetched again and locked for this transaction (submit, amend, notes)."""
    locked = Read.objects.select_for_update(of=("self",)).get(pk=read.pk)
    if expected_version is not None and locked.version != expected_version:
        raise ValidationError(READ_STALE, code="stale")
    return locked


def _validate_cell(
    sequences: list[str],
    muscle: Muscle,
    side: str,
    sequence: str,
    value: str,
    protocol_ids: set[int],
) -> None:
    """`sequences`: those the read's protocol grades."""
    if value not in GradeValue.values:
        raise ValidationError(GRADE_VALUE_INVALID)
    if sequence not in sequences or sequence not in GradeSequence.values:
        raise ValidationError(GRADE_CELL_INVALID)
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


# The grade save's statements, written out: the grid saves after every keypress, and building
# these through the ORM cost more Python time than Postgres takes to run them.
# Bump the version first: the UPDATE takes the row lock, and one statement answers what the
# save needs (the version before, the status, the cohort, the protocol's sequences, the graded
# count).
_BUMP_GRADING_SQL = (
    "UPDATE scoring_read AS r SET version = r.version + 1"
    " FROM cohorts_imagingstudy s, cohorts_patient p, scoring_scoringprotocol pr"
    " WHERE r.id = %s AND s.id = r.study_id AND p.id = s.patient_id AND pr.id = r.protocol_id"
    " RETURNING r.version - 1, r.status, p.cohort_id, pr.sequences,"
    " (SELECT count(*) FROM scoring_grade g WHERE g.read_id = r.id)"
)
# The protocol's muscles among those named (by slug), each with the read's grades of it.
_CELLS_SQL = (
    "SELECT m.id, m.slug, m.paired, g.id, g.side, g.sequence, g.value"
    " FROM scoring_muscle m"
    " JOIN scoring_scoringprotocol_muscles pm ON pm.muscle_id = m.id"
    " LEFT JOIN scoring_grade g ON g.muscle_id = m.id AND g.read_id = %s"
    " WHERE pm.scoringprotocol_id = %s AND m.slug IN ({slugs})"
)


@dataclass(frozen=True)
class _GradingLock:
    cohort_id: int
    sequences: list[str]
    n_graded: int


def _lock_grading(read: Read, expected_version: int | None) -> _GradingLock:
    """Bump the read's version (which locks its row for this transaction), check the version
    the page expected, set `read.version` and `read.status`, and return what the save needs.
    Every writer of a read's grades holds this lock, so the graded count stays true until
    commit; the caller rolls the bump back if nothing changes."""
    with connection.cursor() as cursor:
        cursor.execute(_BUMP_GRADING_SQL, [read.pk])
        row = cursor.fetchone()
    if row is None:
        raise Read.DoesNotExist
    version, status, cohort_id, sequences, n_graded = row
    if expected_version is not None and version != expected_version:
        raise ValidationError(READ_STALE, code="stale")
    read.version, read.status = version, status
    # Django's psycopg setup hands JSON columns to a raw cursor as text.
    sequences = json.loads(sequences) if isinstance(sequences, str) else sequences
    return _GradingLock(cohort_id=cohort_id, sequences=sequences, n_graded=n_graded)


def _cells_named(
    read: Read, slugs: set[str]
) -> tuple[dict[str, Muscle], dict[tuple[int, str, str], Grade]]:
    """The protocol's muscles named by `slugs` and the read's stored grades of them, keyed by
    (muscle id, side, sequence)."""
    muscles: dict[str, Muscle] = {}
    existing: dict[tuple[int, str, str], Grade] = {}
    if not slugs:  # nothing named (SQL has no empty IN list)
        return muscles, existing
    with connection.cursor() as cursor:
        cursor.execute(
            _CELLS_SQL.format(slugs=", ".join(["%s"] * len(slugs))),
            [read.pk, read.protocol_id, *slugs],
        )
        for muscle_id, slug, paired, grade_id, side, sequence, value in cursor.fetchall():
            muscles.setdefault(slug, Muscle(pk=muscle_id, slug=slug, paired=bool(paired)))
            if grade_id is not None:
                existing[(muscle_id, side, sequence)] = Grade(
                    pk=grade_id,
                    read_id=read.pk,
                    muscle_id=muscle_id,
                    side=side,
                    sequence=sequence,
                    value=value,
                )
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
            lock.sequences, muscle, change.side, change.sequence, change.value, in_protocol
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
def read_submit(*, read: Read, actor: AbstractBaseUser, expected_version: int | None) -> Read:
    """Lock a complete read. Refused while any cell is missing."""
    read = _lock_for_change(read, expected_version)
    if read.status == Read.Status.SUBMITTED:
        return read
    if read_missing_cells(read=read):
        raise ValidationError(READ_INCOMPLETE, code="incomplete")
    old = read.status
    read.status = Read.Status.SUBMITTED
    read.submitted_at = timezone.now()
    read.version += 1
    read.save(update_fields=["status", "submitted_at", "version"])
    cohort = read.study.patient.cohort
    audit_record(
        actor=actor, action="read.status", target=read, cohort=cohort, old=old, new=read.status
    )
    results_mark_stale(cohort_id=cohort.pk, read_id=read.pk)
    return read


@transaction.atomic
def read_amend(
    *,
    read: Read,
    changes: list[CellChange],
    actor: AbstractBaseUser,
    reason: str,
    expected_version: int | None,
) -> Read:
    """Change grades of a submitted read; the reason is recorded on every changed cell."""
    reason = reason.strip()
    if not reason:
        raise ValidationError(AMEND_NEEDS_REASON, code="reason")
    locked = _lock_for_change(read, expected_version)
    if locked.status != Read.Status.SUBMITTED:
        raise ValidationError(AMEND_NOT_SUBMITTED)
    cohort = locked.study.patient.cohort
    # Reopen inside the transaction so grades_set accepts the change, then lock again.
    Read.objects.filter(pk=locked.pk).update(status=Read.Status.IN_PROGRESS)
    locked.status = Read.Status.IN_PROGRESS
    updated = grades_set(
        read=locked, changes=changes, actor=actor, expected_version=None, reason=reason
    )
    Read.objects.filter(pk=locked.pk).update(status=Read.Status.SUBMITTED)
    updated.status = Read.Status.SUBMITTED
    audit_record(
        actor=actor,
        action="read.amend",
        target=updated,
        cohort=cohort,
        new=[f"{c.muscle_slug} {c.side} {c.sequence}={c.value}" for c in changes],
        reason=reason,
    )
    return updated


@transaction.atomic
def read_update_notes(
    *,
    read: Read,
    actor: AbstractBaseUser,
    expected_version: int | None,
    note: str | None = None,
    findings: dict[str, dict[str, bool]] | None = None,
) -> Read:
    """Free-text note and region-level yes/no findings (fasciitis, vascular engorgement, ...)."""
    read = _lock_for_change(read, expected_version)
    if read.status == Read.Status.SUBMITTED:
        raise ValidationError(READ_LOCKED, code="locked")
    fields = []
    cohort = read.study.patient.cohort
    if note is not None and note != read.note:
        audit_record(
            actor=actor, action="read.note", target=read, cohort=cohort, old=read.note, new=note
        )
        read.note = note
        fields.append("note")
    if findings is not None:
        allowed = set(read.protocol.region_findings)
        for per_region in findings.values():
            if not set(per_region) <= allowed:
                raise ValidationError(FINDING_INVALID)
        if findings != read.findings:
            audit_record(
                actor=actor,
                action="read.findings",
                target=read,
                cohort=cohort,
                old=read.findings,
                new=findings,
            )
            read.findings = findings
            fields.append("findings")
    if fields:
        read.version += 1
        read.save(update_fields=[*fields, "version"])
    return read


def read_add_active_time(*, read: Read, seconds: int) -> None:
    """Add active reading time (the page reports it while the reader is present and working)."""
    seconds = max(0, min(int(seconds), 300))  # one report never claims more than 5 minutes
    if seconds:
        from django.db.models import F

        Read.objects.filter(pk=read.pk).update(active_seconds=F("active_seconds") + seconds)


def read_audit_trail(*, read: Read) -> list[AuditEvent]:
    grade_ids = [str(pk) for pk in Grade.objects.filter(read=read).values_list("pk", flat=True)]
    events = AuditEvent.objects.filter(target_type="scoring.read", target_id=str(read.pk)) | (
        AuditEvent.objects.filter(target_type="scoring.grade", target_id__in=grade_ids)
    )
    return list(events.select_related("actor").order_by("at", "pk"))


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
        _validate_cell(read.protocol.sequences, muscle, side, sequence, value, protocol_ids)
        grades.append(Grade(read=read, muscle=muscle, side=side, sequence=sequence, value=value))
    created = Grade.objects.bulk_create(grades, batch_size=2000)
    cohort = read.study.patient.cohort
    user = actor if actor is not None and actor.is_authenticated else None
    AuditEvent.objects.bulk_create(
        [
            AuditEvent(
                actor=user,
                action="grade.set",
                cohort=cohort,
                target_type="scoring.grade",
                target_id=str(g.pk),
                old=None,
                new=g.value,
                reason=reason,
            )
            for g in created
        ],
        batch_size=2000,
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


def reader_preferences_update(
    *, reader: AbstractBaseUser, voi: dict | None = None, keymap: dict | None = None
) -> ReaderPreference:
    """Merge the reader's last window/level per sequence and remapped shortcuts."""
    prefs, _ = ReaderPreference.objects.get_or_create(reader=reader)
    fields = []
    if voi is not None:
        prefs.voi = {**prefs.voi, **{k: v for k, v in voi.items() if k in ("STIR", "T1")}}
        fields.append("voi")
    if keymap is not None:
        prefs.keymap = {**prefs.keymap, **keymap}
        fields.append("keymap")
    if fields:
        prefs.save(update_fields=fields)
    return prefs
