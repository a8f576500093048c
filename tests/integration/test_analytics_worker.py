"""Analyses stay up to date through a real worker: HTTP grade → stored result; a killed worker's
task is redelivered and finishes once; a broker outage loses no grade."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import redis
from django.urls import reverse

from analytics.models import AnalysisResult, CohortAnalyticsState
from analytics.recompute import cohort_analyses_recompute
from analytics.result_rows import stored_result_value
from scoring.models import Grade, Read, ScoringProtocol
from scoring.services import CellChange, read_amend, read_assign, read_record_complete
from tests import factories
from tests.integration.conftest import reset_broker_connections, start_worker, wait_for

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

THIGH = [
    "rectus-femoris",
    "vastus-lateralis",
    "vastus-intermedius",
    "vastus-medialis",
    "sartorius",
    "adductor-magnus",
    "adductor-longus",
    "adductor-brevis",
    "gracilis",
    "biceps-femoris-long",
    "biceps-femoris-short",
    "semitendinosus",
    "semimembranosus",
]


def _cohort_with_submitted_reads(n: int = 4):
    cohort = factories.CohortFactory()
    reader = factories.user_with_role("radiologist", username=f"reader-{cohort.slug}")
    protocol = ScoringProtocol.objects.get(slug="thigh-only")
    reads = []
    for i in range(n):
        patient = factories.PatientFactory(cohort=cohort, subtype=["DM", "IBM"][i % 2])
        factories.AssessmentFactory(patient=patient, mmt8_total=120 + i, ck=500 + 100 * i)
        read = read_assign(
            study=factories.StudyFactory(patient=patient),
            protocol=protocol,
            reader=reader,
            actor=None,
        )
        cells = {(m, s, q): str(i % 3) for m in THIGH for s in "LR" for q in ("STIR", "T1")}
        reads.append(
            read_record_complete(read=read, cells=cells, actor=None, reason="setup", submit=True)
        )
    return cohort, reader, reads


def _total_of(cohort, pseudonym: str) -> float | None:
    result = AnalysisResult.objects.filter(
        cohort=cohort, analysis="patient_scores", status="done"
    ).first()
    if result is None:
        return None
    rows = stored_result_value(result)["unified"]
    return next((r["total"] for r in rows if r["pseudonym"] == pseudonym), None)


def test_a_grade_amended_over_http_changes_the_stored_analysis(client, celery_worker_process):
    cohort, reader, reads = _cohort_with_submitted_reads()
    read = reads[0]  # every cell 0: total 0
    pseudonym = read.study.patient.pseudonym
    wait_for(lambda: _total_of(cohort, pseudonym) == 0.0, what="the first results")
    client.force_login(reader)
    response = client.post(
        reverse("scoring:api-amend", args=[read.token]),
        data=json.dumps(
            {
                "version": Read.objects.get(pk=read.pk).version,
                "reason": "recheck",
                "changes": [
                    {"muscle": "gracilis", "side": side, "sequence": "STIR", "value": "2"}
                    for side in "LR"
                ],
            }
        ),
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    # gracilis: max(STIR 2, T1 0) = 2 on both sides -> muscle score 2 -> total 2.
    wait_for(lambda: _total_of(cohort, pseudonym) == 2.0, what="the recomputed total")
    wait_for(lambda: not CohortAnalyticsState.objects.get(cohort=cohort).stale, what="fresh")


def test_a_worker_killed_mid_recompute_is_redelivered_and_finishes_once(
    tmp_path,
    settings,
    broker_queue,
):
    broker, queue = broker_queue
    # The worker first: it declares the queue the setup's requests are routed to.
    slow = start_worker(
        tmp_path,
        broker,
        queue,
        Path(settings.MEDIA_ROOT),
        ANALYTICS_FAULT_DELAY_SECONDS="30",
        CELERY_VISIBILITY_TIMEOUT="3",
        CELERY_UNACKED_RESTORE_INTERVAL="1",
    )
    cohort, _reader, _reads = _cohort_with_submitted_reads()
    try:
        from analytics.services import requeue_stale_cohorts

        # The setup's own request is already queued; the sweep covers a lost one.
        requeue_stale_cohorts()
        try:
            wait_for(
                lambda: CohortAnalyticsState.objects.get(cohort=cohort).recomputing,
                what="the slow worker to claim the cohort",
            )
        except AssertionError:
            raise AssertionError(slow.log.read_text()[-3000:]) from None
        slow.kill()  # SIGKILL while the results are being computed, before they are stored
    finally:
        slow.kill()
    assert not AnalysisResult.objects.filter(cohort=cohort).exists()  # nothing partial
    healthy = start_worker(
        tmp_path,
        broker,
        queue,
        Path(settings.MEDIA_ROOT),
        CELERY_VISIBILITY_TIMEOUT="3",
        CELERY_UNACKED_RESTORE_INTERVAL="1",
    )
    try:
        try:
            wait_for(
                lambda: not CohortAnalyticsState.objects.get(cohort=cohort).stale,
                timeout=90,
                what="the redelivered task to finish",
            )
        except AssertionError:
            raise AssertionError(healthy.log.read_text()[-3000:]) from None
    finally:
        healthy.kill()
    results = AnalysisResult.objects.filter(cohort=cohort)
    assert sorted(results.values_list("analysis", flat=True)) == sorted(
        [
            "clinical_correlation",
            "descriptives",
            "group_profile",
            "patient_scores",
            "subtype_comparison",
        ]
    )
    assert set(results.values_list("status", flat=True)) == {"done"}
    assert "recompute_cohort" in healthy.log.read_text()


def test_grades_save_while_the_broker_is_down_and_recompute_when_it_is_back(
    client,
    settings,
    broker_queue,
    tmp_path,
):
    from iim_scoring.celery import app

    cohort, reader, reads = _cohort_with_submitted_reads(2)
    open_read = read_assign(
        study=factories.StudyFactory(patient=reads[0].study.patient),
        protocol=reads[0].protocol,
        reader=reader,
        actor=None,
    )
    broker, queue = broker_queue
    # As if a worker had run the setup's recomputation: no task waits, so the save must queue.
    redis.Redis.from_url(broker).flushdb()
    CohortAnalyticsState.objects.filter(cohort=cohort).update(queued_at=None)
    app.conf.update(
        broker_url="redis://127.0.0.1:1/0",
        broker_connection_retry=False,
        broker_connection_max_retries=0,
    )
    reset_broker_connections(app)
    client.force_login(reader)
    response = client.post(
        reverse("scoring:api-grades", args=[open_read.token]),
        data=json.dumps(
            {
                "version": 0,
                "changes": [{"muscle": "gracilis", "side": "L", "sequence": "STIR", "value": "1"}],
            }
        ),
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    assert Grade.objects.filter(read=open_read).count() == 1
    state = CohortAnalyticsState.objects.get(cohort=cohort)
    assert state.stale and state.queue_failed
    # The broker is back: the sweep queues the cohort and a worker brings it up to date.
    app.conf.update(broker_url=broker)
    reset_broker_connections(app)
    worker = start_worker(tmp_path, broker, queue, Path(settings.MEDIA_ROOT))
    try:
        from analytics.services import requeue_stale_cohorts

        assert requeue_stale_cohorts() == 1
        wait_for(
            lambda: not CohortAnalyticsState.objects.get(cohort=cohort).stale,
            what="the cohort to be fresh again",
        )
    finally:
        worker.kill()


def test_two_analytics_workers_each_bring_a_changed_cohort_up_to_date(
    tmp_path,
    settings,
    broker_queue,
):
    """Nothing is kept in a worker's memory: whichever of two workers takes a change, the
    stored total is the one the grades give (0 -> 2 -> 0 for one muscle's two sides)."""
    broker, queue = broker_queue
    cohort, _reader, reads = _cohort_with_submitted_reads()
    assert cohort_analyses_recompute(cohort_id=cohort.pk, force=True) == "done"
    redis.Redis.from_url(broker).flushdb()  # the submissions' requests: already computed
    workers = [start_worker(tmp_path, broker, queue, Path(settings.MEDIA_ROOT)) for _ in range(2)]
    read = reads[0]  # every cell 0: total 0
    pseudonym = read.study.patient.pseudonym
    try:
        for value, total in (("2", 2.0), ("0", 0.0), ("2", 2.0)):
            read_amend(
                read=read,
                changes=[CellChange("gracilis", side, "STIR", value) for side in "LR"],
                actor=None,
                reason="recheck",
                expected_version=Read.objects.get(pk=read.pk).version,
            )
            wait_for(lambda total=total: _total_of(cohort, pseudonym) == total, what="the total")
    except AssertionError:
        raise AssertionError("\n".join(w.log.read_text()[-1500:] for w in workers)) from None
    finally:
        for worker in workers:
            worker.kill()
