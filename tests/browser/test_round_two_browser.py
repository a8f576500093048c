"""Issue 22 in the browser: group fill keeps graded cells until pressed again, Ctrl+Z takes a
change back, the statistician's token page, the assignment preview. Screenshots go to
test-artifacts/screenshots/."""

from __future__ import annotations

import pytest

from scoring.models import Grade, Read
from tests import factories
from tests.browser import test_reading_browser as reading
from tests.browser.test_reading_browser import (
    _restore_reference_data,
    cell_selector,
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

RF_R_STIR = ("rectus-femoris", "R", "STIR")
VENTRAL_STIR = [(m, s, "STIR") for m in reading.VENTRAL_THIGH for s in "RL"]


def test_group_fill_keeps_a_graded_cell_overwrites_on_a_second_press_and_ctrl_z_undoes(
    browser_page, live_server, login, imaged_read, received
):
    page = browser_page
    login(page, live_server, "radiologist")
    open_read(page, live_server, imaged_read)
    assert focused_cell(page) == RF_R_STIR
    page.keyboard.press("1")  # rectus femoris R STIR = 1, the focus moves on
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("g")
    page.keyboard.press("0")
    wait_saved(page)
    grades = db_grades(imaged_read)
    assert grades[RF_R_STIR] == "1"  # kept
    assert all(grades[cell] == "0" for cell in VENTRAL_STIR if cell != RF_R_STIR)
    page.keyboard.press("g")
    page.keyboard.press("0")  # at once: overwrite what was kept, after the page said so
    wait_for(
        page, "() => document.querySelector('#save-status').textContent.includes('overwritten')"
    )
    screenshot(page, "group-fill-overwritten")
    wait_for(page, "() => document.body.dataset.unsaved === '0'")
    assert db_grades(imaged_read)[RF_R_STIR] == "0"

    page.keyboard.press("Control+z")
    wait_for(page, "() => document.querySelector('#save-status').textContent.startsWith('Undone')")
    wait_for(page, "() => document.body.dataset.unsaved === '0'")
    assert db_grades(imaged_read)[RF_R_STIR] == "1"
    assert page.text_content(cell_selector(*RF_R_STIR)) == "1"
    screenshot(page, "group-fill-undone")
    received.assert_blind()


def test_group_fill_message_names_what_it_kept(browser_page, live_server, login, imaged_read):
    page = browser_page
    login(page, live_server, "radiologist")
    open_read(page, live_server, imaged_read)
    page.keyboard.press("2")
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("g")
    page.keyboard.press("1")
    wait_for(page, "() => document.querySelector('#save-status').textContent.includes('kept')")
    text = page.text_content("#save-status")
    assert "9 cells filled with 1; 1 cell already graded kept" in text
    assert "again now to overwrite" in text
    screenshot(page, "group-fill-kept")


@pytest.fixture
def statistician_user(transactional_db):
    _restore_reference_data()
    cohort = factories.CohortFactory()
    return factories.user_with_role("statistician", username="statistician", cohort=cohort)


def test_a_statistician_creates_sees_and_revokes_a_token_on_its_page(
    browser_page, live_server, login, statistician_user
):
    from rest_framework.authtoken.models import Token

    page = browser_page
    login(page, live_server, "statistician")
    page.click("#api-token-link")
    page.wait_for_selector("#token-none")
    page.click("#create-token")
    page.wait_for_selector("#new-token")
    key = page.text_content("#new-token").strip()
    assert key == Token.objects.get(user=statistician_user).key
    screenshot(page, "api-token-created")
    page.goto(f"{live_server.url}/api/token/")
    assert key not in page.content()
    assert "You hold a token created on" in page.text_content("#token-created")
    page.click("#revoke-token")
    page.wait_for_selector("#token-none")
    assert not Token.objects.filter(user=statistician_user).exists()
    screenshot(page, "api-token-revoked")


@pytest.fixture
def assignment_world(transactional_db):
    from tests.scoring.test_coordinator_pages import study_with_images

    _restore_reference_data()
    cohort = factories.CohortFactory(slug="assign-me", title="Assignment cohort")
    factories.user_with_role("coordinator", username="coordinator", cohort=cohort, staff=True)
    readers = [factories.user_with_role("radiologist", username=f"reader{i}") for i in (1, 2)]
    for _ in range(3):
        study_with_images(cohort)
    factories.StudyFactory(
        patient=factories.PatientFactory(cohort=cohort, pseudonym="IIM-0900")
    )  # no images
    return cohort, readers


def test_assignment_shows_a_preview_and_assigns_only_when_confirmed(
    browser_page, live_server, login, assignment_world
):
    cohort, readers = assignment_world
    page = browser_page
    login(page, live_server, "coordinator")
    page.goto(f"{live_server.url}/reading/cohorts/{cohort.slug}/assign/")
    page.select_option("#id_protocol", label="Thigh only v1")
    for reader_user in readers:
        page.check(f"input[name=readers][value='{reader_user.pk}']")
    page.check("#id_double_reading")
    page.fill("#id_reread_percent", "0")
    page.click("#assign-form button[type=submit]")
    page.wait_for_selector("#assign-preview")
    assert "6 reads to create" in page.text_content("#preview-total")
    assert "1 study skipped for want of images: IIM-0900 t0" in page.text_content(
        "#preview-skipped"
    )
    assert Read.objects.count() == 0
    screenshot(page, "assignment-preview")
    page.click("#assign-confirm button[type=submit]")
    page.wait_for_selector(".messages")
    assert "6 reads assigned" in page.text_content(".messages")
    assert Read.objects.count() == 6
    assert not Grade.objects.exists()
    screenshot(page, "assignment-done")


def test_submit_says_it_is_under_way_and_each_missing_cell_jumps_to_its_cell(
    browser_page, live_server, login, imaged_read
):
    page = browser_page
    login(page, live_server, "radiologist")
    open_read(page, live_server, imaged_read)
    # Record every state the submit button passes through (the pending state is short).
    page.evaluate(
        """() => { const b = document.getElementById('submit-button'); window.seenSubmit = [];
        new MutationObserver(() => window.seenSubmit.push([b.textContent, b.disabled]))
          .observe(b, {attributes: true, childList: true, characterData: true, subtree: true}); }"""
    )
    page.keyboard.press("1")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("#missing-panel:not([hidden])")
    seen = page.evaluate("window.seenSubmit")
    assert ["Submitting…", True] in seen
    assert (
        page.is_enabled("#submit-button") and page.text_content("#submit-button") == "Submit read"
    )
    gracilis = page.locator("#missing-list li", has_text="Gracilis:")
    gracilis.locator("button.missing-cell", has_text="L T1").click()
    assert focused_cell(page) == ("gracilis", "L", "T1")
    screenshot(page, "missing-cells-list")


def test_the_404_and_403_pages_are_the_apps_with_a_favicon(
    browser_page, live_server, login, reader
):
    page = browser_page
    login(page, live_server, "radiologist")
    response = page.goto(f"{live_server.url}/no/such/page/")
    assert response.status == 404
    assert page.get_attribute("#error-page", "data-status") == "404"
    icon = page.get_attribute("link[rel=icon]", "href")
    assert page.request.get(f"{live_server.url}{icon}").status == 200
    screenshot(page, "error-404")
    response = page.goto(f"{live_server.url}/cohorts/")
    assert response.status == 403
    assert page.get_attribute("#error-page", "data-status") == "403"
    screenshot(page, "error-403")
