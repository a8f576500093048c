"""The reading page in a real browser: images, keyboard grading, autosave, submit and amend.

A radiologist signs in, opens a read from the worklist, scrolls and windows the STIR and T1
series, grades by keyboard, reloads, submits, and amends with a reason. Every HTML and JSON
response the browser receives is checked for the patient's identity and clinical data.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.apps import apps

from cohorts.models import AuditEvent
from scoring.models import Grade, Read, ScoringProtocol
from scoring.services import read_assign
from tests import factories
from tests.services import need, need_chromium

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
VIEWER_BUNDLE = REPO / "static" / "reader" / "reader.js"
TIMEOUT_MS = 20_000

# What the case's patient carries that a reader must never receive.
PSEUDONYM, SUBTYPE, CK, MMT8 = "IIM-7777", "IMNM", 98765, 143
SITE_CODE, SITE_NAME = "zz-secret-site", "Secret Site Hospital"
SECRET_TEXTS = [PSEUDONYM, SUBTYPE, str(CK), SITE_CODE, SITE_NAME, "Doe^Jane", "SRC-7777"]
# A short number is a leak only standing alone (not inside a token or an image URL).
SECRET_NUMBERS = [re.compile(rf"(?<![\w/.]){MMT8}(?![\w.])")]

VENTRAL_THIGH = ["rectus-femoris", "vastus-lateralis", "vastus-intermedius", "vastus-medialis"]
VENTRAL_THIGH += ["sartorius"]
THIGH_CELLS = 52  # 13 muscles x 2 sides x 2 sequences


# -- fixtures -------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _browser_available() -> None:
    need_chromium()
    need(
        VIEWER_BUNDLE.exists(),
        f"the built viewer bundle {VIEWER_BUNDLE.relative_to(REPO)} (npm ci && npm run build)",
    )


def _restore_reference_data() -> None:
    """Transactional tests flush the database after each test, data migrations included."""
    from cohorts.roles import ensure_roles

    atlas = importlib.import_module("scoring.migrations.0002_default_atlas")
    if not ScoringProtocol.objects.filter(slug="thigh-only").exists():
        atlas.load_atlas(apps, None)
        importlib.import_module("scoring.migrations.0005_grading_scales").add_fat_oedema_protocol(
            apps, None
        )
    ensure_roles()


@pytest.fixture
def reader(transactional_db):
    _restore_reference_data()
    return factories.user_with_role("radiologist", username="radiologist")


@pytest.fixture
def imaged_read(reader) -> Read:
    """A thigh-only read of a study imported through the real DICOM pipeline (8 slices each)."""
    from cohorts.imaging.dicom.deid import dicom_bytes
    from cohorts.imaging.dicom.synthetic import synthetic_study
    from cohorts.imaging.ingest import dicom_import

    site = factories.SiteFactory(code=SITE_CODE, name=SITE_NAME)
    patient = factories.PatientFactory(pseudonym=PSEUDONYM, subtype=SUBTYPE, site=site)
    factories.AssessmentFactory(patient=patient, ck=CK, mmt8_total=MMT8)
    datasets = synthetic_study(
        patient_id="SRC-7777",
        patient_name="Doe^Jane",
        birth_date="19500101",
        grades={("rectus-femoris", "L"): (2, 1), ("vastus-lateralis", "R"): (1, 0)},
        slices=8,
        size=96,
    )
    report = dicom_import(
        cohort=patient.cohort,
        files=[(f"{i}.dcm", dicom_bytes(ds)) for i, ds in enumerate(datasets)],
        actor=None,
        patient=patient,
    )
    assert report.count("imported") == 16
    return read_assign(
        study=patient.studies.get(),
        protocol=ScoringProtocol.objects.get(slug="thigh-only"),
        reader=reader,
        actor=None,
    )


@dataclass
class Received:
    """Bodies of the HTML and JSON responses (and DICOM files) the reader's browser got."""

    html: list[tuple[str, str]] = field(default_factory=list)
    json: list[tuple[str, str]] = field(default_factory=list)
    dicom: list[tuple[str, bytes]] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # the page went away mid-response

    def record(self, response) -> None:
        if 300 <= response.status < 400:
            return  # a redirect has no body
        kind = response.headers.get("content-type", "")
        try:
            if "text/html" in kind:
                self.html.append((response.url, response.text()))
            elif "json" in kind:
                self.json.append((response.url, response.text()))
            elif "application/dicom" in kind:
                self.dicom.append((response.url, response.body()))
        except Exception as exc:  # a page closed mid-response
            if "closed" not in str(exc) and "unavailable" not in str(exc):
                raise
            self.unreadable.append(response.url)

    def assert_blind(self) -> None:
        for url, text in self.html + self.json:
            for secret in SECRET_TEXTS:
                assert secret not in text, f"{secret!r} reached the reader in {url}"
            for pattern in SECRET_NUMBERS:
                assert not pattern.search(text), f"{pattern.pattern!r} reached the reader in {url}"
        for url, data in self.dicom:
            text = _dicom_text(data)
            for secret in SECRET_TEXTS:
                assert secret not in text, f"{secret!r} reached the reader in {url}"


