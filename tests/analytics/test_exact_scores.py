"""Numbers a statistician can trust, through the whole pipeline: grades in through the reading
services, a recomputation, stored results out through the API and the exports. Expected values
are worked out here from DESIGN.md's score definitions with exact fractions, and the test
statistics with scipy and scikit-posthocs on those exact values."""

from __future__ import annotations

import io
from collections.abc import Callable
from fractions import Fraction

import pandas as pd
import pytest
import scikit_posthocs
from rest_framework.test import APIClient
from scipy import stats as scipy_stats

from analytics.beyond import cohort_beyond_recompute
from analytics.models import AnalysisResult
from analytics.recompute import cohort_analyses_recompute
from scoring.models import Read, ScoringProtocol
from scoring.services import read_assign, read_record_complete
from tests import factories

pytestmark = pytest.mark.django_db

GROUPS = {
    "ventral-thigh": [
        "rectus-femoris",
        "vastus-lateralis",
        "vastus-intermedius",
        "vastus-medialis",
        "sartorius",
    ],
    "medial-thigh": ["adductor-magnus", "adductor-longus", "adductor-brevis", "gracilis"],
    "dorsal-thigh": [
        "biceps-femoris-long",
        "biceps-femoris-short",
        "semitendinosus",
        "semimembranosus",
    ],
}
MUSCLES = [m for muscles in GROUPS.values() for m in muscles]
Grading = Callable[[str, str, str], str]  # (muscle, side, sequence) -> "0" | "1" | "2" | "NA"


def everywhere(value: str) -> Grading:
    return lambda _muscle, _side, _sequence: value


def _reader(n: int):
    return factories.user_with_role("radiologist", username=f"reader-{n}")


def _read(study, reader, grading: Grading, kind: str = Read.Kind.PRIMARY) -> Read:
    read = read_assign(
        study=study,
        protocol=ScoringProtocol.objects.get(slug="thigh-only"),
        reader=reader,
        actor=None,
        kind=kind,
    )
    cells = {
        (m, side, sequence): grading(m, side, sequence)
        for m in MUSCLES
        for side in "LR"
        for sequence in ("STIR", "T1")
    }
    return read_record_complete(read=read, cells=cells, actor=None, reason="test", submit=True)


def _patient(cohort, subtype: str, **assessment):
    patient = factories.PatientFactory(cohort=cohort, subtype=subtype)
    factories.AssessmentFactory(patient=patient, **assessment)
    return patient, factories.StudyFactory(patient=patient)


def _api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _analytics(client: APIClient, cohort, query: str = "") -> dict:
    response = client.get(f"/api/v1/cohorts/{cohort.slug}/analytics/{query}")
    assert response.status_code == 200, response.content
    return response.json()


def _patient_rows(payload: dict, scope: str = "unified") -> dict[str, dict]:
    (result,) = [r for r in payload["results"] if r["analysis"] == "patient_scores"]
    return {row["pseudonym"]: row for row in result["result"][scope]}


def test_two_readers_with_na_cells_are_combined_muscle_by_muscle(cohort, statistician):
    """Reader 1 could not assess the medial thigh (NA); reader 2 graded everything 2. Each
    muscle is the mean of the readers who scored it, and every level comes from those."""
    first, second, third = _reader(1), _reader(2), _reader(3)
    a, study_a = _patient(cohort, "DM")
    medial = set(GROUPS["medial-thigh"])
    _read(study_a, first, lambda m, _s, _q: "NA" if m in medial else "1")
    _read(study_a, second, everywhere("2"), kind=Read.Kind.SECOND)
    # A consensus read is the patient's score alone, whatever the readers said.
    b, study_b = _patient(cohort, "IBM")
    _read(study_b, first, everywhere("0"))
    _read(study_b, second, everywhere("2"), kind=Read.Kind.SECOND)
    _read(study_b, third, everywhere("1"), kind=Read.Kind.CONSENSUS)
    assert cohort_analyses_recompute(cohort_id=cohort.pk, force=True) == "done"

    muscle = {m: Fraction(2) if m in medial else Fraction(1 + 2, 2) for m in MUSCLES}
    total = sum(muscle.values())  # 9 x 3/2 + 4 x 2 = 43/2, not the readers' totals' mean 35/2
    rows = _patient_rows(_analytics(_api(statistician), cohort))
    assert rows[a.pseudonym]["total"] == float(total) == 21.5
    assert rows[a.pseudonym]["total_pct"] == float(100 * total / (2 * len(MUSCLES)))
    for group, members in GROUPS.items():
        expected = sum(muscle[m] for m in members) / len(members)
        assert rows[a.pseudonym][f"group_{group}"] == float(expected)
    assert rows[b.pseudonym]["total"] == float(len(MUSCLES))  # the consensus read: all 1

    # The exported muscle scores sum to the exported total.
    response = _api(statistician).get(
        f"/api/v1/cohorts/{cohort.slug}/export/muscle-scores/?format=csv"
    )
    exported = pd.read_csv(io.BytesIO(b"".join(response.streaming_content)))
    mine = exported[exported["pseudonym"] == a.pseudonym]
    assert dict(zip(mine["muscle"], mine["score"], strict=True)) == {
        m: float(s) for m, s in muscle.items()
    }
    assert mine["score"].sum() == rows[a.pseudonym]["total"]


