"""Issue 23 in the browser: a trainee grades a training case by keyboard, submits, and sees
the agreement with the reference (cells that differ marked with the reference's grade, the
per-group table). Screenshots go to test-artifacts/screenshots/."""

from __future__ import annotations

import pytest

from scoring.models import Read
from scoring.services import read_record_complete, read_reference_set, training_assign
from tests import factories
from tests.browser import test_reading_browser as reading
from tests.browser.test_reading_browser import (
    THIGH_CELLS,
    cell_selector,
    open_read,
    screenshot,
    wait_for,
)

_browser_available = reading._browser_available
_no_script_errors = reading._no_script_errors
reader = reading.reader
imaged_read = reading.imaged_read
received = reading.received

pytestmark = pytest.mark.browser

RF_R_STIR = ("rectus-femoris", "R", "STIR")


@pytest.fixture
def training_read(imaged_read) -> Read:
    """The imaged study, read by the expert ("radiologist": all 1 but rectus femoris R STIR 2)
    and marked as a reference; a trainee's training read of it."""
    muscles = imaged_read.protocol.muscles.values_list("slug", flat=True)
    cells = {(m, side, seq): "1" for m in muscles for side in "LR" for seq in ("STIR", "T1")}
    reference = read_record_complete(
        read=imaged_read, cells={**cells, RF_R_STIR: "2"}, actor=None, reason="t", submit=True
    )
    read_reference_set(read=reference, is_reference=True, actor=None)
    trainee = factories.user_with_role("radiologist", username="trainee")
    (read,) = training_assign(references=[reference], trainee=trainee, actor=None)
    return read


def test_trainee_submits_a_training_read_and_sees_where_it_differs(
    browser_page, live_server, login, training_read, received
):
    page = browser_page
    login(page, live_server, "trainee")
    open_read(page, live_server, training_read)
    assert not page.is_visible("#training-feedback")  # nothing before submission
    for _ in range(THIGH_CELLS):
        page.keyboard.press("1")
    page.keyboard.press("Control+Enter")
    # Submitted, the page reloads with the comparison drawn by the server.
    page.wait_for_selector("#training-feedback", timeout=reading.TIMEOUT_MS)
    wait_for(page, "() => document.body.dataset.readStatus === 'submitted'")
    assert "51 of 52 cells (98 %)" in page.text_content("#training-feedback")
    differing = page.locator("td.cell[data-agrees='0']")
    assert differing.count() == 1
    assert differing.get_attribute("data-muscle") == "rectus-femoris"
    assert page.get_attribute(cell_selector(*RF_R_STIR), "data-reference") == "2"
    after = page.evaluate(
        "(s) => getComputedStyle(document.querySelector(s), '::after').content",
        cell_selector(*RF_R_STIR),
    )
    assert "≠ 2" in after
    assert page.locator("td.cell[data-agrees='1']").count() == THIGH_CELLS - 1
    screenshot(page, "training-feedback")

    # The learning curve: one case so far, STIR one cell off (linear kappa below 1), T1 exact.
    page.click("text=Weighted κ and your learning curve")
    page.wait_for_selector(".training-figure .main-svg", timeout=reading.TIMEOUT_MS)
    rows = page.locator("table.training-cases tbody tr").all_text_contents()
    assert len(rows) == 2 and "T1" in rows[1] and "100 %" in rows[1]
    assert "undefined (one grade throughout)" in rows[1]  # both said 1 everywhere on T1
    screenshot(page, "training-curve")
    received.assert_blind()
