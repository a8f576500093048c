"""A clinician's dashboard in real Chromium: every figure renders, a filter changes the
heatmap, and a grade amended by a radiologist shows up after recomputation."""

from __future__ import annotations

import json
import time
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from cohorts.models import Cohort, CohortMembership
from scoring.models import Grade, Read
from scoring.services import CellChange, read_amend
from tests.factories import user_with_role

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
FIGURES = ["heatmap", "scatter_mmt8", "scatter_ck", "dunn", "limbs"]


@pytest.fixture
def demo_clinician(transactional_db):
    call_command("seed_demo", "--no-images", stdout=StringIO())
    clinician = user_with_role("clinician", username="dash-clinician")
    CohortMembership.objects.create(cohort=Cohort.objects.get(slug="demo-iim"), user=clinician)
    return clinician


def _heatmap_z(page) -> list:
    return page.evaluate("document.getElementById('fig-heatmap').data[0].z")


def _until(page, expression: str, arg=None, timeout: float = 30.0):
    """Poll `expression` from the test: the page's CSP forbids the eval wait_for_function uses."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = page.evaluate(expression, arg)
        if value:
            return value
        page.wait_for_timeout(250)
    raise AssertionError(f"timed out waiting for {expression}")


def _wait_drawn(page, count: int) -> None:
    _until(page, f"() => Number(document.body.dataset.dashboardDrawn || 0) >= {count}")


def test_every_figure_renders_and_filters_change_the_heatmap(
    browser_page,
    live_server,
    login,
    demo_clinician,
):
    page = browser_page
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on(
        "console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None
    )
    login(page, live_server, "dash-clinician")
    page.goto(f"{live_server.url}/dashboards/demo-iim/")
    _wait_drawn(page, 1)
    for name in FIGURES:
        assert page.locator(f"#fig-{name} .main-svg").count() > 0, name
        drawn = page.locator(
            f"#fig-{name} .point, #fig-{name} .heatmaplayer image, "
            f"#fig-{name} .scatterlayer .trace path"
        ).count()
        assert drawn > 0, name
    assert page.locator("#kruskal-table tbody tr").count() == 15
    assert page.locator("#descriptives-table tbody tr").count() > 5
    assert page.inner_text("#status-badge") == "fresh"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "dashboard-full.png"), full_page=True)
    for section in (
        "heatmap",
        "scatter-mmt8",
        "scatter-ck",
        "kruskal",
        "dunn",
        "limbs",
        "descriptives",
    ):
        page.locator(f"#section-{section}").screenshot(
            path=str(SCREENSHOTS / f"dashboard-{section}.png")
        )

    # Beyond the paper: agreement, asymmetry, trajectories, the clustered heatmap, classifier.
    _until(page, "() => document.body.dataset.beyondDrawn === '1'")
    for name in ("asymmetry", "trajectories", "clustered", "classifier"):
        drawn = page.locator(
            f"#fig-{name} .heatmaplayer image, #fig-{name} .barlayer .point, "
            f"#fig-{name} .scatterlayer .trace path"
        ).count()
        assert drawn > 0, name
    agreement_rows = page.locator("#agreement-table tbody tr")
    assert agreement_rows.count() == 2
    assert "Inter-reader" in agreement_rows.nth(0).inner_text()
    assert page.locator("#agreement-table tbody td.num").count() == 16  # both rows computed
    assert "Exploratory" in page.inner_text("#classifier-label")
    for section in ("agreement", "asymmetry", "trajectories", "clustered", "classifier"):
        page.locator(f"#section-{section}").screenshot(
            path=str(SCREENSHOTS / f"dashboard-{section}.png")
        )

    before = _heatmap_z(page)
    page.check("input[name=subtype][value=DM]")
    page.check("input[name=subtype][value=IBM]")
    page.click("#filters button[type=submit]")
    _wait_drawn(page, 2)
    _until(page, "() => document.getElementById('fig-heatmap').data[0].x.length === 2")
    assert _heatmap_z(page) != before
    assert "subtype=DM" in page.url  # the filter state is in the URL, to share the view
    # A filter set is drawn once asked for and again once computed: count from here.
    drawn = int(page.evaluate("document.body.dataset.dashboardDrawn"))
    page.click("input[name=stat][value=median]")
    _wait_drawn(page, drawn + 1)
    assert "Median" in page.inner_text("#fig-heatmap")
    assert not errors, errors


def test_a_radiologists_amended_grade_changes_the_dashboard(
    browser_page,
    live_server,
    login,
    demo_clinician,
):
    page = browser_page
    login(page, live_server, "dash-clinician")
    page.goto(f"{live_server.url}/dashboards/demo-iim/")
    _wait_drawn(page, 1)
    read = Read.objects.get(
        study__patient__pseudonym="IIM-0020", status="submitted", reader__username="demo-expert"
    )  # an ASYS patient: low scores
    pseudonym = "IIM-0020"
    script = (
        "(p) => { const d = document.getElementById('fig-scatter_mmt8').data;"
        " for (const t of d) { const i = (t.text || []).indexOf(p);"
        " if (i >= 0) return t.x[i]; } return null; }"
    )
    before = page.evaluate(script, pseudonym)
    muscles = list(read.protocol.muscles.filter(group__slug="ventral-thigh"))
    changes = [CellChange(m, side, "STIR", "2") for m in muscles for side in "LR"]
    read_amend(
        read=read,
        changes=changes,
        actor=read.reader,
        reason="re-review",
        expected_version=read.version,
    )
    # Eager tasks ran on commit: the stored results are new; the page sees them by polling.
    after = _until(
        page,
        f"(p) => {{ const x = ({script})(p); return x !== {json.dumps(before)} ? x : null; }}",
        pseudonym,
    )
    assert after > before
    assert (
        Grade.objects.filter(
            read=read, muscle__group__slug="ventral-thigh", sequence="STIR", value="2"
        ).count()
        == 10
    )
