"""Clinical data entry in a real browser, by keyboard only.

A clinician signs in, opens a patient, scores MMT-8 per muscle group and watches the total
add up as they type; the saved total is the server's own sum. A whole new patient is entered
with the keyboard alone, in the order of the paper's Table 1.
"""

from __future__ import annotations

import time
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from cohorts.models import ClinicalAssessment, Cohort, Patient
from cohorts.services import MMT8_GROUP_KEYS, MMT8_GROUP_OUT_OF_RANGE
from tests import factories
from tests.services import need_chromium

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
TIMEOUT_MS = 15_000

# One score per MMT-8 group in the sheet's order (neck flexors, then each group right, left).
SCORES = [9, 10, 9, 10, 10, 8, 7, 8, 9, 9, 10, 10, 10, 9, 9]


@pytest.fixture
def clinic(transactional_db):
    """A cohort with one site, a clinician in it, and a patient without clinical data yet."""
    site = factories.SiteFactory(code="uh-north", name="University Hospital North")
    cohort = factories.CohortFactory(slug="browser-iim", title="Browser IIM cohort")
    cohort.sites.add(site)
    factories.user_with_role("clinician", username="dr-clinic", cohort=cohort)
    patient = factories.PatientFactory(
        cohort=cohort, pseudonym="IIM-0101", site=site, subtype="DM", age_at_mri=58
    )
    return cohort, patient


def _watch_console(page) -> list[str]:
    """Errors the page logs (a CSP violation, a script error) make the test fail at the end."""
    problems: list[str] = []

    def on_console(message) -> None:
        # The site has no favicon; the browser asking for one is not the page's fault.
        if message.type == "error" and not message.location.get("url", "").endswith("/favicon.ico"):
            problems.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(str(error)))
    return problems


def _focused(page) -> str:
    return page.evaluate("document.activeElement.name || document.activeElement.id")


@pytest.mark.django_db(transaction=True)
def test_clinician_scores_mmt8_per_muscle_group_by_keyboard_and_the_total_is_stored(
    browser_page, live_server, login, clinic
):
    need_chromium()
    cohort, patient = clinic
    page = browser_page
    page.set_default_timeout(TIMEOUT_MS)
    problems = _watch_console(page)
    login(page, live_server, "dr-clinic")

    page.goto(f"{live_server.url}/cohorts/{cohort.slug}/patients/")
    page.get_by_role("link", name=patient.pseudonym).click()
    page.locator("#add-timepoint").click()
    page.wait_for_selector("form#assessment-form")

    # Disease duration has the focus; Tab leads to the MMT-8 mode, the arrow picks "per group".
    assert _focused(page) == "disease_duration_months"
    page.keyboard.type("7.5")
    page.keyboard.press("Tab")
    assert _focused(page) == "mmt8_mode"
    page.keyboard.press("ArrowRight")
    assert page.locator(".mmt8-grid").is_visible()

    # The read-only total is skipped: the next Tab stop is the first muscle group.
    page.keyboard.press("Tab")
    assert _focused(page) == "mmt8_neck_flexors"
    page.keyboard.type("11")  # out of range: said next to the grid at once
    group_errors = page.locator(".group-errors")
    assert MMT8_GROUP_OUT_OF_RANGE in group_errors.inner_text()
    page.keyboard.press("Backspace")
    page.keyboard.press("Backspace")
    assert group_errors.inner_text().strip() == ""

    running = 0
    for index, score in enumerate(SCORES):
        if index:
            page.keyboard.press("Tab")
        assert _focused(page) == f"mmt8_{MMT8_GROUP_KEYS[index]}"
        page.keyboard.type(str(score))
        running += score
        assert page.locator('[data-role="mmt8-sum"]').inner_text() == f"{running} / 150"
    assert running == sum(SCORES) == 137
    assert page.locator('[data-role="mmt8-count"]').inner_text() == "(15 of 15 groups scored)"
    assert page.locator('[data-role="mmt8-total"]').input_value() == "137"

    page.keyboard.press("Tab")
    assert _focused(page) == "ck"
    page.keyboard.type("1900")
    page.keyboard.press("Tab")
    page.keyboard.type("190")
    assert page.locator('[data-role="ck-ratio"]').inner_text() == "10.0 × ULN"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "clinical-assessment-form.png"), full_page=True)

    with page.expect_navigation():
        page.keyboard.press("Enter")  # Enter saves
    assert page.url.endswith(f"/patients/{patient.pseudonym}/")
    assert page.locator("#timepoint-0 td.mmt8").inner_text().startswith("137")

    assessment = ClinicalAssessment.objects.get(patient=patient, timepoint=0)
    assert assessment.mmt8_total == 137
    assert assessment.mmt8_groups == dict(zip(MMT8_GROUP_KEYS, SCORES, strict=True))
    assert assessment.ck == 1900 and assessment.ck_uln == 190
    assert assessment.disease_duration_months == Decimal("7.5")
    assert problems == []


