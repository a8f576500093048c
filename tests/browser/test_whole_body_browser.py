"""Whole-body reading in a real browser: stations joined into one stack per role and scrolled
head to foot in step, orientation markers where the patient's sides are, Enhanced MR frame by
frame, every transfer syntax the import accepts drawn, and a pinned level that brings both
viewports back from the grid.

The studies are built in the tests from pydicom's real MR files (tests/dicom_import/
whole_body.py) and imported through the real pipeline; expected positions follow from the
positions written into the files."""

from __future__ import annotations

import io
import time

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.uid import DeflatedExplicitVRLittleEndian

from cohorts.imaging.ingest import dicom_import
from cohorts.models import Series
from scoring.models import Read, ScoringProtocol
from scoring.services import read_assign
from tests import factories
from tests.browser.test_reading_browser import (
    TIMEOUT_MS,
    VIEWER_BUNDLE,
    _restore_reference_data,
    open_read,
    screenshot,
    viewer_state,
    wait_for,
)
from tests.dicom_import.conftest import real_file
from tests.dicom_import.whole_body import enhanced_mr, files_of, mr_slice, station
from tests.services import need, need_chromium

pytestmark = pytest.mark.browser

PIN_KEY = "p"


@pytest.fixture(autouse=True)
def _browser_available() -> None:
    need_chromium()
    need(VIEWER_BUNDLE.exists(), "the built viewer bundle (npm ci && npm run build)")


@pytest.fixture
def reader(transactional_db):
    _restore_reference_data()
    return factories.user_with_role("radiologist", username="radiologist")


def _read_of(reader, datasets, *, source_key: str) -> Read:
    patient = factories.PatientFactory(source_key=source_key)
    report = dicom_import(
        cohort=patient.cohort, files=files_of(datasets), actor=None, patient=patient
    )
    assert report.count("imported") == len(report.files), [f.reason for f in report.files]
    return read_assign(
        study=patient.studies.get(),
        protocol=ScoringProtocol.objects.get(slug="whole-body-iim"),
        reader=reader,
        actor=None,
    )


def _open(page, live_server, login, read: Read) -> None:
    login(page, live_server, "radiologist")
    open_read(page, live_server, read)


# Four STIR stations of 8 slices, 10 mm apart, overlapping by 20 mm; T1 in its own frame of
# reference, 4 stations of 8 slices shifted 3 mm, so no T1 slice sits where a STIR slice does.
def _four_stations() -> list:
    stir, t1 = [], []
    for k in range(4):
        top = -60.0 * k
        stir += station(f"stir-{k}", top, 8, frame_of_reference="1.2.3.4.1")
        t1 += station(
            f"t1-{k}",
            top - 3,
            8,
            ti=None,
            description="T1_TSE_TRA_WB",
            frame_of_reference="1.2.3.4.2",
        )
    return stir[::-1] + t1  # sent in no particular order


def test_four_stations_scroll_head_to_foot_in_both_viewports_in_step(
    browser_page, live_server, login, reader
):
    read = _read_of(reader, _four_stations(), source_key="a" * 64)
    page = browser_page
    _open(page, live_server, login, read)
    state = viewer_state(page)
    # Stations 0…-70, -60…-130, -120…-190, -180…-250 mm, cut at the middle of each overlap
    # (-65, -125, -185): 7 + 6 + 6 + 7 = 26 positions from 0 to -250 mm every 10 mm.
    assert state["stir"]["count"] == 26 and state["stir"]["stationCount"] == 4
    stir_positions, t1_positions, stations = [], [], []
    for index in range(state["stir"]["count"]):
        page.evaluate("i => window.iimViewer.setSlice('stir', i)", index)
        wait_for(page, "i => window.iimViewer.state().stir.shownIndex === i", index)
        now = viewer_state(page)
        wait_for(page, "i => window.iimViewer.state().t1.shownIndex === i", now["t1"]["index"])
        now = viewer_state(page)
        stir_positions.append(now["stir"]["position"])
        t1_positions.append(now["t1"]["position"])
        stations.append(now["stir"]["station"])
    assert stir_positions == sorted(stir_positions, reverse=True)  # head to foot
    assert stir_positions == [-10.0 * i for i in range(26)]
    assert stations == [1] * 7 + [2] * 6 + [3] * 6 + [4] * 7
    # In step: T1 shows its slice nearest the STIR's position, which sits 3 mm lower.
    assert t1_positions == pytest.approx([z - 3 for z in stir_positions])
    screenshot(page, "whole-body-four-stations")


