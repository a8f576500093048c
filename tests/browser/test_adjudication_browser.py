"""Issue 23 in the browser: an adjudicator opens an adjudication read, sees only the cells the
two readers disagree on with Reader A's and Reader B's grades (never their names), decides
each by keyboard and submits. Screenshots go to test-artifacts/screenshots/."""

from __future__ import annotations

import pytest

from scoring.models import Read
from scoring.services import adjudication_assign, read_assign, read_record_complete
from tests import factories
from tests.browser import test_reading_browser as reading
from tests.browser.test_reading_browser import (
    db_grades,
    focused_cell,
    open_read,
    screenshot,
    wait_saved,
)

_browser_available = reading._browser_available
_no_script_errors = reading._no_script_errors
reader = reading.reader
imaged_read = reading.imaged_read
received = reading.received

pytestmark = pytest.mark.browser

RF_R_STIR = ("rectus-femoris", "R", "STIR")
ST_R_T1 = ("semitendinosus", "R", "T1")
GRACILIS_L_T1 = ("gracilis", "L", "T1")


def _cells(read: Read, exceptions: dict) -> dict:
    muscles = read.protocol.muscles.values_list("slug", flat=True)
    cells = {(m, side, seq): "1" for m in muscles for side in "LR" for seq in ("STIR", "T1")}
    return {**cells, **exceptions}


@pytest.fixture
def adjudication_read(imaged_read) -> Read:
    """The imaged study read by two radiologists who disagree on three cells, given to a third."""
    read_record_complete(
        read=imaged_read,
        cells=_cells(imaged_read, {ST_R_T1: "0"}),
        actor=None,
        reason="test",
        submit=True,
    )
    second_reader = factories.user_with_role("radiologist", username="second-radiologist")
    second = read_assign(
        study=imaged_read.study,
        protocol=imaged_read.protocol,
        reader=second_reader,
        actor=None,
        kind=Read.Kind.SECOND,
    )
    read_record_complete(
        read=second,
        cells=_cells(imaged_read, {RF_R_STIR: "2", ST_R_T1: "2", GRACILIS_L_T1: "NA"}),
        actor=None,
        reason="test",
        submit=True,
    )
    adjudicator = factories.user_with_role("radiologist", username="adjudicator")
    coordinator = factories.user_with_role(
        "coordinator", username="coordinator", cohort=imaged_read.study.patient.cohort
    )
    return adjudication_assign(study=imaged_read.study, adjudicator=adjudicator, actor=coordinator)


def test_adjudicator_sees_only_discordant_cells_with_both_grades_and_resolves_them(
    browser_page, live_server, login, adjudication_read, received
):
    page = browser_page
    login(page, live_server, "adjudicator")
    open_read(page, live_server, adjudication_read)
    assert page.locator("td.cell").count() == 3
    assert page.text_content("#total-count") == "3"
    hints = page.locator(".reader-grade").all_text_contents()
    assert hints == ["R STIR: A 1 · B 2", "L T1: A 1 · B NA", "R T1: A 0 · B 2"]
    assert page.text_content("#adjudication-badge").startswith("Adjudication · 3 cells")
    assert focused_cell(page) == RF_R_STIR
    screenshot(page, "adjudication-open")
    for value in ("2", "1", "1"):  # rectus femoris, gracilis, semitendinosus in grid order
        page.keyboard.press(value)
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("body[data-read-status='submitted']", state="attached")
    wait_saved(page)
    grades = db_grades(adjudication_read)
    assert len(grades) == 52
    assert (grades[RF_R_STIR], grades[GRACILIS_L_T1], grades[ST_R_T1]) == ("2", "1", "1")
    assert Read.objects.get(pk=adjudication_read.pk).status == Read.Status.SUBMITTED
    screenshot(page, "adjudication-submitted")
    html = "".join(text for _url, text in received.html)
    assert "second-radiologist" not in html and ">radiologist<" not in html
    received.assert_blind()


def test_coordinator_sees_the_assigned_adjudication(
    browser_page, live_server, login, adjudication_read
):
    page = browser_page
    login(page, live_server, "coordinator")
    cohort = adjudication_read.study.patient.cohort
    page.goto(f"{live_server.url}/reading/cohorts/{cohort.slug}/adjudication/")
    row = page.locator(f"#adjudication-table tr[data-study='{adjudication_read.study_id}']")
    assert "adjudicator" in row.text_content() and adjudication_read.blind_label in (
        row.text_content()
    )
    screenshot(page, "adjudication-coordinator")
