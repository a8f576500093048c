"""Synthetic demo studies: series, tags, anatomy, grades; the real pipeline takes them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.uid import (
    ExplicitVRBigEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    RLELossless,
)

from cohorts.imaging.dicom.classify import classify_sequence, series_geometry, slice_position
from cohorts.imaging.dicom.deid import deidentify, dicom_bytes, identifying_values
from cohorts.imaging.dicom.synthetic import (
    LEVELS,
    level_of_slice,
    muscle_mask,
    muscle_slugs,
    synthetic_study,
    write_series,
)
from cohorts.imaging.dicom.validate import read_mr_image
from scoring.atlas_data import atlas_muscles

GRADES = {
    ("rectus-femoris", "R"): (2, 0),
    ("rectus-femoris", "L"): (0, 2),
    ("deltoid", "L"): (1, 1),
}


def study(**kwargs) -> list[pydicom.FileDataset]:
    options = {
        "patient_id": "SRC-0042",
        "patient_name": "Example^Patient",
        "birth_date": "19650312",
        "grades": GRADES,
    }
    return synthetic_study(**(options | kwargs))


def split(datasets):
    stir = [ds for ds in datasets if ds.SeriesDescription.startswith("STIR")]
    t1 = [ds for ds in datasets if ds.SeriesDescription.startswith("T1")]
    return stir, t1


def test_two_axial_series_with_different_frames_of_reference() -> None:
    datasets = study()
    stir, t1 = split(datasets)
    assert len(stir) == len(t1) == 20
    assert len({ds.StudyInstanceUID for ds in datasets}) == 1
    assert stir[0].SeriesInstanceUID != t1[0].SeriesInstanceUID
    assert len({ds.FrameOfReferenceUID for ds in stir}) == 1
    assert len({ds.FrameOfReferenceUID for ds in t1}) == 1
    assert stir[0].FrameOfReferenceUID != t1[0].FrameOfReferenceUID
    assert len({ds.SOPInstanceUID for ds in datasets}) == 40


def test_series_classify_as_stir_and_t1() -> None:
    stir, t1 = split(study())
    assert {classify_sequence(ds) for ds in stir} == {"STIR"}
    assert {classify_sequence(ds) for ds in t1} == {"T1"}
    assert (stir[0].ScanningSequence, float(stir[0].InversionTime)) == ("IR", 150)
    assert (t1[0].ScanningSequence, float(t1[0].RepetitionTime), float(t1[0].EchoTime)) == (
        "SE",
        550,
        12,
    )


def test_geometry_and_slice_positions_differ_slightly_between_series() -> None:
    stir, t1 = split(study())
    geometry = series_geometry(stir)
    assert (geometry.orientation, geometry.slice_count) == ("axial", 20)
    assert geometry.pixel_spacing == pytest.approx((3.0, 3.0))
    stir_z = [slice_position(ds) for ds in stir]
    t1_z = [slice_position(ds) for ds in t1]
    assert stir_z == sorted(stir_z, reverse=True)  # head to feet
    assert all(0 < t - s < 5 for s, t in zip(stir_z, t1_z, strict=True))
    locations = [float(ds.SliceLocation) for ds in stir]
    assert locations == pytest.approx(stir_z)


def test_pixels_are_16_bit_monochrome_of_the_requested_size() -> None:
    ds = study(slices=6, size=96)[0]
    assert (ds.Rows, ds.Columns, ds.BitsAllocated, ds.PhotometricInterpretation) == (
        96,
        96,
        16,
        "MONOCHROME2",
    )
    assert ds.pixel_array.dtype == np.uint16 and ds.pixel_array.max() > 500


def mean_in(ds, slug: str, side: str, index: int, slices: int = 20) -> float:
    mask = muscle_mask(slug, side, index=index, slices=slices, size=ds.Rows)
    assert mask is not None and mask.sum() > 10
    return float(ds.pixel_array[mask].mean())


def thigh_slice(slices: int = 20) -> int:
    return next(i for i in range(slices) if level_of_slice(i, slices) == "thigh")


def test_oedema_grade_2_is_brighter_on_stir_than_grade_0() -> None:
    stir, t1 = split(study())
    index = thigh_slice()
    assert mean_in(stir[index], "rectus-femoris", "R", index) > 2 * mean_in(
        stir[index], "rectus-femoris", "L", index
    )
    # the other sequence is untouched by a STIR grade
    assert mean_in(t1[index], "rectus-femoris", "R", index) < 1.3 * mean_in(
        t1[index], "vastus-medialis", "R", index
    )


def test_fat_grade_2_is_brighter_on_t1_than_grade_0() -> None:
    _stir, t1 = split(study())
    index = thigh_slice()
    fatty = mean_in(t1[index], "rectus-femoris", "L", index)
    normal = mean_in(t1[index], "rectus-femoris", "R", index)
    assert fatty > 1.5 * normal


def test_fat_is_dark_on_stir_and_bright_on_t1() -> None:
    stir, t1 = split(study(grades={}))
    index = thigh_slice()
    # subcutaneous fat lateral to the right thigh: 170 mm right of centre, 3 mm pixels
    row, col = 81, round(79.5 - 170 / 3)
    fat_stir = stir[index].pixel_array[row - 1 : row + 2, col - 1 : col + 2].mean()
    fat_t1 = t1[index].pixel_array[row - 1 : row + 2, col - 1 : col + 2].mean()
    muscle_stir = mean_in(stir[index], "vastus-lateralis", "R", index)
    muscle_t1 = mean_in(t1[index], "vastus-lateralis", "R", index)
    assert fat_t1 > 2 * muscle_t1
    assert fat_stir < muscle_stir


def test_patients_left_is_on_the_images_right() -> None:
    index = thigh_slice()
    left = muscle_mask("rectus-femoris", "L", index=index, slices=20, size=160)
    right = muscle_mask("rectus-femoris", "R", index=index, slices=20, size=160)
    assert np.nonzero(left)[1].mean() > 80 > np.nonzero(right)[1].mean()


def test_every_atlas_muscle_is_drawn_somewhere() -> None:
    assert muscle_slugs() == {m.slug for m in atlas_muscles()}
    for slug in muscle_slugs():
        for side in ("L", "R"):
            areas = [
                int(mask.sum())
                for i in range(20)
                if (mask := muscle_mask(slug, side, index=i, slices=20, size=160)) is not None
            ]
            assert areas and max(areas) >= 9, (slug, side)


def test_every_level_gets_a_slice() -> None:
    assert {level_of_slice(i, 20) for i in range(20)} == set(LEVELS)
    assert {level_of_slice(i, 6) for i in range(6)} == set(LEVELS)


def test_same_seed_same_study_other_seed_other_pixels() -> None:
    first, again, other = study(slices=6), study(slices=6), study(slices=6, seed=1)
    assert [ds.SOPInstanceUID for ds in first] == [ds.SOPInstanceUID for ds in again]
    assert all(a.PixelData == b.PixelData for a, b in zip(first, again, strict=True))
    assert first[0].PixelData != other[0].PixelData
    assert first[0].SOPInstanceUID != other[0].SOPInstanceUID


def test_unknown_muscles_and_bad_grades_are_refused() -> None:
    with pytest.raises(ValueError, match="no such muscle"):
        study(grades={("biceps", "L"): (1, 1)})
    with pytest.raises(ValueError, match="0-2"):
        study(grades={("deltoid", "X"): (1, 1)})
    with pytest.raises(ValueError, match="0-2"):
        study(grades={("deltoid", "L"): (3, 0)})


@pytest.mark.parametrize(
    "syntax", [ImplicitVRLittleEndian, ExplicitVRBigEndian, RLELossless, JPEG2000Lossless]
)
def test_other_transfer_syntaxes_round_trip(syntax: str) -> None:
    plain = study(slices=6, size=64)
    encoded = study(slices=6, size=64, transfer_syntax=syntax)
    for a, b in zip(plain, encoded, strict=True):
        reread = read_mr_image(dicom_bytes(b))
        assert reread.file_meta.TransferSyntaxUID == syntax
        np.testing.assert_array_equal(reread.pixel_array, a.pixel_array)
        assert reread.SOPInstanceUID == a.SOPInstanceUID


def test_the_import_gate_and_deidentification_take_the_study() -> None:
    for ds in study(slices=6):
        original = read_mr_image(dicom_bytes(ds))
        secrets = identifying_values(original)
        assert {"Example^Patient", "SRC-0042", "19650312"} <= secrets
        clean = deidentify(original, pseudonym="IIM-0001", date_offset_days=-500, uid_secret=b"k")
        written = dicom_bytes(clean)
        assert not [s for s in secrets if s.encode() in written]
        assert b"Example" not in written and b"IIM SYNTHETIC" not in written


def test_write_series_writes_readable_files(tmp_path: Path) -> None:
    paths = write_series(study(slices=6), tmp_path)
    assert len(paths) == 12 and len({p.parent for p in paths}) == 2
    assert pydicom.dcmread(paths[0]).Modality == "MR"


def test_images_share_no_elements_so_editing_one_leaves_the_others() -> None:
    first, second, *_ = study(slices=3)
    deidentify(first, pseudonym="IIM-0001", date_offset_days=-500, uid_secret=b"k")
    assert second.PatientName == "Example^Patient"
    assert second.RequestAttributesSequence[0].RequestedProcedureID == second.AccessionNumber
