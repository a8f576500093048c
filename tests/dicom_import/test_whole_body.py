"""Whole-body MRI as scanners send it: stations composed into one stack per role, Enhanced MR
split into frames, Deflated stored readable, lossy and burned-in images flagged, roles from
the cohort's description rules, and the levels that bring the viewer to a group.

The files are built here from pydicom's real MR_small.dcm (64 x 64, signed 16 bit) and
emri_small.dcm (Enhanced MR, 10 frames), with positions and tags chosen by each test, so
every expected value below follows from the positions written into the files."""

from __future__ import annotations

import io

import numpy as np
import pydicom
import pytest
from django.test import Client
from django.urls import reverse
from pydicom.uid import DeflatedExplicitVRLittleEndian, ExplicitVRLittleEndian

from cohorts.imaging.ingest import dicom_import
from cohorts.models import AuditEvent, Series
from scoring.models import Read, ScoringProtocol
from scoring.selectors import read_stacks
from scoring.services import read_assign
from tests import factories
from tests.dicom_import.conftest import assert_pixels_unchanged, parse, real_file
from tests.dicom_import.whole_body import enhanced_mr, files_of, mr_slice, station


@pytest.fixture
def whole_body_protocol(db):
    return ScoringProtocol.objects.get(slug="whole-body-iim")


def test_four_overlapping_stations_form_one_head_to_foot_stack(
    cohort, radiologist, whole_body_protocol
):
    # STIR stations of 10 slices every 10 mm, overlapping by 20 mm (3 slices at 10 mm steps:
    # the 20 mm overlap holds 3 positions per station); station 4 leaves a 40 mm gap.
    stir = (
        station("stir-1", 0, 10)  # 0 … -90
        + station("stir-2", -70, 10)  # -70 … -160: overlap -70 … -90, cut at -80
        + station("stir-3", -140, 10)  # -140 … -230: overlap -140 … -160, cut at -150
        + station("stir-4", -280, 5)  # -280 … -320: 50 mm after -230, i.e. 40 mm missing
    )
    # T1 in another frame of reference, slices 5 mm off the STIR's, in reverse file order.
    t1 = station("t1-1", -5, 12, ti=None, description="T1_TSE_TRA_WB")[::-1]
    patient = factories.PatientFactory(cohort=cohort, source_key="w" * 64)
    report = dicom_import(cohort=cohort, files=files_of(stir + t1), actor=None, patient=patient)
    assert report.count("imported") == len(stir) + len(t1)
    read = read_assign(
        study=patient.studies.get(), protocol=whole_body_protocol, reader=radiologist, actor=None
    )
    stir_stack, t1_stack = read_stacks(read=read)
    assert (stir_stack.role, stir_stack.orientation, len(stir_stack.series)) == ("STIR", "axial", 4)
    positions = [s.position for s in stir_stack.slices]
    expected = (
        [0.0, -10, -20, -30, -40, -50, -60, -70]  # station 1 down to the cut at -80 (exclusive)
        + [-80, -90, -100, -110, -120, -130, -140]  # station 2 from the cut down to -150
        + [-150, -160, -170, -180, -190, -200, -210, -220, -230]  # station 3
        + [-280, -290, -300, -310, -320]  # station 4
    )
    assert positions == pytest.approx(expected)
    assert [s.station for s in stir_stack.slices] == [1] * 8 + [2] * 7 + [3] * 9 + [4] * 5
    assert stir_stack.gaps == [{"after": 23, "mm": 40.0}]
    assert [s.position for s in t1_stack.slices] == pytest.approx([-5 - 10 * i for i in range(12)])

    # The read page hands the viewer both stacks in that order, with stations and gaps.
    client = Client()
    client.force_login(radiologist)
    page = client.get(reverse("scoring:read", args=[read.token]))
    config = page.context["viewer_config"]
    stir_config = config["series"][0]
    assert stir_config["key"] == "stir" and stir_config["syncGroup"] == "axial"
    assert stir_config["positions"] == pytest.approx(expected)
    assert stir_config["stations"][:9] == [1] * 8 + [2]
    assert stir_config["stationCount"] == 4 and stir_config["gaps"] == [{"after": 23, "mm": 40.0}]
    assert len(stir_config["imageIds"]) == len(set(stir_config["imageIds"])) == 29


def test_a_station_with_a_reversed_normal_is_placed_by_its_table_position(
    cohort, radiologist, whole_body_protocol
):
    # Columns running to the patient's feet flip the normal to -z; the station still counts
    # towards the head and joins its neighbour in the right order.
    upper = station("up", 0, 5)
    lower = station("down", -40, 5, orientation=(1, 0, 0, 0, -1, 0))
    patient = factories.PatientFactory(cohort=cohort, source_key="v" * 64)
    dicom_import(cohort=cohort, files=files_of(upper + lower), actor=None, patient=patient)
    read = read_assign(
        study=patient.studies.get(), protocol=whole_body_protocol, reader=radiologist, actor=None
    )
    (stack,) = read_stacks(read=read)
    assert [s.position for s in stack.slices] == pytest.approx(
        [0, -10, -20, -30, -40, -50, -60, -70, -80]
    )