def test_three_readers_on_one_study_give_exact_thirds_everywhere(cohort, statistician):
    readers = [_reader(n) for n in range(3)]
    patient, study = _patient(cohort, "PM")
    for reader, kind, value in zip(
        readers, (Read.Kind.PRIMARY, Read.Kind.SECOND, Read.Kind.SECOND), "001", strict=True
    ):
        _read(study, reader, everywhere(value), kind=kind)
    assert cohort_analyses_recompute(cohort_id=cohort.pk, force=True) == "done"
    row = _patient_rows(_analytics(_api(statistician), cohort))[patient.pseudonym]
    third = Fraction(1, 3)  # each muscle: (0 + 0 + 1) / 3
    assert row["total"] == float(third * len(MUSCLES))
    assert all(row[f"group_{g}"] == float(third) for g in GROUPS)
    # The beyond-the-paper analyses take three readers too: a result, not a failure.
    assert cohort_beyond_recompute(cohort_id=cohort.pk, force=True) == "done"
    beyond = AnalysisResult.objects.get(cohort=cohort, analysis="beyond_paper")
    assert beyond.status == AnalysisResult.Status.DONE


# Ventral thigh (5 muscles), one STIR grade 1 on a side: that read's rectus femoris scores 1/2.
RF_LEFT = lambda m, s, q: "1" if (m, s, q) == ("rectus-femoris", "L", "STIR") else "0"  # noqa: E731
RF_BOTH = lambda m, _s, q: "1" if (m, q) == ("rectus-femoris", "STIR") else "0"  # noqa: E731
NONE = everywhere("0")


def test_equal_group_scores_tie_in_kruskal_wallis_and_dunn(cohort, statistician, settings):
    """Ventral-thigh scores 1/15 reached two ways by three readers, and 1/10 by one reader and
    by three, must be equal numbers: scipy ranks by exact equality."""
    readers = [_reader(n) for n in range(3)]
    kinds = (Read.Kind.PRIMARY, Read.Kind.SECOND, Read.Kind.SECOND)
    design = {
        # subtype: per patient, the gradings of its reads
        "DM": [[RF_LEFT], [RF_LEFT], [RF_BOTH]],  # 1/10, 1/10, 1/5
        "IBM": [[RF_BOTH, NONE, NONE], [RF_LEFT, RF_LEFT, NONE], [RF_LEFT] * 3],  # 1/15 1/15 1/10
        "PM": [[NONE], [NONE], [RF_BOTH, NONE, NONE]],  # 0, 0, 1/15
    }
    expected: dict[str, list[Fraction]] = {}
    for subtype, patients in design.items():
        for gradings in patients:
            _patient_row, study = _patient(cohort, subtype)
            for reader, kind, grading in zip(readers, kinds, gradings, strict=False):
                _read(study, reader, grading, kind=kind)
            # rectus femoris = mean over reads of (its two sides' mean); the group = that / 5
            rf = [
                Fraction(sum(g("rectus-femoris", s, "STIR") == "1" for s in "LR"), 2)
                for g in gradings
            ]
            expected.setdefault(subtype, []).append(sum(rf) / len(rf) / 5)
    assert cohort_analyses_recompute(cohort_id=cohort.pk, force=True) == "done"
    payload = _analytics(_api(statistician), cohort)
    rows = _patient_rows(payload).values()
    stored = {
        subtype: sorted(r["group_ventral-thigh"] for r in rows if r["subtype"] == subtype)
        for subtype in design
    }
    assert stored == {s: sorted(float(v) for v in values) for s, values in expected.items()}

    (comparison,) = [r for r in payload["results"] if r["analysis"] == "subtype_comparison"]
    kruskal = {row["group"]: row for row in comparison["result"]["unified"]["kruskal"]}
    exact = {s: [float(v) for v in values] for s, values in expected.items()}
    reference = scipy_stats.kruskal(*exact.values())
    ventral = kruskal["ventral-thigh"]
    assert ventral["status"] == "ok" and ventral["n"] == 9
    assert ventral["H"] == pytest.approx(reference.statistic, rel=1e-12)
    assert ventral["p"] == pytest.approx(reference.pvalue, rel=1e-9)

    frame = pd.DataFrame(
        [(s, v) for s, values in exact.items() for v in values], columns=["subtype", "score"]
    )
    dunn = scikit_posthocs.posthoc_dunn(frame, val_col="score", group_col="subtype")
    pairs = [r for r in comparison["result"]["unified"]["dunn"] if r["group"] == "ventral-thigh"]
    assert len(pairs) == 3
    for pair in pairs:
        assert pair["p"] == pytest.approx(dunn.loc[pair["a"], pair["b"]], rel=1e-9)


