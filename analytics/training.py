"""Training reads against their references: per case, per sequence, the exact agreement and
the linear-weighted Cohen's kappa on the sequence's whole scale (stats.agreement), in the
order the trainee submitted them: a learning curve. Training reads are never analysed; this is
their only use."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser

from cohorts.models import Cohort
from scoring.models import Read
from scoring.scales import NOT_ASSESSABLE
from scoring.selectors import read_cells

from .stats import agreement

# Fewer graded pairs than this in a sequence: the case's kappa says "too few".
TRAINING_MIN_PAIRS = 10


@dataclass(frozen=True)
class SequenceAgreement:
    sequence: str
    scale: str
    n_pairs: int  # cells both graded (not NA)
    exact: float  # share of those with the same grade
    kappa_linear: float | None  # None: too few pairs, or one grade throughout
    status: str  # "ok", "too few (n = ..., minimum ...)" or "undefined (one grade throughout)"


@dataclass(frozen=True)
class TrainingCase:
    read: Read
    number: int  # 1, 2, ... in submission order
    sequences: list[SequenceAgreement]


def case_agreement(read: Read) -> list[SequenceAgreement]:
    """A submitted training read against its reference, per graded sequence."""
    mine, reference = read_cells(read), read_cells(read.reference)
    out = []
    for sequence in read.protocol.sequences:
        scale = read.protocol.scale_of(sequence)
        pairs = [
            (int(mine[cell]), int(reference[cell]))
            for cell in mine
            if cell[2] == sequence
            and cell in reference
            and NOT_ASSESSABLE not in (mine[cell], reference[cell])
        ]
        exact = sum(a == b for a, b in pairs) / len(pairs) if pairs else 0.0
        kappa, status = None, "ok"
        if len(pairs) < TRAINING_MIN_PAIRS:
            status = f"too few (n = {len(pairs)}, minimum {TRAINING_MIN_PAIRS})"
        else:
            result = agreement.cohen_kappa(
                [a for a, _ in pairs], [b for _, b in pairs], categories=range(scale.max + 1)
            )
            if result.kappa_linear == result.kappa_linear:
                kappa = result.kappa_linear
            else:  # NaN: both gave one and the same grade throughout, chance agreement is 1
                status = "undefined (one grade throughout)"
        out.append(SequenceAgreement(sequence, scale.name, len(pairs), exact, kappa, status))
    return out


def training_curve(
    *, trainee: AbstractBaseUser, cohort: Cohort | None = None
) -> list[TrainingCase]:
    """The trainee's submitted training reads (of one cohort if given), oldest first."""
    reads = Read.objects.filter(
        reader=trainee, kind=Read.Kind.TRAINING, status=Read.Status.SUBMITTED
    ).select_related("protocol", "reference")
    if cohort is not None:
        reads = reads.filter(study__patient__cohort=cohort)
    ordered = reads.order_by("submitted_at", "pk")
    return [
        TrainingCase(read, number, case_agreement(read))
        for number, read in enumerate(ordered, start=1)
    ]


def curve_figure(cases: list[TrainingCase], title: str) -> dict:
    """Plotly figure: linear-weighted kappa per case, one line per sequence."""
    sequences = sorted({s.sequence for case in cases for s in case.sequences})
    data = []
    for sequence in sequences:
        points = [
            (case.number, s.kappa_linear, case.read.blind_label)
            for case in cases
            for s in case.sequences
            if s.sequence == sequence
        ]
        data.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": f"{sequence} (weighted κ)",
                "x": [p[0] for p in points],
                "y": [p[1] for p in points],
                "text": [p[2] for p in points],
                "hovertemplate": "case %{x} · %{text}<br>κ %{y:.2f}<extra></extra>",
            }
        )
    return {
        "data": data,
        "layout": {
            "title": {"text": title},
            "xaxis": {"title": {"text": "training case"}, "dtick": 1},
            "yaxis": {"title": {"text": "linear-weighted κ with the reference"}, "range": [-1, 1]},
            "height": 360,
            "margin": {"t": 50, "l": 60, "r": 20, "b": 50},
        },
    }