def test_a_coronal_series_is_its_own_stack(cohort, radiologist, whole_body_protocol):
    axial = station("ax", 0, 4)
    coronal = [
        mr_slice(series="cor", z=0, number=i + 1, orientation=(1, 0, 0, 0, 0, -1)) for i in range(3)
    ]
    for i, ds in enumerate(coronal):
        ds.ImagePositionPatient = [-100.0, -20.0 + 10 * i, 0.0]
    patient = factories.PatientFactory(cohort=cohort, source_key="u" * 64)
    dicom_import(cohort=cohort, files=files_of(axial + coronal), actor=None, patient=patient)
    read = read_assign(
        study=patient.studies.get(), protocol=whole_body_protocol, reader=radiologist, actor=None
    )
    stacks = read_stacks(read=read)
    assert [(s.key, s.orientation, len(s.slices)) for s in stacks] == [
        ("stir", "axial", 4),
        ("stir-coronal", "coronal", 3),
    ]


def test_enhanced_mr_is_split_into_frames_with_their_own_geometry_and_timing(cohort):
    files = files_of([enhanced_mr()])
    report = dicom_import(cohort=cohort, files=files, actor=None)
    assert [f.status for f in report.files] == ["imported"]
    series = Series.objects.get()
    # TI 220 ms at 3 T is a STIR (window 147-367 ms); read from the functional groups.
    assert (series.sequence, series.inversion_time, series.echo_time, series.repetition_time) == (
        "STIR",
        220.0,
        70.0,
        4500.0,
    )
    assert (series.slice_count, series.orientation, series.pixel_spacing) == (
        10,
        "axial",
        "3.5\\3.5",
    )
    instances = list(series.instances.order_by("instance_number"))
    assert [i.position_along_normal for i in instances] == [40.0 - 5 * i for i in range(10)]
    assert len({i.sop_instance_uid for i in instances}) == 10
    assert_pixels_unchanged(files[0][1])
    # Sent again: nothing new.
    again = dicom_import(cohort=cohort, files=files, actor=None)
    assert [f.status for f in again.files] == ["duplicate"] and series.instances.count() == 10


def test_a_deflated_file_is_stored_as_explicit_vr_little_endian_with_its_pixels(cohort):
    ds = pydicom.dcmread(real_file("MR_small.dcm"))
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    deflated = buffer.getvalue()
    assert parse(deflated).file_meta.TransferSyntaxUID == DeflatedExplicitVRLittleEndian
    report = dicom_import(cohort=cohort, files=[("deflated.dcm", deflated)], actor=None)
    assert [f.status for f in report.files] == ["imported"]
    instance = Series.objects.get().instances.get()
    with instance.file.open("rb") as handle:
        stored = parse(handle.read())
    assert stored.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    assert np.array_equal(
        stored.pixel_array, pydicom.dcmread(real_file("MR_small.dcm")).pixel_array
    )


@pytest.mark.parametrize(
    ("name", "lossy"), [("MR2_J2KI.dcm", True), ("MR2_UNCI.dcm", True), ("MR2_J2KR.dcm", False)]
)
def test_lossy_history_is_flagged(cohort, name, lossy):
    # MR2_UNCI is uncompressed now but says Lossy Image Compression 01: it was, once.
    dicom_import(cohort=cohort, files=[(name, real_file(name).read_bytes())], actor=None)
    assert Series.objects.get().lossy is lossy


def test_burned_in_annotation_is_flagged_on_the_coordinators_pages(client, coordinator, cohort):
    ds = mr_slice(series="burned", z=0, number=1)
    ds.BurnedInAnnotation = "YES"
    dicom_import(cohort=cohort, files=files_of([ds]), actor=None)
    series = Series.objects.get()
    assert series.burned_in_annotation and not series.lossy
    client.force_login(coordinator)
    page = client.get(reverse("scoring:study-reading", args=[cohort.slug, series.study_id]))
    assert page.status_code == 200
    assert "flag-burned-in" in page.content.decode() and "flag-lossy" not in page.content.decode()


def test_a_description_is_kept_as_protocol_words_and_gives_a_role(cohort):
    # No TI in the tags: the word STIR in the description makes it a STIR.
    ds = mr_slice(series="named", z=0, number=1, description="STIR TRA Mueller")
    ds.ScanningSequence, ds.ScanOptions = "SE", ""
    del ds.InversionTime
    ds.RepetitionTime = "4000"
    dicom_import(cohort=cohort, files=files_of([ds]), actor=None)
    series = Series.objects.get()
    assert (series.description, series.sequence, series.sequence_detected, series.role_source) == (
        "STIR TRA …",
        "STIR",
        "OTHER",
        "description",
    )


