"""The engine is stateless: what a recomputation stores is what a computation from scratch
gives, and it leaves nothing behind in the process for the next one to rely on."""

from __future__ import annotations

import copy
import importlib
import pkgutil
from io import StringIO

import orjson
import pytest
from django.core.management import call_command
from django.db import connection

import analytics
from analytics import analyses, recompute
from analytics.models import AnalysisResult
from analytics.result_rows import stored_result_value
from cohorts.models import Cohort
from scoring.models import Grade, Read
from scoring.services import CellChange, read_amend

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(db):
    call_command("seed_demo", "--no-images", stdout=StringIO())
    return Cohort.objects.get(slug="demo-iim")


def _mutable_globals() -> dict[str, object]:
    """Every module-level dict, list, set (and subclasses) of the analytics package."""
    found = {}
    for info in pkgutil.walk_packages(analytics.__path__, "analytics."):
        if ".migrations" in info.name or ".tests" in info.name:
            continue
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if isinstance(value, dict | list | set) and not name.startswith("__"):
                found[f"{info.name}.{name}"] = copy.deepcopy(value)
    return found


def test_a_recomputation_leaves_no_state_in_the_process(demo):
    before = _mutable_globals()
    assert recompute.cohort_analyses_recompute(cohort_id=demo.pk, force=True) == "done"
    _amend_one_stir_grade(demo)
    recompute.cohort_analyses_recompute(cohort_id=demo.pk)
    after = _mutable_globals()
    changed = [name for name in before if after.get(name) != before[name]]
    assert changed == []
    assert set(after) == set(before)


def _stored_rows(result: AnalysisResult) -> dict[tuple[str, int], tuple[int, str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT scope, position, id, row::text FROM analytics_patientscorerow"
            " WHERE result_id = %s",
            [result.pk],
        )
        return {(scope, position): (pk, text) for scope, position, pk, text in cursor.fetchall()}


def test_a_grade_change_changes_only_that_patients_stored_rows(demo):
    assert recompute.cohort_analyses_recompute(cohort_id=demo.pk, force=True) == "done"
    key = recompute.parameters_key(recompute.analysis_parameters())
    stored = AnalysisResult.objects.get(cohort=demo, analysis="patient_scores", parameters_key=key)
    before = _stored_rows(stored)
    read = _amend_one_stir_grade(demo)
    recompute.cohort_analyses_recompute(cohort_id=demo.pk)
    after = _stored_rows(stored)
    # Only the amended patient's rows in the scopes a STIR grade feeds (unified and
    # STIR-only) have new text.
    assert set(after) == set(before)
    changed = {k for k in after if after[k][1] != before[k][1]}
    assert {scope for scope, _ in changed} == {"unified", "stir"}
    pseudonym = read.study.patient.pseudonym
    assert {orjson.loads(after[k][1])["pseudonym"] for k in changed} == {pseudonym}
    # And what is stored is what a computation from scratch gives.
    fresh = analyses.compute_analyses(demo, recompute.analysis_parameters())["patient_scores"]
    assert stored_result_value(stored) == orjson.loads(
        orjson.dumps(fresh, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY)
    )


def _amend_one_stir_grade(cohort: Cohort) -> Read:
    """Raise a STIR grade 0 -> 2 where it moves the patient's analysed scores: a baseline
    read that is not a re-read nor outweighed by a consensus read, with T1 0 on that side
    (so the unified grade moves too)."""
    candidates = (
        Grade.objects.filter(
            read__study__patient__cohort=cohort,
            read__status=Read.Status.SUBMITTED,
            sequence="STIR",
            value="0",
        )
        .exclude(read__kind=Read.Kind.REREAD)
        .select_related("read__study__patient", "muscle")
        .order_by("pk")
    )
    for grade in candidates:
        read, study = grade.read, grade.read.study
        baseline = study.patient.studies.order_by("timepoint").first()
        consensus = Read.objects.filter(
            study=study, status=Read.Status.SUBMITTED, kind=Read.Kind.CONSENSUS
        )
        t1_zero = Grade.objects.filter(
            read=read, muscle=grade.muscle, side=grade.side, sequence="T1", value="0"
        )
        if (
            study.pk == baseline.pk
            and (read.kind == Read.Kind.CONSENSUS or not consensus.exists())
            and t1_zero.exists()
        ):
            break
    else:
        raise AssertionError("the demo has no grade whose change moves the analysed scores")
    read_amend(
        read=read,
        changes=[CellChange(grade.muscle, grade.side, "STIR", "2")],
        actor=None,
        reason="test: one grade change",
        expected_version=read.version,
    )
    return read