@pytest.mark.django_db(transaction=True)
def test_a_complete_new_patient_is_entered_by_keyboard_alone(
    browser_page, live_server, login, clinic
):
    need_chromium()
    cohort, _ = clinic
    page = browser_page
    page.set_default_timeout(TIMEOUT_MS)
    problems = _watch_console(page)
    login(page, live_server, "dr-clinic")
    page.goto(f"{live_server.url}/cohorts/{cohort.slug}/patients/new/")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "clinical-patient-form.png"), full_page=True)

    keys = 0

    def press(*sequence: str) -> None:
        nonlocal keys
        for key in sequence:
            page.keyboard.press(key)
            keys += 1

    def type_(text: str) -> None:
        nonlocal keys
        page.keyboard.type(text)
        keys += len(text)

    # Table 1 order: sex, age, subtype, criteria, antibodies, disease duration, MMT-8, CK,
    # treatment. Nothing but keys; the focus starts on sex.
    assert _focused(page) == "sex"
    type_("F")
    press("Tab")
    type_("54")
    press("Tab")
    assert _focused(page) == "subtype"
    type_("D")  # Dermatomyositis
    press("Tab", "Space")  # EULAR/ACR 2017 met
    press(*["Tab"] * 5)  # past the other criteria to the first antibody (Jo-1)
    assert _focused(page) == "antibodies"
    press(*["Tab"] * 5, "Space")  # Mi-2
    press(*["Tab"] * 12)  # past the rest of the panel and "seronegative"
    assert _focused(page) == "baseline-disease_duration_months"
    type_("4")
    press("Tab", "Tab")  # the MMT-8 mode stays "total"
    assert _focused(page) == "baseline-mmt8_total"
    type_("128")
    press("Tab")
    type_("5400")
    press("Tab")
    type_("170")
    press("Tab")
    assert _focused(page) == "baseline-treatment_naive"
    type_("Y")  # treatment-naive: yes
    with page.expect_navigation():
        press("Enter")

    patient = Patient.objects.exclude(pseudonym="IIM-0101").get(cohort=cohort)
    assert (patient.sex, patient.age_at_mri, patient.subtype) == ("F", 54, "DM")
    assert patient.classification_criteria == ["eular-acr-2017"]
    assert patient.antibodies == ["Mi-2"] and not patient.seronegative
    baseline = patient.assessments.get(timepoint=0)
    assert (baseline.mmt8_total, baseline.ck, baseline.ck_uln) == (128, 5400, 170)
    assert baseline.treatment_naive is True
    assert page.locator("#completeness").inner_text() == "7/7 fields"
    # About 45 keys: well under a minute for a clinician who knows the sheet.
    assert keys < 60
    assert problems == []


@pytest.fixture
def demo_clinic(transactional_db):
    """The synthetic demo cohort (IIM-0004 has no MMT-8 yet) and a clinician of it."""
    call_command("seed_demo", "--no-images", stdout=StringIO())
    cohort = Cohort.objects.get(slug="demo-iim")
    factories.user_with_role("clinician", username="dr-demo", cohort=cohort)
    return cohort


def _mmt8_fit_title(page) -> str:
    return page.evaluate("document.getElementById('fig-scatter_mmt8').layout.title.text")


@pytest.mark.django_db(transaction=True)
def test_an_mmt8_entered_by_the_clinician_changes_the_dashboards_correlation(
    browser_page, live_server, login, demo_clinic
):
    need_chromium()
    page = browser_page
    page.set_default_timeout(TIMEOUT_MS)
    problems = _watch_console(page)
    login(page, live_server, "dr-demo")
    dashboard = f"{live_server.url}/dashboards/{demo_clinic.slug}/"
    page.goto(dashboard)
    page.wait_for_selector("#fig-scatter_mmt8 .main-svg")
    before = _mmt8_fit_title(page)
    assert "n = 33" in before  # one demo patient has no MMT-8

    page.goto(f"{live_server.url}/cohorts/{demo_clinic.slug}/patients/IIM-0004/timepoints/0/")
    page.wait_for_selector("form#assessment-form")
    page.focus("[name=mmt8_mode]")
    page.keyboard.press("ArrowRight")  # per muscle group
    page.keyboard.press("Tab")
    for index, score in enumerate(SCORES):
        if index:
            page.keyboard.press("Tab")
        page.keyboard.type(str(score))
    assert page.locator('[data-role="mmt8-total"]').input_value() == "137"
    with page.expect_navigation():
        page.keyboard.press("Enter")
    baseline = ClinicalAssessment.objects.get(patient__pseudonym="IIM-0004", timepoint=0)
    assert baseline.mmt8_total == 137

    page.goto(dashboard)
    page.wait_for_selector("#fig-scatter_mmt8 .main-svg")
    deadline = time.monotonic() + 30
    while "n = 34" not in _mmt8_fit_title(page) and time.monotonic() < deadline:
        page.wait_for_timeout(250)  # the page polls for the recomputed result
    after = _mmt8_fit_title(page)
    assert "n = 34" in after
    assert after.split(",")[0] != before.split(",")[0]  # R² moved with the new patient
    page.locator("#section-scatter-mmt8").screenshot(
        path=str(SCREENSHOTS / "dashboard-scatter-mmt8-after-clinical-entry.png")
    )
    assert problems == []
