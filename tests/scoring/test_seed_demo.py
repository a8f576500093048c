"""seed_demo builds the paper-like demo cohort once; running it again adds nothing."""

from __future__ import annotations

from collections import Counter
from io import StringIO

import pytest
from django.core.management import call_command

from analytics.models import AnalysisResult
from analytics.result_rows import stored_result_value
from cohorts.models import AuditEvent, Patient
from scoring.models import Grade, Read


@pytest.fixture
def seeded(db):
    out = StringIO()
    call_command("seed_demo", "--no-images", stdout=out)
    return out.getvalue()


def test_seed_demo_mirrors_the_papers_cohort(seeded):
    patients = Patient.objects.filter(cohort__slug="demo-iim")
    assert Counter(patients.values_list("subtype", flat=True)) == {
        "IBM": 9,
        "DM": 5,
        "PM": 6,
        "ASYS": 5,
        "IMNM": 9,
    }
    assert patients.values("site").distinct().count() == 2
    assert all(patients.values_list("is_synthetic", flat=True))
    submitted = Read.objects.filter(study__patient__cohort__slug="demo-iim", status="submitted")
    baseline = submitted.filter(kind="primary", study__timepoint=0)
    assert baseline.count() == 34
    assert Grade.objects.filter(read__in=baseline).count() == 34 * 60 * 2 * 2


def test_seed_demo_has_double_reads_rereads_and_follow_ups(seeded):
    """What reader agreement and change over time are computed from."""
    submitted = Read.objects.filter(study__patient__cohort__slug="demo-iim", status="submitted")
    second = submitted.filter(kind="second")
    assert second.count() >= 10
    assert set(second.values_list("reader__username", flat=True)) == {"demo-expert-2"}
    rereads = submitted.filter(kind="reread")
    assert 3 <= rereads.count() <= 6  # about a tenth of the studies
    assert all(r.rereads.reader_id == r.reader_id for r in rereads)
    follow_ups = submitted.filter(kind="primary", study__timepoint=1)
    assert follow_ups.count() >= 8
    assert all(r.study.days_from_baseline > 0 for r in follow_ups)
    assert all(r.study.patient.assessments.filter(timepoint=1).exists() for r in follow_ups)


def test_seed_demo_prints_credentials_for_every_role(seeded):
    for username in ("demo-radiologist", "demo-clinician", "demo-statistician", "demo-coordinator"):
        assert username in seeded
    assert "iim-demo-2026" in seeded


def test_seed_demo_is_idempotent(seeded):
    counts = (
        Patient.objects.count(),
        Read.objects.count(),
        Grade.objects.count(),
        AuditEvent.objects.count(),
    )
    call_command("seed_demo", "--no-images", stdout=StringIO())
    assert (
        Patient.objects.count(),
        Read.objects.count(),
        Grade.objects.count(),
        AuditEvent.objects.count(),
    ) == counts


def test_seed_demo_grades_are_audited(seeded):
    assert AuditEvent.objects.filter(action="grade.set").count() == Grade.objects.count()


def test_seed_demo_leaves_open_cases_for_the_demo_radiologist(seeded):
    open_reads = Read.objects.filter(reader__username="demo-radiologist").exclude(
        status="submitted"
    )
    assert open_reads.count() >= 5
    # Something to adjudicate and two training cases against the expert's references.
    adjudication = open_reads.get(kind="consensus")
    assert adjudication.adjudication["cells"]
    training = open_reads.filter(kind="training")
    assert training.count() == 2
    assert all(read.reference.is_reference for read in training)


def test_seed_demo_results_show_the_papers_ordering(seeded):
    """DM has the highest and ASYS the lowest mean total; lower > upper extremity except DM."""
    result = AnalysisResult.objects.get(
        cohort__slug="demo-iim", analysis="group_profile", status="done"
    ).result["unified"]
    limb = {(row["limb"], row["subtype"]): row["mean"] for row in result["limb"]}
    subtypes = ["IBM", "DM", "PM", "ASYS", "IMNM"]
    for subtype in subtypes:
        if subtype == "DM":
            assert limb[("upper", "DM")] > limb[("lower", "DM")]
        else:
            assert limb[("lower", subtype)] > limb[("upper", subtype)], subtype
    patients = stored_result_value(
        AnalysisResult.objects.get(cohort__slug="demo-iim", analysis="patient_scores")
    )["unified"]
    totals: dict[str, list[float]] = {}
    for row in patients:
        totals.setdefault(row["subtype"], []).append(row["total"])
    means = {s: sum(v) / len(v) for s, v in totals.items()}
    assert max(means, key=means.get) == "DM"
    assert min(means, key=means.get) == "ASYS"
