"""Readers' work for the benches: a protocol's cells, and reads assigned through the services.

    cells = protocol_cells(protocol)
    read_ids = reads_assigned(cohort=cohort, protocol=protocol, reader=user,
                              pseudonyms=["BENCH-00-00", "BENCH-00-01"], description="Bench study")

For a child process of a bench, on its database with Django set up. Unlike the synthetic
cohort (bench/support/synthetic_cohort.py), these go through `patient_create` and
`read_assign`, as the app assigns a read: the reads are open, ready to be graded.
"""

from __future__ import annotations

import secrets
from typing import Any


def protocol_cells(protocol: Any) -> list[list[str]]:
    """Every cell of `protocol` as [muscle slug, side, sequence], in the atlas' order."""
    from scoring.models import Side
    from scoring.selectors import protocol_muscles

    return [
        [muscle.slug, str(side), sequence]
        for muscle in protocol_muscles(protocol=protocol)
        for side in ((Side.RIGHT, Side.LEFT) if muscle.paired else (Side.MIDLINE,))
        for sequence in protocol.sequences
    ]


def reads_assigned(
    *,
    cohort: Any,
    protocol: Any,
    reader: Any,
    pseudonyms: list[str],
    description: str,
    **patient_fields: Any,
) -> list[str]:
    """One new synthetic patient (with `patient_fields`), whole-body study and assigned read
    of `protocol` for `reader` per pseudonym; the reads' tokens (what a reader's URLs name)."""
    from cohorts.models import ImagingStudy
    from cohorts.services import patient_create
    from scoring.services import read_assign

    read_ids = []
    for pseudonym in pseudonyms:
        patient = patient_create(
            cohort=cohort, actor=None, pseudonym=pseudonym, is_synthetic=True, **patient_fields
        )
        study = ImagingStudy.objects.create(
            patient=patient,
            study_uid=f"2.25.{secrets.randbits(100)}",
            field_strength=1.5,
            description=description,
        )
        read = read_assign(study=study, protocol=protocol, reader=reader, actor=None)
        read_ids.append(read.token)
    return read_ids
