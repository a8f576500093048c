"""Assigning reads to radiologists: one read at a time, or a cohort's studies in bulk."""

from __future__ import annotations

import random
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from cohorts.audit import audit_record
from cohorts.models import Cohort, ImagingStudy, Instance
from cohorts.roles import RADIOLOGIST, has_role
from scoring.models import (
    Read,
    ScoringProtocol,
)
from scoring.services.messages import READER_HOLDS_STUDY, READER_NOT_RADIOLOGIST

_LABEL_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no I/O/0/1: read aloud without doubt


def _new_blind_label() -> str:
    while True:
        label = "R-" + "".join(secrets.choice(_LABEL_ALPHABET) for _ in range(4))
        if not Read.objects.filter(blind_label=label).exists():
            return label


@transaction.atomic
def read_assign(
    *,
    study: ImagingStudy,
    protocol: ScoringProtocol,
    reader: AbstractBaseUser,
    actor: AbstractBaseUser | None,
    kind: str = Read.Kind.PRIMARY,
    rereads: Read | None = None,
    reference: Read | None = None,
    not_before=None,  # datetime | None
    is_synthetic: bool = False,
) -> Read:
    """Give one study to one reader; returns the existing read if that assignment exists.
    A training read names the `reference` read it is compared with."""
    if not has_role(reader, RADIOLOGIST):
        raise ValidationError(READER_NOT_RADIOLOGIST)
    existing = Read.objects.filter(study=study, protocol=protocol, reader=reader, kind=kind).first()
    if existing is not None:
        return existing
    # Two reads of one study by one reader measure memory, not agreement (issue 22): only a
    # re-read, made on purpose for intra-reader agreement, may repeat a study.
    if kind != Read.Kind.REREAD and (
        Read.objects.filter(study=study, reader=reader).exclude(kind=Read.Kind.REREAD).exists()
    ):
        raise ValidationError(READER_HOLDS_STUDY, code="reader_holds_study")
    read = Read.objects.create(
        study=study,
        protocol=protocol,
        reader=reader,
        kind=kind,
        rereads=rereads,
        reference=reference,
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


@dataclass(frozen=True)
class PlannedRead:
    study: ImagingStudy
    reader: AbstractBaseUser
    kind: str


@dataclass
class AssignmentPreview:
    """What a bulk assignment would do: the reads to create, the studies skipped because they
    have no images of the protocol's sequences, and how many reads are already in place."""

    reads: list[PlannedRead]
    skipped_without_images: list[ImagingStudy]
    already_assigned: int
    rereads: int

    def per_reader(self) -> list[tuple[str, dict[str, int]]]:
        counts: dict[str, dict[str, int]] = {}
        for planned in self.reads:
            per_kind = counts.setdefault(planned.reader.get_username(), {})
            per_kind[planned.kind] = per_kind.get(planned.kind, 0) + 1
        return sorted(counts.items())


def _studies_with_images(studies: list[ImagingStudy], protocol: ScoringProtocol) -> set[int]:
    return set(
        Instance.objects.filter(
            series__study__in=studies, series__sequence__in=protocol.sequences
        ).values_list("series__study_id", flat=True)
    )


def _next_free(readers: list, start: int, holders: set[int]) -> AbstractBaseUser | None:
    """The first reader from `start` round the list who holds no read of the study yet."""
    for offset in range(len(readers)):
        reader = readers[(start + offset) % len(readers)]
        if reader.pk not in holders:
            return reader
    return None


def reads_assign_preview(
    *,
    cohort: Cohort,
    protocol: ScoringProtocol,
    plan: AssignmentPlan,
    studies: Iterable[ImagingStudy] | None = None,
) -> AssignmentPreview:
    """The reads `reads_assign_bulk` would create, without writing anything.

    Round-robin over the plan's readers, skipping any reader who already holds a read of the
    study; a study that already has its primary (second, consensus) read gets no other; a study
    without images of the protocol's sequences gets none."""
    studies = list(
        studies
        if studies is not None
        else ImagingStudy.objects.filter(patient__cohort=cohort)
        .select_related("patient")
        .order_by("pk")
    )
    with_images = _studies_with_images(studies, protocol)
    existing: dict[int, list[tuple[int, str]]] = {}
    for study_id, reader_id, kind in Read.objects.filter(study__in=studies).values_list(
        "study_id", "reader_id", "kind"
    ):
        existing.setdefault(study_id, []).append((reader_id, kind))
    planned: list[PlannedRead] = []
    skipped = []
    already = 0
    for i, study in enumerate(studies):
        if study.pk not in with_images:
            skipped.append(study)
            continue
        held = existing.get(study.pk, [])
        holders = {reader for reader, kind in held if kind != Read.Kind.REREAD}
        kinds = {kind for _reader, kind in held}
        wanted = [Read.Kind.PRIMARY]
        if plan.double_reading:
            wanted.append(Read.Kind.SECOND)
        for number, kind in enumerate(wanted):
            if kind in kinds:
                already += 1
                continue
            reader = _next_free(plan.readers, i + number, holders)
            if reader is not None:
                planned.append(PlannedRead(study, reader, kind))
                holders.add(reader.pk)
        consensus = plan.consensus_reader
        if plan.double_reading and consensus is not None:
            if Read.Kind.CONSENSUS in kinds:
                already += 1
            elif consensus.pk not in holders:
                planned.append(PlannedRead(study, consensus, Read.Kind.CONSENSUS))
                holders.add(consensus.pk)
    n_primaries = sum(1 for p in planned if p.kind == Read.Kind.PRIMARY)
    return AssignmentPreview(
        reads=planned,
        skipped_without_images=skipped,
        already_assigned=already,
        rereads=round(n_primaries * plan.reread_fraction),
    )


@transaction.atomic
def reads_assign_bulk(
    *,
    cohort: Cohort,
    protocol: ScoringProtocol,
    plan: AssignmentPlan,
    actor: AbstractBaseUser | None,
    studies: Iterable[ImagingStudy] | None = None,
) -> list[Read]:
    """Assign a cohort's studies round-robin to readers, as `reads_assign_preview` plans it.

    Double reading gives each study to two different readers; a consensus reader gets a third
    read of each double-read study; a random `reread_fraction` of the new primary reads is
    re-read by the same reader after `reread_after_days`, appearing on the worklist as a new
    case. Returns the reads created.
    """
    if not plan.readers:
        raise ValidationError("Choose at least one reader.")
    if plan.double_reading and len(plan.readers) < 2:
        raise ValidationError("Double reading needs at least two readers.")
    preview = reads_assign_preview(cohort=cohort, protocol=protocol, plan=plan, studies=studies)
    created = [
        read_assign(
            study=planned.study,
            protocol=protocol,
            reader=planned.reader,
            actor=actor,
            kind=planned.kind,
        )
        for planned in preview.reads
    ]
    primaries = [r for r in created if r.kind == Read.Kind.PRIMARY]
    later = timezone.now() + timedelta(days=plan.reread_after_days)
    for read in random.sample(primaries, preview.rereads):
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
