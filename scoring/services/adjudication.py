"""Adjudication of double reads: the cells two readers disagree on go to a third radiologist,
whose decisions and the readers' agreed grades make the study's consensus read.

Rule (stated on the coordinator's page and in the codebook): a cell is discordant when the two
grades differ by at least the cohort's `adjudication_min_difference` steps, or one reader said
NA and the other did not. The consensus read starts with every other cell filled: the common
grade, or, where the grades differ by less than the threshold, Reader A's (the primary read's)
grade. The adjudicator sees only the discordant cells, with Reader A's and Reader B's grades
(never their names). Agreement statistics keep using the two reads, never the consensus.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from cohorts.audit import audit_record
from cohorts.models import ImagingStudy
from scoring.models import CohortProtocol, Read
from scoring.selectors import study_discordance
from scoring.services.assignment import read_assign
from scoring.services.grading import CellChange, grades_set

AGREED_REASON = "adjudication: the readers' grade"
NOT_DOUBLE_READ = (
    "Adjudication needs exactly two submitted reads of the study (a primary and a second read) "
    "on one protocol, and no consensus read yet."
)
THRESHOLD_INVALID = "The difference that sends a cell to adjudication is a whole number 1–5."


@transaction.atomic
def adjudication_assign(
    *, study: ImagingStudy, adjudicator: AbstractBaseUser, actor: AbstractBaseUser
) -> Read:
    """Give the study's discordant cells to `adjudicator` as a consensus read that holds the
    readers' agreed grades already (each written with its audit row)."""
    discordance = study_discordance(study=study)
    if discordance is None:
        raise ValidationError(NOT_DOUBLE_READ, code="not_double_read")
    read = read_assign(
        study=study,
        protocol=discordance.protocol,
        reader=adjudicator,
        actor=actor,
        kind=Read.Kind.CONSENSUS,
    )
    read.adjudication = {
        "reads": [discordance.read_a.pk, discordance.read_b.pk],
        "min_difference": discordance.min_difference,
        "cells": [list(row) for row in discordance.discordant_rows],
    }
    read.save(update_fields=["adjudication"])
    audit_record(
        actor=actor,
        action="read.adjudication_assign",
        target=read,
        cohort=study.patient.cohort,
        new={
            "adjudicator": adjudicator.get_username(),
            "reads": read.adjudication["reads"],
            "discordant_cells": len(read.adjudication["cells"]),
            "min_difference": discordance.min_difference,
        },
    )
    agreed = [CellChange(*cell, value) for cell, value in discordance.agreed().items()]
    if agreed:
        read = grades_set(
            read=read, changes=agreed, actor=actor, expected_version=None, reason=AGREED_REASON
        )
    return read


@transaction.atomic
def cohort_adjudication_threshold_set(
    *, cohort_protocol: CohortProtocol, min_difference: int, actor: AbstractBaseUser
) -> CohortProtocol:
    """Set how far apart two grades must be for a cell to go to adjudication."""
    if not 1 <= min_difference <= 5:
        raise ValidationError(THRESHOLD_INVALID, code="invalid")
    old = cohort_protocol.adjudication_min_difference
    cohort_protocol.adjudication_min_difference = min_difference
    cohort_protocol.save(update_fields=["adjudication_min_difference"])
    audit_record(
        actor=actor,
        action="cohort.adjudication_threshold",
        target=cohort_protocol,
        cohort=cohort_protocol.cohort,
        old={"min_difference": old},
        new={"min_difference": min_difference},
    )
    return cohort_protocol