def _dicom_text(data: bytes) -> str:
    """Every value of a served file but its pixels and UIDs (a per-read random UID holds any
    string of digits by chance, e.g. a CK value), as text; a body cut short by a reload (its
    header read as far as it goes, else the raw bytes)."""
    import io

    import pydicom

    try:
        ds = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)
    except Exception:  # cut off inside the header: look at every byte
        return data.decode("latin-1")
    return "\n".join(str(e.value) for e in ds.iterall() if e.VR not in ("UI", "OB", "OW", "SQ"))


@pytest.fixture
def received(browser_context) -> Received:
    """Every response of every tab; each test checks at its end that nothing unblinded came."""
    seen = Received()
    browser_context.on("response", seen.record)
    return seen


@pytest.fixture(autouse=True)
def _no_script_errors(browser_context) -> Iterator[None]:
    """A script error or a blocked resource (CSP) on any tab fails the test that caused it.

    Answers the page expects (409, a refused submit, a lost connection) are not errors here.
    """
    errors: list[str] = []

    def watch(page) -> None:
        page.on("pageerror", lambda error: errors.append(f"{page.url}: {error}"))
        page.on(
            "console",
            lambda message: (
                message.type == "error"
                and not message.text.startswith("Failed to load resource")
                and errors.append(f"{page.url}: {message.text}")
            ),
        )

    for page in browser_context.pages:
        watch(page)
    browser_context.on("page", watch)
    yield
    assert errors == [], "the page reported errors"


# -- helpers --------------------------------------------------------------------------------


def open_read(page, live_server, read: Read, *, viewer: bool = True) -> None:
    page.goto(f"{live_server.url}/reading/reads/{read.token}/")
    wait_ready(page, viewer=viewer)


def wait_ready(page, *, viewer: bool = True) -> None:
    page.wait_for_selector("body[data-grading-ready]", state="attached", timeout=TIMEOUT_MS)
    if viewer:
        page.wait_for_selector(
            "body[data-viewer-ready], body[data-viewer-error]", state="attached", timeout=TIMEOUT_MS
        )
        error = page.evaluate("document.body.dataset.viewerError || null")
        assert error is None, f"the viewer failed: {error}"


def wait_saved(page) -> None:
    page.wait_for_selector("body[data-unsaved='0']", state="attached", timeout=TIMEOUT_MS)
    assert page.text_content("#save-status") == "All changes saved"


def wait_cached(page) -> None:
    """Until every image of every stack is in the viewer's cache (prefetch done)."""
    wait_for(
        page,
        "() => Object.values(window.iimViewer.cacheStatus()).every(s => s.loaded === s.count)",
    )


def viewer_state(page) -> dict:
    return page.evaluate("window.iimViewer.state()")


def wait_for(page, js: str, arg=None) -> None:
    page.wait_for_function(js, arg=arg, timeout=TIMEOUT_MS)


def cell_selector(muscle: str, side: str, sequence: str) -> str:
    return f"td.cell[data-muscle='{muscle}'][data-side='{side}'][data-sequence='{sequence}']"


def focused_cell(page) -> tuple[str, str, str] | None:
    found = page.evaluate(
        "(() => { const c = document.activeElement;"
        " return c && c.matches('td.cell') ?"
        " [c.dataset.muscle, c.dataset.side, c.dataset.sequence] : null; })()"
    )
    return tuple(found) if found else None


