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
from cohorts.models import Cohort, ImagingStudy
from cohorts.roles import RADIOLOGIST, has_role
from scoring.models import (
    Read,
    ScoringProtocol,
)
from scoring.services.messages import READER_NOT_RADIOLOGIST

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
    not_before=None,  # datetime | None
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