def test_the_cohorts_rules_give_roles_on_import_and_when_they_change(client, coordinator, cohort):
    cohort.series_rules = [{"pattern": "*_W", "role": "STIR"}]
    cohort.save()
    water = station("water", 0, 2, ti=None, description="Dixon_W")
    fat = station("fat", 0, 2, ti=None, description="Dixon_F")
    for ds in water + fat:
        ds.RepetitionTime, ds.ScanningSequence = "7", "GR"  # a gradient echo: tags say OTHER
    dicom_import(cohort=cohort, files=files_of(water + fat), actor=None)
    roles = dict(Series.objects.values_list("description", "sequence"))
    assert roles == {"Dixon_W": "STIR", "Dixon_F": "OTHER"}

    client.force_login(coordinator)
    url = reverse("scoring:series-rules", args=[cohort.slug])
    response = client.post(url, {"rules": "*_W => STIR\n*_f => t1"})
    assert response.status_code == 302
    roles = dict(Series.objects.values_list("description", "role_source"))
    assert roles == {"Dixon_W": "rule *_W", "Dixon_F": "rule *_f"}
    assert Series.objects.get(description="Dixon_F").sequence == "T1"
    assert AuditEvent.objects.filter(action="cohort.series_rules").count() == 1

    bad = client.post(url, {"rules": "*_W => T2"})
    assert bad.status_code == 200 and "role is one of" in bad.content.decode()
    assert Series.objects.get(description="Dixon_F").sequence == "T1"


def test_roles_change_until_a_read_is_submitted(client, coordinator, cohort, radiologist):
    protocol = ScoringProtocol.objects.get(slug="whole-body-iim")
    patient = factories.PatientFactory(cohort=cohort, source_key="r" * 64)
    dicom_import(cohort=cohort, files=files_of(station("s", 0, 2)), actor=None, patient=patient)
    series = Series.objects.get()
    study = series.study
    client.force_login(coordinator)
    url = reverse("scoring:study-reading", args=[cohort.slug, study.pk])
    client.post(url, {"action": "role", "series": series.pk, "role": "T1"})
    series.refresh_from_db()
    assert (series.sequence, series.role_source) == ("T1", "coordinator")

    read = read_assign(study=study, protocol=protocol, reader=radiologist, actor=None)
    Read.objects.filter(pk=read.pk).update(status=Read.Status.SUBMITTED)
    response = client.post(
        url, {"action": "role", "series": series.pk, "role": "STIR"}, follow=True
    )
    series.refresh_from_db()
    assert series.sequence == "T1"
    assert "submitted reads" in response.content.decode()


def test_a_readers_pin_is_stored_with_the_read_and_seen_by_no_other_reader(
    client, cohort, radiologist, other_radiologist, coordinator
):
    protocol = ScoringProtocol.objects.get(slug="whole-body-iim")
    patient = factories.PatientFactory(cohort=cohort, source_key="p" * 64)
    dicom_import(cohort=cohort, files=files_of(station("s", 0, 4)), actor=None, patient=patient)
    study = patient.studies.get()
    mine = read_assign(study=study, protocol=protocol, reader=radiologist, actor=None)
    theirs = read_assign(study=study, protocol=protocol, reader=other_radiologist, actor=None)
    client.force_login(radiologist)
    url = reverse("scoring:api-levels", args=[mine.token])
    response = client.post(
        url, {"group": "ventral-thigh", "position": -20.0}, content_type="application/json"
    )
    assert response.status_code == 200
    assert response.json()["levels"]["ventral-thigh"] == {"position": -20.0, "source": "read"}
    mine.refresh_from_db()
    assert mine.level_pins == {"ventral-thigh": -20.0}
    for bad in (
        {"group": "no-such-group", "position": 1},
        {"group": "ventral-thigh", "position": "NaN"},
    ):
        assert client.post(url, bad, content_type="application/json").status_code == 400
    # Another reader's page knows nothing of it; the coordinator's level reaches both.
    client.force_login(coordinator)
    setup = reverse("scoring:study-reading", args=[cohort.slug, study.pk])
    client.post(
        setup, {"action": "levels", "level-shoulder-girdle": "-10", "level-ventral-thigh": "-30"}
    )
    client.force_login(other_radiologist)
    levels = client.get(reverse("scoring:read", args=[theirs.token])).context["viewer_config"]
    assert levels["levels"] == {
        "shoulder-girdle": {"position": -10.0, "source": "study"},
        "ventral-thigh": {"position": -30.0, "source": "study"},
    }
    client.force_login(radiologist)
    levels = client.get(reverse("scoring:read", args=[mine.token])).context["viewer_config"][
        "levels"
    ]
    assert levels["ventral-thigh"] == {"position": -20.0, "source": "read"}