def grid_values(page) -> dict[tuple[str, str, str], str]:
    rows = page.eval_on_selector_all(
        "td.cell",
        "cells => cells.map(c => [c.dataset.muscle, c.dataset.side, c.dataset.sequence,"
        " c.textContent])",
    )
    return {(m, s, q): v for m, s, q, v in rows if v}


def db_grades(read: Read) -> dict[tuple[str, str, str], str]:
    return {
        (g.muscle.slug, g.side, g.sequence): g.value
        for g in Grade.objects.filter(read=read).select_related("muscle")
    }


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def drag(page, selector: str, dx: int, dy: int) -> None:
    box = page.locator(selector).bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + dx, y + dy, steps=8)
    page.mouse.up()


# -- the scenario ---------------------------------------------------------------------------


def test_reader_scrolls_both_series_together_and_windows_each_one(
    browser_page, live_server, login, imaged_read, received
):
    page = browser_page
    login(page, live_server, "radiologist")
    page.goto(f"{live_server.url}/reading/")
    row = page.locator(f"#worklist tr[data-read='{imaged_read.blind_label}']")
    assert row.locator(".badge").text_content() == "Assigned"
    assert "0 / 52" in row.text_content()
    screenshot(page, "worklist")
    with page.expect_navigation():
        row.get_by_role("link", name="Open").click()
    wait_ready(page)

    start = viewer_state(page)
    assert start["stir"]["count"] == start["t1"]["count"] == 8
    assert start["stir"]["index"] == 0
    overlay = ".viewport-overlay[data-for='stir'] .viewport-overlay-slice"
    # One station, from the head end.
    assert re.fullmatch(
        r"station 1 / 1 · position \+\d+\.\d mm · slice 1 / 8", page.text_content(overlay)
    )

    # Mouse wheel over the STIR viewport: one slice, and T1 follows.
    box = page.locator("#viewport-stir").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.wheel(0, 120)
    wait_for(page, "() => window.iimViewer.state().stir.index === 1")
    wait_for(page, "i => window.iimViewer.state().t1.index !== i", start["t1"]["index"])
    assert page.text_content(overlay).endswith("slice 2 / 8")

    # ArrowDown: the next slice in both.
    moved = viewer_state(page)
    page.keyboard.press("ArrowDown")
    wait_for(page, "() => window.iimViewer.state().stir.index === 2")
    wait_for(page, "i => window.iimViewer.state().t1.index !== i", moved["t1"]["index"])
    assert page.text_content(overlay).endswith("slice 3 / 8")
    assert page.get_attribute(".viewport-overlay[data-for='stir']", "data-index") == "2"

    # Dragging on STIR changes its window/level only.
    before = viewer_state(page)
    drag(page, "#viewport-stir", 60, 40)
    wait_for(
        page,
        "v => JSON.stringify(window.iimViewer.state().stir.voi) !== JSON.stringify(v)",
        before["stir"]["voi"],
    )
    after = viewer_state(page)
    assert after["t1"]["voi"] == before["t1"]["voi"]

    # Alt+Shift+2 applies preset 2 to the viewport under the mouse only.
    t1_before = viewer_state(page)["t1"]["voi"]
    page.keyboard.press("Alt+Shift+Digit2")
    wait_for(page, "() => window.iimViewer.state().stir.preset === 'Oedema'")
    assert viewer_state(page)["stir"]["voi"] == {"center": 600, "width": 900}
    assert viewer_state(page)["t1"]["voi"] == t1_before
    assert "(Oedema)" in page.text_content(".viewport-overlay[data-for='stir']")
    # Shift+3 applies preset 3 of each sequence to both viewports.
    page.keyboard.press("Shift+Digit3")
    wait_for(page, "() => window.iimViewer.state().t1.preset === 'Muscle'")
    assert viewer_state(page)["stir"]["voi"] == {"center": 350, "width": 400}
    assert viewer_state(page)["t1"]["voi"] == {"center": 400, "width": 600}
    screenshot(page, "read-page")
    received.assert_blind()


