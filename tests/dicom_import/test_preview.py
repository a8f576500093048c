"""Slices as 16-bit PNG for the cohort's clinicians and coordinators, the coordinator's series
preview, and the coordinator's sequence correction reaching the reading viewer."""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.urls import reverse
from PIL import Image

from cohorts.imaging.dicom.deid import dicom_bytes
from cohorts.imaging.ingest import dicom_import
from cohorts.models import Series
from scoring.models import ScoringProtocol
from scoring.selectors import read_stacks
from scoring.services import read_assign
from tests import factories
from tests.dicom_import.conftest import parse, real_files, synthetic_files

pytestmark = pytest.mark.django_db


@pytest.fixture
def mr_small_series(cohort) -> Series:
    dicom_import(cohort=cohort, files=real_files(["MR_small.dcm"]), actor=None)
    return Series.objects.get()


def png_url(cohort, series, index: int = 0) -> str:
    return reverse("cohorts:series-slice-png", args=[cohort.slug, series.pk, index])


@pytest.mark.parametrize("persona", ["clinician", "coordinator"])
def test_a_slice_comes_as_a_lossless_16_bit_png_with_its_window(
    client,
    cohort,
    mr_small_series,
    persona,
    request,
):
    client.force_login(request.getfixturevalue(persona))
    response = client.get(png_url(cohort, mr_small_series))
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert (response["X-Window-Center"], response["X-Window-Width"]) == ("600", "1600")
    assert "private" in response["Cache-Control"] and response["ETag"]
    image = Image.open(io.BytesIO(response.content))
    assert image.mode == "I;16"
    values = np.array(image).astype(np.int32) + int(response["X-Value-Offset"])
    original = parse(real_files(["MR_small.dcm"])[0][1]).pixel_array
    assert np.array_equal(values, original)


def test_an_unchanged_slice_is_not_sent_again(client, clinician, cohort, mr_small_series):
    client.force_login(clinician)
    first = client.get(png_url(cohort, mr_small_series))
    again = client.get(png_url(cohort, mr_small_series), HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304 and again["ETag"] == first["ETag"]


def test_an_enhanced_mr_file_is_previewed_frame_by_frame(client, clinician, cohort):
    """Enhanced MR is split into one image per frame on import: slice i is frame i."""
    patient = factories.PatientFactory(cohort=cohort, source_key="e" * 64)
    files = real_files(["emri_small.dcm"])
    dicom_import(cohort=cohort, files=files, actor=None, patient=patient)
    series = Series.objects.get()
    assert series.slice_count == 10
    client.force_login(clinician)
    response = client.get(png_url(cohort, series, 3))
    assert response.status_code == 200
    frame = np.array(Image.open(io.BytesIO(response.content))).astype(np.int32)
    assert np.array_equal(frame, parse(files[0][1]).pixel_array[3])
    assert client.get(png_url(cohort, series, 10)).status_code == 404


def test_a_slice_past_the_end_is_404(client, clinician, cohort, mr_small_series):
    client.force_login(clinician)
    assert client.get(png_url(cohort, mr_small_series, 1)).status_code == 404


@pytest.mark.parametrize("persona", ["radiologist", "statistician"])
def test_radiologists_and_statisticians_get_403(
    client,
    cohort,
    mr_small_series,
    persona,
    request,
    thigh_protocol,
):
    user = request.getfixturevalue(persona)
    if persona == "radiologist":  # even the reader of this very study: reads have their own door
        read_assign(study=mr_small_series.study, protocol=thigh_protocol, reader=user, actor=None)
    client.force_login(user)
    assert client.get(png_url(cohort, mr_small_series)).status_code == 403


def test_a_clinician_of_another_cohort_gets_404(client, cohort, mr_small_series):
    other = factories.CohortFactory()
    outsider = factories.user_with_role("clinician", username="outsider", cohort=other)
    client.force_login(outsider)
    assert client.get(png_url(cohort, mr_small_series)).status_code == 404
    assert client.get(png_url(other, mr_small_series)).status_code == 404


def test_the_coordinator_previews_a_studys_series(client, coordinator, cohort):
    dicom_import(cohort=cohort, files=synthetic_files(slices=3), actor=None)
    study = Series.objects.first().study
    client.force_login(coordinator)
    page = client.get(reverse("cohorts:study-series", args=[cohort.slug, study.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count('class="card series-preview"') == 2
    assert "STIR" in html and "3 slices" in html and "detected from the tags" in html
    for series in study.series.all():
        assert png_url(cohort, series) in html
    listing = client.get(reverse("cohorts:dicom-import", args=[cohort.slug])).content.decode()
    assert reverse("cohorts:study-series", args=[cohort.slug, study.pk]) in listing


def test_the_preview_page_is_for_coordinators(client, clinician, cohort):
    dicom_import(cohort=cohort, files=synthetic_files(slices=1), actor=None)
    study = Series.objects.first().study
    client.force_login(clinician)
    assert (
        client.get(reverse("cohorts:study-series", args=[cohort.slug, study.pk])).status_code == 403
    )


@pytest.fixture
def thigh_protocol(db) -> ScoringProtocol:
    return ScoringProtocol.objects.get(slug="thigh-only")


def test_a_sequence_corrected_in_the_admin_is_what_the_viewer_shows(
    client,
    coordinator,
    radiologist,
    cohort,
    thigh_protocol,
):
    files = synthetic_files(slices=3)
    t1_files = []
    for name, data in files:
        if name.startswith("004/"):  # the T1 series, with a TR the classifier will not take
            ds = parse(data)
            ds.RepetitionTime = "2800"
            data = dicom_bytes(ds)
        t1_files.append((name, data))
    dicom_import(cohort=cohort, files=t1_files, actor=None)
    misread = Series.objects.get(sequence_detected="OTHER")
    read = read_assign(study=misread.study, protocol=thigh_protocol, reader=radiologist, actor=None)
    assert [s.role for s in read_stacks(read=read)] == ["STIR"]

    client.force_login(coordinator)
    url = reverse("admin:cohorts_series_change", args=[misread.pk])
    response = client.post(url, {"sequence": "T1", "_save": "Save"})
    assert response.status_code == 302, response.content.decode()[:2000]
    misread.refresh_from_db()
    assert (misread.sequence, misread.sequence_detected) == ("T1", "OTHER")
    shown = read_stacks(read=read)
    assert [s.role for s in shown] == ["STIR", "T1"]
    assert {s.instance.series_id for s in shown[1].slices} == {misread.pk}
    page = client.get(reverse("cohorts:study-series", args=[cohort.slug, misread.study_id]))
    assert (
        "corrected" in page.content.decode()
        and "detected from the tags as Other" in page.content.decode()
    )
