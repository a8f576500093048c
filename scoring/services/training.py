"""Training mode: a coordinator marks an expert's submitted reads as references; a trainee
reads the same studies as training reads, which are compared with the reference after
submission and never analysed (analytics leaves the kind out everywhere)."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from cohorts.audit import audit_record
from scoring.models import Read
from scoring.services.assignment import read_assign

NOT_A_REFERENCE = "Only a submitted read that is not itself a training read can be a reference."
REFERENCE_NEEDED = "A training case is a read marked as a reference."


@transaction.atomic
def read_reference_set(*, read: Read, is_reference: bool, actor: AbstractBaseUser) -> Read:
    """Mark (or unmark) an expert's submitted read as a reference for training."""
    if read.status != Read.Status.SUBMITTED or read.kind == Read.Kind.TRAINING:
        raise ValidationError(NOT_A_REFERENCE, code="not_a_reference")
    old = read.is_reference
    read.is_reference = is_reference
    read.save(update_fields=["is_reference"])
    audit_record(
        actor=actor,
        action="read.reference",
        target=read,
        cohort=read.study.patient.cohort,
        old={"is_reference": old},
        new={"is_reference": is_reference},
    )
    return read


@transaction.atomic
def training_assign(
    *, references: list[Read], trainee: AbstractBaseUser, actor: AbstractBaseUser
) -> list[Read]:
    """Give the references' studies to a trainee as training reads on the same protocols, all
    or none (a reader who holds a study already is refused by read_assign)."""
    reads = []
    for reference in references:
        if not reference.is_reference:
            raise ValidationError(REFERENCE_NEEDED, code="not_a_reference")
        reads.append(
            read_assign(
                study=reference.study,
                protocol=reference.protocol,
                reader=trainee,
                actor=actor,
                kind=Read.Kind.TRAINING,
                reference=reference,
            )
        )
    return reads