def test_reader_grades_by_keyboard_keeps_grades_over_a_reload_submits_and_amends(
    browser_page, live_server, login, imaged_read, received
):
    page = browser_page
    login(page, live_server, "radiologist")
    open_read(page, live_server, imaged_read)
    assert focused_cell(page) == ("rectus-femoris", "R", "STIR")

    # The ventral thigh by keyboard: a group fill per sequence, then single cells.
    page.keyboard.press("g")
    page.keyboard.press("0")  # every ventral thigh STIR cell, both sides
    page.keyboard.press("ArrowRight")
    assert focused_cell(page) == ("rectus-femoris", "R", "T1")
    page.keyboard.press("g")
    page.keyboard.press("1")  # every ventral thigh T1 cell
    page.keyboard.press("j")
    assert focused_cell(page) == ("vastus-lateralis", "R", "T1")
    for key in ("2", "n", "0"):  # each grades and moves on
        page.keyboard.press(key)
    assert focused_cell(page) == ("vastus-intermedius", "R", "STIR")
    wait_saved(page)

    expected = {(m, s, "STIR"): "0" for m in VENTRAL_THIGH for s in "RL"}
    expected |= {(m, s, "T1"): "1" for m in VENTRAL_THIGH for s in "RL"}
    expected |= {
        ("vastus-lateralis", "R", "T1"): "2",
        ("vastus-lateralis", "L", "STIR"): "NA",
        ("vastus-lateralis", "L", "T1"): "0",
    }
    assert db_grades(imaged_read) == expected
    assert page.text_content("#graded-count") == "20"
    screenshot(page, "read-graded")

    # A reload shows the same grades, from the server.
    page.reload()
    wait_ready(page)
    assert grid_values(page) == expected
    assert page.text_content("#read-status") == "In progress"

    # Submitting now is refused: the missing panel lists what is left.
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("#missing-panel:not([hidden])", timeout=TIMEOUT_MS)
    assert page.text_content("#missing-title") == f"{THIGH_CELLS - 20} cells not yet graded:"
    # Grouped by muscle, each cell a button that jumps to it.
    missing = page.locator("#missing-list .missing-muscle").all_text_contents()
    assert missing[0] == "Adductor magnus: " and missing[-1] == "Semimembranosus: "
    assert len(missing) == 8  # the medial and dorsal thigh muscles
    assert page.locator("#missing-list button.missing-cell").count() == THIGH_CELLS - 20
    assert page.locator("td.cell.missing").count() == THIGH_CELLS - 20
    assert Read.objects.get(pk=imaged_read.pk).status == Read.Status.IN_PROGRESS
    screenshot(page, "read-missing")

    # The first missing cell has the focus: grade the rest by keyboard and submit at once,
    # as a fast reader does (the last saves are still on their way).
    assert focused_cell(page) == ("adductor-magnus", "R", "STIR")
    for _ in range(THIGH_CELLS - 20):
        page.keyboard.press("0")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("body[data-read-status='submitted']", state="attached")
    wait_saved(page)
    assert len(db_grades(imaged_read)) == THIGH_CELLS
    assert page.is_hidden("#missing-panel") and page.is_hidden("#conflict-banner")
    assert page.text_content("#read-status") == "Submitted"
    assert Read.objects.get(pk=imaged_read.pk).status == Read.Status.SUBMITTED
    screenshot(page, "read-submitted")

    # Submitted: typing a grade changes nothing.
    cell = cell_selector("rectus-femoris", "L", "STIR")
    page.click(cell)
    page.keyboard.press("2")
    page.wait_for_timeout(300)
    assert page.text_content(cell) == "0"
    assert "Amend" in page.text_content("#save-status")
    assert focused_cell(page) == ("rectus-femoris", "L", "STIR")
    assert db_grades(imaged_read)[("rectus-femoris", "L", "STIR")] == "0"

    # Amend with a reason: the change is saved and audited with it.
    page.click("#amend-button")
    page.fill("#amend-reason", "missed oedema in the left rectus femoris")
    page.click("#amend-start")
    assert focused_cell(page) == ("rectus-femoris", "L", "STIR")
    page.keyboard.press("2")
    wait_saved(page)
    assert page.text_content(cell) == "2"
    grade = Grade.objects.get(
        read=imaged_read, muscle__slug="rectus-femoris", side="L", sequence="STIR"
    )
    assert grade.value == "2"
    event = AuditEvent.objects.filter(action="grade.set", target_id=str(grade.pk)).last()
    assert (event.old, event.new) == ("0", "2")
    assert event.reason == "missed oedema in the left rectus femoris"
    assert AuditEvent.objects.filter(action="read.amend", reason=event.reason).exists()
    assert Read.objects.get(pk=imaged_read.pk).status == Read.Status.SUBMITTED
    received.assert_blind()


