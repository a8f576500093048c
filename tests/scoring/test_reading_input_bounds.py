"""Bad input to the reading page's endpoints is a 400 with a message, never a 500, and nothing
unbounded is stored (issue 22, item 5)."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from iim_scoring.api.parsers import JSON_HAS_NUL, JSON_TOO_DEEP, json_depth
from scoring.models import Read, ReaderPreference
from scoring.services import FINDING_INVALID
from scoring.services.messages import KEYMAP_INVALID, KEYMAP_TOO_LARGE, NOTE_TOO_LONG, VOI_INVALID

pytestmark = pytest.mark.django_db

DEEP = "[" * 50000 + "]" * 50000


def _post(client, url: str, body: object) -> object:
    text = body if isinstance(body, str) else json.dumps(body)
    return client.post(url, data=text, content_type="application/json")


def _urls(read: Read) -> list[str]:
    names = ["api-grades", "api-submit", "api-amend", "api-notes", "api-activity"]
    return [reverse(f"scoring:{name}", args=[read.token]) for name in names] + [
        reverse("scoring:api-prefs")
    ]


def test_the_depth_count_ignores_brackets_inside_strings():
    assert json_depth('{"a": [[1]], "b": "[[[[[["}') == 3
    assert json_depth('"\\"[[["') == 0
    assert json_depth(DEEP) == 50000


def test_deeply_nested_json_is_a_400_on_every_reading_endpoint(client, radiologist, read):
    client.force_login(radiologist)
    for url in _urls(read):
        response = _post(client, url, DEEP)
        assert response.status_code == 400, (url, response.status_code)
        assert response.json()["detail"] == JSON_TOO_DEEP


def test_deeply_nested_json_from_a_stranger_is_refused_not_a_crash(client, read):
    response = _post(client, reverse("scoring:api-grades", args=[read.token]), DEEP)
    assert response.status_code in (401, 403)


def test_an_escaped_nul_in_json_text_is_a_400(client, radiologist, read):
    client.force_login(radiologist)
    url = reverse("scoring:api-prefs")
    response = _post(client, url, '{"keymap": {"grid.help": ["\\u0000"]}}')
    assert response.status_code == 400
    assert response.json()["detail"] == JSON_HAS_NUL
    assert not ReaderPreference.objects.filter(reader=radiologist).exists()


def test_a_keymap_of_twenty_thousand_keys_is_refused_and_not_stored(client, radiologist):
    client.force_login(radiologist)
    keymap = {f"grid.action{i}": ["x"] for i in range(20000)}
    response = _post(client, reverse("scoring:api-prefs"), {"keymap": keymap})
    assert response.status_code == 400
    assert response.json()["detail"] == KEYMAP_TOO_LARGE
    assert not ReaderPreference.objects.filter(reader=radiologist).exists()


@pytest.mark.parametrize(
    "keymap",
    [
        {"anything": ["g"]},
        {"grid.groupFill": []},
        {"grid.groupFill": ["g"] * 5},
        {"grid.groupFill": ["x" * 41]},
        {"grid.groupFill": [{"nested": True}]},
        {"grid.groupFill": 7},
    ],
)
def test_a_keymap_entry_that_is_no_shortcut_is_refused(client, radiologist, keymap):
    client.force_login(radiologist)
    response = _post(client, reverse("scoring:api-prefs"), {"keymap": keymap})
    assert response.status_code == 400
    assert response.json()["detail"] == KEYMAP_INVALID


def test_remapped_shortcuts_are_still_kept(client, radiologist):
    client.force_login(radiologist)
    url = reverse("scoring:api-prefs")
    body = {"keymap": {"grid.submit": "Ctrl+KeyS", "viewer.sliceNext": ["ArrowDown", "j"]}}
    assert _post(client, url, body).status_code == 200
    assert client.get(url).json()["keymap"] == body["keymap"]


@pytest.mark.parametrize(
    "voi",
    [
        {"STIR": {"center": 1, "width": 0}},
        {"STIR": {"center": 1, "width": 2, "extra": 3}},
        {"T2": {"center": 1, "width": 2}},
        {"STIR": {f"k{i}": 1.0 for i in range(1000)}},
    ],
)
def test_a_window_level_that_is_not_one_is_refused(client, radiologist, voi):
    client.force_login(radiologist)
    response = _post(client, reverse("scoring:api-prefs"), {"voi": voi})
    assert response.status_code == 400
    assert response.json()["detail"] == VOI_INVALID


@pytest.mark.parametrize(
    "findings",
    [
        {"no-such-region": {}},
        {f"region-{i}": {} for i in range(100)},
        {"thigh": {"no-such-finding": True}},
    ],
)
def test_findings_name_only_the_protocols_regions_and_findings(client, radiologist, read, findings):
    client.force_login(radiologist)
    url = reverse("scoring:api-notes", args=[read.token])
    response = _post(client, url, {"version": 0, "findings": findings})
    assert response.status_code == 400
    assert response.json()["detail"] == FINDING_INVALID
    read.refresh_from_db()
    assert read.findings == {}


def test_a_finding_that_is_not_yes_or_no_is_refused(client, radiologist, read):
    client.force_login(radiologist)
    url = reverse("scoring:api-notes", args=[read.token])
    response = _post(client, url, {"version": 0, "findings": {"thigh": {"fasciitis": "maybe"}}})
    assert response.status_code == 400
    read.refresh_from_db()
    assert read.findings == {}


def test_a_finding_of_a_protocol_region_is_kept(client, radiologist, read):
    client.force_login(radiologist)
    url = reverse("scoring:api-notes", args=[read.token])
    response = _post(client, url, {"version": 0, "findings": {"thigh": {"fasciitis": True}}})
    assert response.status_code == 200, response.content
    read.refresh_from_db()
    assert read.findings == {"thigh": {"fasciitis": True}}


def test_the_service_refuses_a_note_longer_than_the_page_allows(radiologist, read):
    from django.core.exceptions import ValidationError

    from scoring.services import read_update_notes

    with pytest.raises(ValidationError) as refused:
        read_update_notes(read=read, actor=radiologist, expected_version=0, note="x" * 10001)
    assert refused.value.messages == [NOTE_TOO_LONG]


@pytest.mark.parametrize(
    "path",
    [
        "/reading/reads/99999999999999999999999/",
        "/reading/api/reads/99999999999999999999999/",
        "/reading/reads/{read}/images/99999999999999999999999.dcm",
    ],
)
def test_ids_beyond_bigint_or_unknown_tokens_in_reading_urls_are_404(
    client, radiologist, read, path
):
    client.force_login(radiologist)
    assert client.get(path.format(read=read.token)).status_code == 404


def test_a_keymap_stored_before_the_limits_is_trimmed_not_a_dead_end(client, radiologist):
    ReaderPreference.objects.create(
        reader=radiologist, keymap={f"junk {i}": ["x"] for i in range(20000)}
    )
    client.force_login(radiologist)
    url = reverse("scoring:api-prefs")
    response = _post(client, url, {"keymap": {"grid.help": ["h"]}})
    assert response.status_code == 200
    assert client.get(url).json()["keymap"] == {"grid.help": ["h"]}