def test_the_api_answers_the_set_it_is_asked_for_and_refuses_what_the_cohort_lacks(
    cohort, statistician, clinician
):
    first = _reader(1)
    site = factories.SiteFactory(code="UKD")
    cohort.sites.add(site)
    elsewhere, study_elsewhere = _patient(cohort, "DM", ck=900)
    _read(study_elsewhere, first, everywhere("2"))
    here = factories.PatientFactory(cohort=cohort, subtype="IBM", site=site)
    factories.AssessmentFactory(patient=here, ck=300)
    _read(factories.StudyFactory(patient=here), first, everywhere("1"))
    assert cohort_analyses_recompute(cohort_id=cohort.pk, force=True) == "done"

    # A clinician's dashboard computes and stores the UKD set with BH correction ...
    dashboard = APIClient()
    dashboard.force_login(clinician)
    compute = f"/dashboards/{cohort.slug}/compute/?site=UKD&correction=fdr_bh"
    assert dashboard.post(compute).status_code in (200, 202)
    assert cohort_analyses_recompute(
        cohort_id=cohort.pk, parameters={"sites": ["UKD"], "correction": "fdr_bh"}
    ) in ("done", "unchanged")
    api = _api(statistician)
    # ... and the API still answers the default set when asked for none, and says so.
    default = _analytics(api, cohort)
    assert default["parameters"]["sites"] == [] and default["parameters"]["correction"] == "holm"
    assert set(_patient_rows(default)) == {elsewhere.pseudonym, here.pseudonym}
    filtered = _analytics(api, cohort, "?site=UKD&correction=fdr_bh")
    assert filtered["parameters"]["sites"] == ["UKD"]
    assert set(_patient_rows(filtered)) == {here.pseudonym}

    for query, name in (
        ("?site=junk", "site"),
        ("?timepoint=%C2%B2", "timepoint"),  # "²" is a digit to str.isdigit, not to us
        ("?timepoint=7", "timepoint"),
        ("?reader=99999999999999999999", "reader"),
        ("?colour=blue", "colour"),
        ("?subtype=XYZ", "subtype"),
    ):
        response = api.get(f"/api/v1/cohorts/{cohort.slug}/analytics/{query}")
        assert response.status_code == 400, query
        assert name in str(response.json()), query
    # A read-only statistician's junk filters on the dashboard store nothing either.
    before = AnalysisResult.objects.count()
    statistician_page = APIClient()
    statistician_page.force_login(statistician)
    for n in range(3):
        statistician_page.post(f"/dashboards/{cohort.slug}/compute/?site=junk{n}")
    assert AnalysisResult.objects.count() == before


def test_a_timepoint_without_scored_patients_is_a_no_data_result(cohort, statistician):
    patient, study = _patient(cohort, "DM")
    _read(study, _reader(1), everywhere("1"))
    factories.StudyFactory(patient=patient, timepoint=1)  # a follow-up MRI nobody read yet
    assert cohort_analyses_recompute(cohort_id=cohort.pk, force=True) == "done"
    assert cohort_analyses_recompute(cohort_id=cohort.pk, parameters={"timepoint": 1}) == "done"
    payload = _analytics(_api(statistician), cohort, "?timepoint=1")
    assert payload["status"] != "failed"
    by_name = {r["analysis"]: r["result"] for r in payload["results"]}
    assert by_name["subtype_comparison"]["unified"]["status"] == "no data"
    assert by_name["patient_scores"]["unified"] == []
    # Timepoint 0 and "baseline" are one set.
    assert _analytics(_api(statistician), cohort, "?timepoint=0")["parameters"]["timepoint"] == (
        "baseline"
    )
