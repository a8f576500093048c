"""Issue 23 in the browser: a read on a protocol with oedema 0–3 for STIR and modified Mercuri
0–5 for T1. Keys 0–5 grade as far as the cell's scale goes; a key beyond it is refused with
the reason and stores nothing; the grid's `?` list and the page name each scale's grades.
Screenshots go to test-artifacts/screenshots/."""

from __future__ import annotations

import pytest

from scoring.models import Read, ScoringProtocol
from tests.browser import test_reading_browser as reading
from tests.browser.test_reading_browser import (
    db_grades,
    focused_cell,
    open_read,
    screenshot,
    wait_for,
    wait_saved,
)

# The reading tests' fixtures, by name: the imaged read, its reader, and the page watchers.
_browser_available = reading._browser_available
_no_script_errors = reading._no_script_errors
reader = reading.reader
imaged_read = reading.imaged_read
received = reading.received

pytestmark = pytest.mark.browser


@pytest.fixture
def mercuri_read(imaged_read) -> Read:
    """The imaged thigh read, on thigh muscles graded T1 0–5 and STIR 0–3."""
    protocol = ScoringProtocol.objects.create(
        name="Thigh fat and oedema",
        slug="thigh-mercuri",
        sequences=["STIR", "T1"],
        stir_scale="oedema-0-3",
        t1_scale="mercuri-modified-0-5",
        sequence_combine="T1",
    )
    protocol.muscles.set(imaged_read.protocol.muscles.all())
    Read.objects.filter(pk=imaged_read.pk).update(protocol=protocol)
    imaged_read.refresh_from_db()
    return imaged_read


def test_keys_grade_as_far_as_the_cells_scale_goes(
    browser_page, live_server, login, mercuri_read, received
):
    page = browser_page
    login(page, live_server, "radiologist")
    open_read(page, live_server, mercuri_read)
    rf_stir = ("rectus-femoris", "R", "STIR")
    assert focused_cell(page) == rf_stir
    page.keyboard.press("4")  # a Mercuri grade, not an oedema grade
    wait_for(page, "() => document.querySelector('#save-status').textContent.includes('4')")
    assert page.text_content("#save-status") == (
        "STIR is graded 0–3 (Oedema 0–3): 4 is not a grade on it."
    )
    assert focused_cell(page) == rf_stir  # the cursor stays on the cell
    screenshot(page, "scale-refused")
    page.keyboard.press("3")
    moved_to = focused_cell(page)
    assert moved_to is not None and moved_to != rf_stir
    # Walk to the rectus femoris' right T1 cell and give it the top Mercuri grade.
    rf_t1 = ("rectus-femoris", "R", "T1")
    page.focus(reading.cell_selector(*rf_t1))
    page.keyboard.press("5")
    wait_saved(page)
    assert db_grades(mercuri_read) == {rf_stir: "3", rf_t1: "5"}
    assert page.text_content(reading.cell_selector(*rf_t1)) == "5"
    title = page.get_attribute(reading.cell_selector(*rf_t1), "title")
    assert title.startswith("5 – End stage (4)")

    # The page lists each sequence's scale; so does the `?` list.
    legend = page.text_content("dl.scale[data-sequence='T1']")
    assert "Modified Mercuri 0–5" in legend and "Moderate (2b)" in legend
    page.keyboard.press("?")
    page.wait_for_selector("#help-dialog[open]")
    help_text = page.text_content("#help-dialog")
    assert "Oedema 0–3" in help_text and "Modified Mercuri 0–5" in help_text
    assert "Severe" in help_text and "End stage (4)" in help_text
    screenshot(page, "scale-help")
    received.assert_blind()
