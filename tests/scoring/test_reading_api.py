"""The reading page's endpoints: saving, versions, submission, amendment, audit, blinding."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from cohorts.models import AuditEvent
from scoring.models import Grade, Read
from scoring.services import READ_LOCKED, READ_STALE

pytestmark = pytest.mark.django_db

THIGH_MUSCLES = [
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


def post(client, name, read, body):
    return client.post(
        reverse(f"scoring:{name}", args=[read.token]),
        data=json.dumps(body),
        content_type="application/json",
    )


def cell(muscle="rectus-femoris", side="L", sequence="STIR", value="1"):
    return {"muscle": muscle, "side": side, "sequence": sequence, "value": value}


def all_cells(value="0"):
    return [cell(m, s, q, value) for m in THIGH_MUSCLES for s in "LR" for q in ("STIR", "T1")]


def test_saving_a_grade_stores_it_audits_it_and_bumps_the_version(client, radiologist, read):
    client.force_login(radiologist)
    response = post(client, "api-grades", read, {"version": 0, "changes": [cell(value="2")]})
    assert response.status_code == 200, response.content
    assert response.json() == {"version": 1, "status": "in_progress", "graded": 1}
    grade = Grade.objects.get(read=read)
    assert (grade.muscle.slug, grade.side, grade.sequence, grade.value) == (
        "rectus-femoris",
        "L",
        "STIR",
        "2",
    )
    event = AuditEvent.objects.get(action="grade.set")
    assert (event.actor, event.old, event.new) == (radiologist, None, "2")
    assert AuditEvent.objects.filter(action="read.status", new="in_progress").exists()


def test_saving_a_cell_again_with_its_value_changes_nothing(client, radiologist, read):
    client.force_login(radiologist)
    assert post(client, "api-grades", read, {"version": 0, "changes": [cell()]}).status_code == 200
    events = AuditEvent.objects.count()
    again = post(client, "api-grades", read, {"version": 1, "changes": [cell()]})
    assert again.status_code == 200
    assert again.json() == {"version": 1, "status": "in_progress", "graded": 1}
    read.refresh_from_db()
    assert read.version == 1  # a tab holding version 1 can still save
    assert AuditEvent.objects.count() == events
    assert (
        post(client, "api-grades", read, {"version": 1, "changes": [cell(value="2")]}).json()[
            "version"
        ]
        == 2
    )


def test_one_save_of_a_new_and_a_changed_cell_audits_each_against_its_own_grade(
    client, radiologist, read
):
    client.force_login(radiologist)
    post(client, "api-grades", read, {"version": 0, "changes": [cell(value="1")]})
    first = Grade.objects.get(read=read)
    both = [cell(value="2"), cell(side="R", value="NA")]
    response = post(client, "api-grades", read, {"version": 1, "changes": both})
    assert response.json() == {"version": 2, "status": "in_progress", "graded": 2}
    changed = Grade.objects.get(pk=first.pk)  # the same row, updated in place
    assert changed.value == "2" and changed.updated_at > first.updated_at
    new = Grade.objects.get(read=read, side="R")
    trail = {(e.target_id, e.old, e.new) for e in AuditEvent.objects.filter(action="grade.set")}
    assert trail == {
        (str(first.pk), None, "1"),
        (str(first.pk), "1", "2"),
        (str(new.pk), None, "NA"),
    }


def test_a_second_tab_with_an_old_version_is_refused_and_told_to_reload(client, radiologist, read):
    client.force_login(radiologist)
    assert post(client, "api-grades", read, {"version": 0, "changes": [cell()]}).status_code == 200
    stale = post(client, "api-grades", read, {"version": 0, "changes": [cell(value="0")]})
    assert stale.status_code == 409
    assert stale.json()["detail"] == READ_STALE
    assert Grade.objects.get(read=read).value == "1"


def test_grade_outside_the_scale_is_refused_with_a_clear_message(client, radiologist, read):
    client.force_login(radiologist)
    response = post(client, "api-grades", read, {"version": 0, "changes": [cell(value="3")]})
    assert response.status_code == 400
    assert response.json()["detail"] == (
        "STIR is graded on the IIM 0–2 scale: '3' is not a grade; a grade is 0, 1, 2 or NA."
    )
    response = post(client, "api-grades", read, {"version": 0, "changes": [cell(value="x")]})
    assert response.status_code == 400
    assert "value" in json.dumps(response.json())
    response = post(client, "api-grades", read, {"version": 0, "changes": [cell(muscle="deltoid")]})
    assert response.status_code == 400
    assert "not part of this read's protocol" in response.json()["detail"]
    response = post(
        client, "api-grades", read, {"version": 0, "changes": [cell(muscle="no-such-muscle")]}
    )
    assert response.status_code == 400
    assert "no-such-muscle" in response.json()["detail"]  # the page can say which cell
    assert not Grade.objects.exists()


def test_submit_refuses_read_with_missing_cells_and_lists_them(client, radiologist, read):
    client.force_login(radiologist)
    cells = all_cells()[:-1]
    assert post(client, "api-grades", read, {"version": 0, "changes": cells}).status_code == 200
    response = post(client, "api-submit", read, {"version": 1})
    assert response.status_code == 400
    assert response.json()["missing"] == [
        {"muscle": "semimembranosus", "name": "Semimembranosus", "side": "R", "sequence": "T1"}
    ]
    assert Read.objects.get(pk=read.pk).status == "in_progress"


def test_complete_read_submits_and_then_refuses_plain_changes(client, radiologist, read):
    client.force_login(radiologist)
    cells = all_cells()
    cells[0]["value"] = "NA"  # NA counts as graded
    post(client, "api-grades", read, {"version": 0, "changes": cells})
    response = post(client, "api-submit", read, {"version": 1})
    assert response.status_code == 200 and response.json()["status"] == "submitted"
    refused = post(client, "api-grades", read, {"version": 2, "changes": [cell(value="2")]})
    assert refused.status_code == 409 and refused.json()["detail"] == READ_LOCKED


def test_amendment_needs_a_reason_and_records_it(client, radiologist, read):
    client.force_login(radiologist)
    post(client, "api-grades", read, {"version": 0, "changes": all_cells()})
    post(client, "api-submit", read, {"version": 1})
    no_reason = post(
        client, "api-amend", read, {"version": 2, "reason": " ", "changes": [cell(value="2")]}
    )
    assert no_reason.status_code == 400
    amended = post(
        client,
        "api-amend",
        read,
        {"version": 2, "reason": "missed oedema", "changes": [cell(value="2")]},
    )
    assert amended.status_code == 200 and amended.json()["status"] == "submitted"
    grade = Grade.objects.get(read=read, muscle__slug="rectus-femoris", side="L", sequence="STIR")
    assert grade.value == "2"
    event = AuditEvent.objects.filter(action="grade.set", target_id=str(grade.pk)).last()
    assert (event.old, event.new, event.reason) == ("0", "2", "missed oedema")
    assert AuditEvent.objects.filter(action="read.amend", reason="missed oedema").exists()


def test_another_radiologist_gets_404_for_someone_elses_read(client, other_radiologist, read):
    client.force_login(other_radiologist)
    assert client.get(reverse("scoring:read", args=[read.token])).status_code == 404
    assert client.get(reverse("scoring:api-read", args=[read.token])).status_code == 404
    assert post(client, "api-grades", read, {"version": 0, "changes": [cell()]}).status_code == 404
    assert not Grade.objects.exists()


def test_a_read_id_beyond_any_stored_one_is_not_found(client, radiologist, read):
    client.force_login(radiologist)
    assert client.get(reverse("scoring:api-read", args=[2**64])).status_code == 404


def test_clinician_cannot_grade(client, clinician, read):
    client.force_login(clinician)
    assert post(client, "api-grades", read, {"version": 0, "changes": [cell()]}).status_code == 404
    assert client.get(reverse("scoring:read", args=[read.token])).status_code == 404


def test_active_time_accumulates_and_one_report_is_capped(client, radiologist, read):
    client.force_login(radiologist)
    assert post(client, "api-activity", read, {"seconds": 30}).status_code == 204
    assert post(client, "api-activity", read, {"seconds": 5000}).status_code == 400
    post(client, "api-activity", read, {"seconds": 12})
    assert Read.objects.get(pk=read.pk).active_seconds == 42


def test_window_level_preferences_are_kept_per_reader(client, radiologist, other_radiologist):
    client.force_login(radiologist)
    url = reverse("scoring:api-prefs")
    client.post(
        url,
        data=json.dumps({"voi": {"STIR": {"center": 500, "width": 900}}}),
        content_type="application/json",
    )
    assert client.get(url).json()["voi"] == {"STIR": {"center": 500.0, "width": 900.0}}
    client.force_login(other_radiologist)
    assert client.get(url).json()["voi"] == {}


def test_grade_changes_mark_results_stale_and_recompute(
    client,
    radiologist,
    read,
    django_capture_on_commit_callbacks,
):
    from analytics.models import CohortAnalyticsState, ReadScores

    client.force_login(radiologist)
    with django_capture_on_commit_callbacks(execute=True):
        post(client, "api-grades", read, {"version": 0, "changes": all_cells("2")})
    scores = ReadScores.objects.get(read=read)
    assert scores.total == 26.0  # 13 thigh muscles x 2
    assert scores.total_pct == 100.0
    state = CohortAnalyticsState.objects.get(cohort=read.study.patient.cohort)
    assert state.stale is False and state.last_completed_at is not None
