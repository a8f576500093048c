"""Sequence classification and series geometry from tags: real files, constructed headers."""

from __future__ import annotations

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset

from cohorts.imaging.dicom.classify import (
    classify_sequence,
    orientation_label,
    series_geometry,
    slice_position,
    stir_ti_window,
)


def local_file(name: str) -> str:
    path = get_testdata_file(name, download=False)
    if path is None:
        pytest.skip(f"{name} is not installed locally")
    return str(path)


IR = "IR"
B0 = "MagneticFieldStrength"


def header(**tags) -> Dataset:
    ds = Dataset()
    ds.Modality = "MR"
    for keyword, value in tags.items():
        setattr(ds, keyword, value)
    return ds


def test_pydicom_mr_small_is_a_long_tr_spin_echo_so_other() -> None:
    ds = pydicom.dcmread(local_file("MR_small.dcm"))
    assert (ds.ScanningSequence, float(ds.RepetitionTime), float(ds.EchoTime)) == ("SE", 4000, 240)
    assert classify_sequence(ds) == "OTHER"  # T2-weighted: TR and TE far above the T1 limits


def test_pydicom_data_mr2_is_a_short_tr_short_te_spin_echo_so_t1() -> None:
    ds = pydicom.dcmread(local_file("MR2_UNCI.dcm"))
    assert (ds.ScanningSequence, float(ds.RepetitionTime), float(ds.EchoTime)) == ("SE", 350, 27)
    assert classify_sequence(ds) == "T1"


def test_siemens_gradient_echo_with_fat_sat_is_other() -> None:
    ds = pydicom.dcmread(local_file("MR-SIEMENS-DICOM-WithOverlays.dcm"))
    assert ds.ScanningSequence == "GR"
    assert classify_sequence(ds) == "OTHER"


def test_enhanced_mr_gradient_echo_is_other() -> None:
    ds = pydicom.dcmread(local_file("emri_small.dcm"))
    assert ds.EchoPulseSequence == "GRADIENT"
    assert classify_sequence(ds) == "OTHER"


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ({"ScanningSequence": IR, "InversionTime": "150", B0: "1.5"}, "STIR"),
        ({"ScanningSequence": ["SE", "IR"], "InversionTime": "100"}, "STIR"),  # 1.5 T assumed
        ({"ScanningSequence": IR, "InversionTime": "250", B0: "1.5"}, "STIR"),
        ({"ScanningSequence": IR, "InversionTime": "220", B0: "3"}, "STIR"),
        ({"ScanningSequence": IR, "InversionTime": "300", B0: "3"}, "STIR"),
        ({"ScanningSequence": IR, "InversionTime": "300", B0: "1.5"}, "OTHER"),
        ({"ScanningSequence": "IR", "InversionTime": "2500"}, "OTHER"),  # FLAIR
        ({"ScanningSequence": IR, "InversionTime": "90", B0: "3"}, "OTHER"),
        ({"ScanningSequence": "IR"}, "OTHER"),  # no TI: cannot tell
        ({"ScanningSequence": "SE", "ScanOptions": "IR", "InversionTime": "160"}, "STIR"),
        ({"ScanningSequence": "SE", "InversionTime": "170", "RepetitionTime": "4000"}, "STIR"),
        ({"ScanningSequence": "SE", "RepetitionTime": "550", "EchoTime": "12"}, "T1"),
        ({"ScanningSequence": "SE", "RepetitionTime": "800", "EchoTime": "30"}, "T1"),
        ({"ScanningSequence": "SE", "RepetitionTime": "801", "EchoTime": "12"}, "OTHER"),
        ({"ScanningSequence": "SE", "RepetitionTime": "550", "EchoTime": "80"}, "OTHER"),
        ({"ScanningSequence": "GR", "RepetitionTime": "550", "EchoTime": "12"}, "OTHER"),
        ({"ScanningSequence": "SE", "RepetitionTime": "", "EchoTime": "12"}, "OTHER"),
        ({}, "OTHER"),
    ],
)
def test_classification_rules(tags: dict, expected: str) -> None:
    assert classify_sequence(header(**tags)) == expected


def test_ti_window_scales_with_field_strength() -> None:
    assert stir_ti_window(1.5) == pytest.approx((100.0, 250.0))
    low, high = stir_ti_window(3.0)
    assert low == pytest.approx(146.67, abs=0.01) and high == pytest.approx(366.67, abs=0.01)
    assert stir_ti_window(None) == stir_ti_window(1.5)


def enhanced(**macros: Dataset) -> Dataset:
    shared = Dataset()
    for keyword, item in macros.items():
        setattr(shared, keyword, [item])
    return header(SharedFunctionalGroupsSequence=[shared])


def test_enhanced_mr_stir_from_functional_groups() -> None:
    ds = enhanced(MRModifierSequence=Dataset(), MRTimingAndRelatedParametersSequence=Dataset())
    ds.SharedFunctionalGroupsSequence[0].MRModifierSequence[0].InversionRecovery = "YES"
    ds.SharedFunctionalGroupsSequence[0].MRModifierSequence[0].InversionTimes = [165]
    assert classify_sequence(ds) == "STIR"


def test_enhanced_mr_t1_tse_from_functional_groups() -> None:
    timing, echo = Dataset(), Dataset()
    timing.RepetitionTime = 600
    echo.EffectiveEchoTime = 10
    ds = enhanced(MRTimingAndRelatedParametersSequence=timing, MREchoSequence=echo)
    ds.EchoPulseSequence = "SPIN"
    assert classify_sequence(ds) == "T1"


@pytest.mark.parametrize(
    ("orientation", "label"),
    [
        ([1, 0, 0, 0, 1, 0], "axial"),
        ([1, 0, 0, 0, 0, -1], "coronal"),
        ([0, 1, 0, 0, 0, -1], "sagittal"),
        ([0.569486, 0.822001, 0, 0, 0, -1], "sagittal"),  # MR2's oblique sagittal
        ([0.98, 0.2, 0, -0.2, 0.98, 0.05], "axial"),
        (None, "unknown"),
        ([1, 0, 0], "unknown"),
    ],
)
def test_orientation_label(orientation, label: str) -> None:
    assert orientation_label(orientation) == label


def test_series_geometry_of_real_files() -> None:
    geometry = series_geometry([pydicom.dcmread(local_file("MR2_UNCI.dcm"))])
    assert geometry.orientation == "sagittal"
    assert geometry.pixel_spacing == pytest.approx((0.195313, 0.195313))
    assert (geometry.slice_count, geometry.repetition_time, geometry.echo_time) == (1, 350, 27)
    assert geometry.field_strength == 1.5 and geometry.inversion_time is None
    multi_frame = series_geometry([pydicom.dcmread(local_file("emri_small.dcm"))])
    assert multi_frame.slice_count == 10 and multi_frame.orientation == "unknown"


def test_series_geometry_needs_an_image() -> None:
    with pytest.raises(ValueError, match="at least one image"):
        series_geometry([])


def test_slice_position_projects_on_the_normal_and_falls_back_to_location() -> None:
    axial = header(ImagePositionPatient=[-9, -9, 42.5], ImageOrientationPatient=[1, 0, 0, 0, 1, 0])
    assert slice_position(axial) == pytest.approx(42.5)
    sagittal = header(
        ImagePositionPatient=[12, -5, 30], ImageOrientationPatient=[0, 1, 0, 0, 0, -1]
    )
    assert slice_position(sagittal) == pytest.approx(-12.0)
    assert slice_position(header(SliceLocation="7.5")) == 7.5
    assert slice_position(header()) is None