def test_changes_made_offline_are_kept_and_saved_when_the_connection_returns(
    browser_page, browser_context, live_server, login, imaged_read, received
):
    page = browser_page
    login(page, live_server, "radiologist")
    open_read(page, live_server, imaged_read)
    wait_cached(page)  # no slice on its way when the connection drops

    browser_context.set_offline(True)
    page.keyboard.press("2")
    page.keyboard.press("1")
    wait_for(page, "() => document.getElementById('save-status').textContent.includes('unsaved')")
    assert "2 unsaved changes" in page.text_content("#save-status")
    assert page.locator("td.cell.unsaved").count() == 2
    assert db_grades(imaged_read) == {}

    browser_context.set_offline(False)
    wait_saved(page)
    assert db_grades(imaged_read) == {
        ("rectus-femoris", "R", "STIR"): "2",
        ("rectus-femoris", "R", "T1"): "1",
    }
    assert page.locator("td.cell.unsaved").count() == 0
    received.assert_blind()


def test_changes_made_offline_survive_closing_the_tab(
    browser_page, browser_context, live_server, login, imaged_read, received
):
    page = browser_page
    login(page, live_server, "radiologist")
    # The viewer ready first: no slice is on its way when the connection drops.
    open_read(page, live_server, imaged_read)
    wait_cached(page)
    browser_context.set_offline(True)
    page.keyboard.press("n")
    wait_for(page, "() => document.getElementById('save-status').textContent.includes('unsaved')")
    page.fill("#read-note", "Motion artefact in the right thigh.")  # closed before it is sent
    # With run_before_unload the close is only requested: wait until the tab is really gone.
    with page.expect_event("close"):
        page.close(run_before_unload=True)
    browser_context.set_offline(False)

    again = browser_context.new_page()
    open_read(again, live_server, imaged_read, viewer=False)
    wait_saved(again)
    assert db_grades(imaged_read) == {("rectus-femoris", "R", "STIR"): "NA"}
    assert Read.objects.get(pk=imaged_read.pk).note == "Motion artefact in the right thigh."
    assert again.input_value("#read-note") == "Motion artefact in the right thigh."
    received.assert_blind()


def test_a_second_tab_gets_the_conflict_banner_and_the_first_tabs_grade_stays(
    browser_page, browser_context, live_server, login, imaged_read, received
):
    first = browser_page
    login(first, live_server, "radiologist")
    open_read(first, live_server, imaged_read, viewer=False)
    second = browser_context.new_page()
    open_read(second, live_server, imaged_read, viewer=False)

    first.keyboard.press("2")
    wait_saved(first)
    second.keyboard.press("0")
    second.wait_for_selector("#conflict-banner:not([hidden])", timeout=TIMEOUT_MS)
    assert "not saved" in second.text_content("#save-status")
    assert db_grades(imaged_read) == {("rectus-femoris", "R", "STIR"): "2"}

    # The refused change, left in the browser's storage, must not come back through the first
    # tab either: reloaded, that tab shows the conflict instead of sending it.
    first.reload()
    wait_ready(first, viewer=False)
    first.wait_for_selector("#conflict-banner:not([hidden])", timeout=TIMEOUT_MS)
    assert db_grades(imaged_read) == {("rectus-femoris", "R", "STIR"): "2"}

    # The second tab's Reload shows the saved grade.
    with second.expect_navigation():
        second.click("#reload-button")
    wait_ready(second, viewer=False)
    assert second.text_content(cell_selector("rectus-femoris", "R", "STIR")) == "2"
    assert second.is_hidden("#conflict-banner")
    received.assert_blind()