def test_markers_show_the_patients_right_where_the_right_side_is_drawn(
    browser_page, live_server, login, reader
):
    # A bright block in the image's first columns: with Image Orientation (1,0,0,0,1,0) the
    # rows run to the patient's left, so the first columns are the patient's right.
    datasets = station("marked", 0, 3)
    for ds in datasets:
        pixels = ds.pixel_array.copy()
        pixels[:, :] = 50
        pixels[:, :16] = 3000
        ds.PixelData = pixels.astype(pixels.dtype).tobytes()
        ds.WindowCenter, ds.WindowWidth = "1500", "3000"
    read = _read_of(reader, datasets, source_key="b" * 64)
    page = browser_page
    _open(page, live_server, login, read)
    markers = viewer_state(page)["stir"]["markers"]
    assert markers == {"left": "R", "right": "L", "top": "A", "bottom": "P"}
    dom = page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll(
             '.orientation-marker')].filter(m => m.closest('.viewport-frame')
             .querySelector('#viewport-stir')).map(m => [m.dataset.edge, m.textContent.trim()]))"""
    )
    assert dom == markers
    shot = Image.open(io.BytesIO(page.locator("#viewport-stir").screenshot())).convert("L")
    grey = np.asarray(shot, dtype=float)
    left, right = grey[:, : grey.shape[1] // 2], grey[:, grey.shape[1] // 2 :]
    assert left.mean() > right.mean() + 20, (left.mean(), right.mean())
    screenshot(page, "whole-body-markers")


def test_an_enhanced_mr_series_scrolls_through_all_its_frames(
    browser_page, live_server, login, reader
):
    ds = enhanced_mr()
    ds.PatientID = "EMR-BROWSER"
    read = _read_of(reader, [ds], source_key="c" * 64)
    page = browser_page
    _open(page, live_server, login, read)
    assert viewer_state(page)["stir"]["count"] == 10
    seen = []
    for index in range(10):
        page.evaluate("i => window.iimViewer.setSlice('stir', i)", index)
        wait_for(page, "i => window.iimViewer.state().stir.shownIndex === i", index)
        seen.append(viewer_state(page)["stir"]["position"])
    assert seen == [40.0 - 5 * i for i in range(10)]


def _deflated() -> pydicom.Dataset:
    ds = mr_slice(series="deflated", z=0, number=1)
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    return ds


REAL_SYNTAXES = [
    "MR_small_implicit.dcm",
    "MR_small_bigendian.dcm",
    "MR_small_RLE.dcm",
    "MR_small_jp2klossless.dcm",
    "MR_small_jpeg_ls_lossless.dcm",
    "emri_small_jpeg_2k_lossless.dcm",
]


@pytest.mark.parametrize("name", ["deflated", *REAL_SYNTAXES])
def test_every_accepted_transfer_syntax_is_drawn(browser_page, live_server, login, reader, name):
    if name == "deflated":
        datasets = [_deflated()]
    else:
        ds = pydicom.dcmread(real_file(name))
        ds.PatientID = "SYNTAX-1"
        datasets = [ds]
    read = _read_of(reader, datasets, source_key="d" * 64)
    page = browser_page
    # Whatever its tags say, the series is shown as the STIR.
    Series.objects.filter(study=read.study).update(sequence="STIR")
    _open(page, live_server, login, read)
    state = viewer_state(page)["stir"]
    assert state["error"] is None and state["shownIndex"] == state["index"]
    shot = np.asarray(
        Image.open(io.BytesIO(page.locator("#viewport-stir").screenshot())).convert("L")
    )
    assert shot.std() > 5, "the viewport is blank"


def test_a_pinned_level_brings_both_viewports_back_from_the_grid(
    browser_page, live_server, login, reader
):
    read = _read_of(reader, _four_stations(), source_key="e" * 64)
    page = browser_page
    _open(page, live_server, login, read)
    # At slice 15 (-150 mm), with the grid's cursor on a ventral thigh row, pin the level.
    page.evaluate("() => window.iimViewer.setSlice('stir', 15)")
    wait_for(page, "() => window.iimViewer.state().stir.shownIndex === 15")
    page.click("td.cell[data-muscle='rectus-femoris'][data-side='R'][data-sequence='STIR']")
    page.keyboard.press(PIN_KEY)
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while not Read.objects.get(pk=read.pk).level_pins and time.monotonic() < deadline:
        time.sleep(0.1)
    assert Read.objects.get(pk=read.pk).level_pins == {"ventral-thigh": -150.0}
    # Elsewhere, then to a row of another group and back to the thigh: both come back.
    page.evaluate("() => window.iimViewer.setSlice('stir', 2)")
    wait_for(page, "() => window.iimViewer.state().stir.shownIndex === 2")
    page.click("td.cell[data-muscle='deltoid'][data-side='R'][data-sequence='STIR']")
    page.click("td.cell[data-muscle='vastus-lateralis'][data-side='R'][data-sequence='STIR']")
    wait_for(page, "() => window.iimViewer.state().stir.shownIndex === 15")
    wait_for(page, "() => window.iimViewer.state().t1.position === -153")
    screenshot(page, "whole-body-pinned-level")


def test_the_coordinator_sees_each_series_role_with_a_slice_and_changes_one(
    browser_page, live_server, login, reader
):
    read = _read_of(reader, _four_stations(), source_key="f" * 64)
    cohort = read.study.patient.cohort
    factories.user_with_role("coordinator", username="coord", cohort=cohort)
    page = browser_page
    login(page, live_server, "coord")
    page.goto(f"{live_server.url}/reading/cohorts/{cohort.slug}/studies/{read.study_id}/reading/")
    rows = page.locator("tr.series-preview")
    assert rows.count() == 8
    page.wait_for_function(
        "() => [...document.querySelectorAll('canvas.thumbnail')].every(c => c.width === 64)",
        timeout=TIMEOUT_MS,
    )
    assert page.locator("[data-stack='stir']").text_content().count("4 stations") == 1
    first = rows.filter(has_text="STIR_TRA_WB").first
    first.locator("select[name=role]").select_option("OTHER")
    with page.expect_navigation():
        first.get_by_role("button", name="Set").click()
    assert "is now OTHER" in page.text_content("body")
    assert "3 stations" in page.locator("[data-stack='stir']").text_content()
    screenshot(page, "whole-body-reading-setup")