def test_nothing_the_readers_browser_receives_names_the_patient(
    browser_page, live_server, login, imaged_read, received
):
    page = browser_page
    login(page, live_server, "radiologist")
    page.goto(f"{live_server.url}/reading/")
    with page.expect_navigation():
        page.click(f"#worklist tr[data-read='{imaged_read.blind_label}'] a")
    wait_ready(page)
    page.keyboard.press("1")
    page.keyboard.press("Control+Enter")  # refused: lists the missing cells by muscle name
    page.wait_for_selector("#missing-panel:not([hidden])", timeout=TIMEOUT_MS)
    first_missing = page.locator("#missing-list li").first
    assert first_missing.locator(".missing-muscle").text_content() == "Rectus femoris: "
    cells = first_missing.locator("button.missing-cell").all_text_contents()
    assert cells == ["R T1", "L STIR", "L T1"]
    page.keyboard.press("?")
    page.wait_for_selector("#help-dialog[open]")
    page.keyboard.press("Escape")
    page.reload()
    wait_ready(page)
    page.evaluate("window.iimViewer.setSlice('stir', 7)")
    wait_for(page, "() => window.iimViewer.state().t1.shownIndex === 7")

    assert received.unreadable == []
    assert len(received.html) >= 4  # login, home, worklist, read page (twice)
    assert len(received.json) >= 4  # read state, saves, refused submit
    assert len(received.dicom) >= 4  # slices of both series
    assert any("/grades/" in url for url, _ in received.json)
    assert any("/submit/" in url for url, _ in received.json)
    assert all(imaged_read.blind_label in text for url, text in received.html if "/reads/" in url)
    received.assert_blind()


def _lose_first_answer(page) -> list[str]:
    """The first grades save reaches the server, but its answer never reaches the page."""
    lost: list[str] = []

    def handle(route) -> None:
        if lost:
            route.continue_()
            return
        answer = route.fetch()
        lost.append(answer.text())
        route.abort("connectionreset")

    page.route("**/api/reads/*/grades/", handle)
    return lost


def test_a_save_whose_answer_was_lost_is_not_taken_for_a_conflict(
    browser_page, live_server, login, imaged_read, received
):
    page = browser_page
    login(page, live_server, "radiologist")
    open_read(page, live_server, imaged_read, viewer=False)
    lost = _lose_first_answer(page)
    page.keyboard.press("2")
    wait_for(page, "() => document.getElementById('save-status').textContent.includes('unsaved')")
    assert lost and '"version":1' in lost[0]  # the server did save it
    page.keyboard.press("1")  # queued behind the retry, which still sends the old version
    wait_saved(page)
    assert page.is_hidden("#conflict-banner")
    assert db_grades(imaged_read) == {
        ("rectus-femoris", "R", "STIR"): "2",
        ("rectus-femoris", "R", "T1"): "1",
    }
    received.assert_blind()


def test_a_reload_before_a_saves_answer_keeps_the_next_change_without_a_conflict(
    browser_page, live_server, login, imaged_read, received
):
    page = browser_page
    login(page, live_server, "radiologist")
    open_read(page, live_server, imaged_read, viewer=False)
    lost = _lose_first_answer(page)
    page.keyboard.press("2")
    wait_for(page, "() => document.getElementById('save-status').textContent.includes('unsaved')")
    assert lost
    page.keyboard.press("1")
    page.reload()
    wait_ready(page, viewer=False)
    wait_saved(page)
    assert page.is_hidden("#conflict-banner")
    assert db_grades(imaged_read) == {
        ("rectus-femoris", "R", "STIR"): "2",
        ("rectus-femoris", "R", "T1"): "1",
    }
    assert grid_values(page) == db_grades(imaged_read)
    received.assert_blind()


def test_findings_and_the_note_are_saved_and_shown_again_after_a_reload(
    browser_page, live_server, login, imaged_read, received
):
    page = browser_page
    login(page, live_server, "radiologist")
    open_read(page, live_server, imaged_read, viewer=False)
    page.check("input.finding[data-region='thigh'][data-finding='fasciitis']")
    page.fill("#read-note", "Fascial oedema along the left vastus lateralis.")
    wait_for(page, "() => document.body.dataset.unsaved !== '0'")
    wait_saved(page)
    read = Read.objects.get(pk=imaged_read.pk)
    assert read.note == "Fascial oedema along the left vastus lateralis."
    assert read.findings["thigh"]["fasciitis"] is True
    page.reload()
    wait_ready(page, viewer=False)
    assert page.is_checked("input.finding[data-region='thigh'][data-finding='fasciitis']")
    assert not page.is_checked("input.finding[data-region='thigh'][data-finding='asymmetry']")
    assert page.input_value("#read-note") == "Fascial oedema along the left vastus lateralis."
    received.assert_blind()
