"""Synthetic demo studies: series, tags, anatomy, grades; the real pipeline takes them."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.uid import (
    EnhancedMRImageStorage,
    ExplicitVRBigEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    MRImageStorage,
    RLELossless,
)

from cohorts.imaging.dicom.classify import classify_sequence, series_geometry, slice_position
from cohorts.imaging.dicom.deid import deidentify, dicom_bytes, identifying_values
from cohorts.imaging.dicom.synthetic import (
    LEVELS,
    level_of_slice,
    muscle_levels,
    muscle_mask,
    muscle_mask_at,
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


# Whole-body studies as scanners send them --------------------------------------------------
# The body runs from z = 470 mm (base of the neck) to z = -960 mm (ankles), 1430 mm; five
# stations overlapping by 40 mm are (1430 + 4 * 40) / 5 = 318 mm long, one starting every
# 278 mm; 12 slices a station are 26.5 mm apart, the first 13.25 mm below the station's top.
WB = {"stations": 5, "slices": 12, "size": 128}
STATION_TOPS = [470.0, 192.0, -86.0, -364.0, -642.0]
SPACING = 26.5
T1_SHIFT = 2.5  # the T1 slices sit 2.5 mm headwards of the STIR slices
WB_GRADES = {
    ("rectus-femoris", "R"): (2, 0),
    ("rectus-femoris", "L"): (0, 2),
    ("vastus-lateralis", "R"): (1, 1),
    ("deltoid", "L"): (1, 0),
}


def by_series(datasets) -> dict[str, list]:
    series: dict[str, list] = {}
    for ds in datasets:
        series.setdefault(ds.SeriesInstanceUID, []).append(ds)
    return series


def z_of(ds) -> float:
    return float(ds.ImagePositionPatient[2])


@pytest.fixture(scope="module")
def whole_body() -> list[pydicom.FileDataset]:
    return study(grades=WB_GRADES, **WB)


@pytest.fixture(scope="module")
def whole_body_enhanced() -> list[pydicom.FileDataset]:
    return study(grades=WB_GRADES, enhanced=True, **WB)


def test_each_station_is_its_own_series_named_as_scanners_name_them(whole_body) -> None:
    series = list(by_series(whole_body).values())
    assert len(series) == 10 and all(len(images) == 12 for images in series)
    described = [(s[0].SeriesNumber, s[0].SeriesDescription) for s in series]
    assert described == [
        (3, "STIR_TRA_WB_S1"), (4, "T1_TSE_TRA_WB_S1"),
        (5, "STIR_TRA_WB_S2"), (6, "T1_TSE_TRA_WB_S2"),
        (7, "STIR_TRA_WB_S3"), (8, "T1_TSE_TRA_WB_S3"),
        (9, "STIR_TRA_WB_S4"), (10, "T1_TSE_TRA_WB_S4"),
        (11, "STIR_TRA_WB_S5"), (12, "T1_TSE_TRA_WB_S5"),
    ]  # fmt: skip
    assert len({ds.StudyInstanceUID for ds in whole_body}) == 1
    assert len({ds.SOPInstanceUID for ds in whole_body}) == 120
    stir, t1 = split(whole_body)
    # one frame of reference per sequence across its stations, not shared between sequences
    assert len({ds.FrameOfReferenceUID for ds in stir}) == 1
    assert len({ds.FrameOfReferenceUID for ds in t1}) == 1
    assert stir[0].FrameOfReferenceUID != t1[0].FrameOfReferenceUID
    for images in series:  # instance numbers restart per series, head to feet
        assert [ds.InstanceNumber for ds in images] == list(range(1, 13))


def test_stations_overlap_by_four_centimetres_and_cover_the_body(whole_body) -> None:
    stir, t1 = split(whole_body)
    for sequence, shift in ((stir, 0.0), (t1, T1_SHIFT)):
        stations = list(by_series(sequence).values())
        for top, images in zip(STATION_TOPS, stations, strict=True):
            expected = [top - SPACING * (i + 0.5) + shift for i in range(12)]
            assert [z_of(ds) for ds in images] == pytest.approx(expected, abs=1e-3)
            assert [float(ds.SliceLocation) for ds in images] == pytest.approx(expected, abs=1e-3)
            assert float(images[0].SpacingBetweenSlices) == pytest.approx(SPACING)
        for upper, lower in pairwise(stations):
            # what each covers: slice centres +- half the spacing
            upper_bottom = z_of(upper[-1]) - SPACING / 2
            lower_top = z_of(lower[0]) + SPACING / 2
            assert lower_top - upper_bottom == pytest.approx(40.0, abs=1e-3)
    assert z_of(stir[0]) + SPACING / 2 == pytest.approx(470.0)
    assert z_of(stir[-1]) - SPACING / 2 == pytest.approx(-960.0)


def test_stations_show_the_levels_head_to_feet(whole_body) -> None:
    """Every level is cut, in anatomical order; a slice shows the level whose band holds it
    (the bands of LEVELS: shoulder above 340 mm, chest above 160, abdomen above -10, pelvis
    above -200, thigh above -570, lower leg below), in STIR and T1 alike."""
    bands = [("shoulder", 340), ("chest", 160), ("abdomen", -10), ("pelvis", -200),
             ("thigh", -570), ("lower-leg", -10_000)]  # fmt: skip

    def expected_level(z: float) -> str:
        return next(name for name, low in bands if z > low)

    for sequence in split(whole_body):
        seen = []
        for ds in sequence:  # series in station order, slices head to feet
            level = expected_level(z_of(ds))
            if not seen or seen[-1] != level:
                seen.append(level)
            # the slice shows that level's anatomy: one of its muscles is where it is drawn
            slug = {"shoulder": "deltoid", "chest": "pectoralis-major",
                    "abdomen": "erector-spinae-lumbar", "pelvis": "gluteus-maximus",
                    "thigh": "vastus-lateralis", "lower-leg": "soleus"}[level]  # fmt: skip
            mask = muscle_mask_at(slug, "L", z=z_of(ds), size=128)
            assert mask is not None and mask.sum() > 20
        assert seen == list(LEVELS)


def test_overlapping_slices_of_neighbouring_stations_show_the_same_anatomy(whole_body) -> None:
    stir, _t1 = split(whole_body)
    stations = list(by_series(stir).values())
    for upper, lower in pairwise(stations):
        last, first = upper[-1], lower[0]
        assert abs(z_of(first) - z_of(last)) < 14  # 26.5 - 13.25 = 13.25 mm apart
        same = np.corrcoef(last.pixel_array.ravel(), first.pixel_array.ravel())[0, 1]
        other = np.corrcoef(last.pixel_array.ravel(), upper[0].pixel_array.ravel())[0, 1]
        assert same > 0.9 and same > other + 0.2


def test_whole_body_series_classify_as_stir_and_t1(whole_body, whole_body_enhanced) -> None:
    for datasets in (whole_body, whole_body_enhanced):
        stir, t1 = split(datasets)
        assert {classify_sequence(ds) for ds in stir} == {"STIR"}
        assert {classify_sequence(ds) for ds in t1} == {"T1"}
    first = whole_body[0]
    assert (first.Rows, first.Columns, first.BitsAllocated) == (128, 128, 16)
    assert float(first.MagneticFieldStrength) == 1.5
    geometry = series_geometry(by_series(whole_body)[first.SeriesInstanceUID])
    assert (geometry.orientation, geometry.slice_count) == ("axial", 12)
    assert geometry.pixel_spacing == pytest.approx((480 / 128, 480 / 128))
    assert (geometry.repetition_time, geometry.echo_time, geometry.inversion_time) == (
        5000,
        70,
        150,
    )


def nearest(images, z: float):
    return min(images, key=lambda ds: abs(z_of(ds) - z))


def test_seeded_grades_are_visible_in_the_muscle(whole_body) -> None:
    """Oedema (STIR) and fat (T1) raise a muscle's mean signal with the grade: the share of
    the muscle that is bright is 0 / 35 / 80 % (STIR) and 0 / 30 / 70 % (T1) per grade."""
    stir, t1 = split(whole_body)
    thigh = -385.0  # the centre of the thigh band (-570, -200)
    s, t = nearest(stir, thigh), nearest(t1, thigh)

    def mean(ds, slug: str, side: str) -> float:
        mask = muscle_mask_at(slug, side, z=z_of(ds), size=128)
        assert mask is not None and mask.sum() > 20
        return float(ds.pixel_array[mask].mean())

    # STIR: rectus femoris R grade 2, vastus lateralis R grade 1, vastus lateralis L grade 0
    assert mean(s, "rectus-femoris", "R") > mean(s, "vastus-lateralis", "R") * 1.3
    assert mean(s, "vastus-lateralis", "R") > mean(s, "vastus-lateralis", "L") * 1.3
    # T1: rectus femoris L grade 2, vastus lateralis R grade 1, vastus lateralis L grade 0
    assert mean(t, "rectus-femoris", "L") > mean(t, "vastus-lateralis", "R") * 1.2
    assert mean(t, "vastus-lateralis", "R") > mean(t, "vastus-lateralis", "L") * 1.2
    # a grade on one sequence leaves the other alone
    assert mean(t, "rectus-femoris", "R") < 1.3 * mean(t, "vastus-lateralis", "L")
    # and the shoulder's deltoid (STIR grade 1 on the left) is seen at the shoulder only
    shoulder = nearest(stir, 405.0)
    assert mean(shoulder, "deltoid", "L") > 1.3 * mean(shoulder, "deltoid", "R")


def test_muscle_levels_name_the_centre_of_each_muscles_level() -> None:
    levels = muscle_levels()
    assert set(levels) == {m.slug for m in atlas_muscles()}
    assert levels["deltoid"] == 405.0  # shoulder band (340, 470)
    assert levels["biceps-brachii"] == 250.0  # upper arms at the chest band (160, 340)
    assert levels["flexor-carpi-ulnaris"] == 75.0  # forearms beside the abdomen (-10, 160)
    assert levels["gluteus-medius"] == -105.0  # pelvis (-200, -10)
    assert levels["adductor-magnus"] == -385.0  # thigh (-570, -200)
    assert levels["soleus"] == -765.0  # lower leg (-960, -570)
    # multifidus is drawn at the chest (7 x 9 mm) and, larger, at the abdomen (8 x 12 mm)
    assert levels["multifidus"] == 75.0
    for slug, z in levels.items():
        for side in ("L", "R"):
            mask = muscle_mask_at(slug, side, z=z, size=160)
            assert mask is not None and mask.sum() >= 9, (slug, side)


# Attributes the Enhanced MR Image IOD (PS3.3 A.36.2) requires at the top level (type 1 and
# 2 of its modules that apply to these images) and in the functional groups.
ENHANCED_TOP_LEVEL = [
    "SOPClassUID", "SOPInstanceUID", "Modality", "SeriesInstanceUID", "SeriesNumber",
    "StudyInstanceUID", "FrameOfReferenceUID", "Manufacturer", "ManufacturerModelName",
    "DeviceSerialNumber", "SoftwareVersions", "ImageType", "InstanceNumber", "ContentDate",
    "ContentTime", "NumberOfFrames", "AcquisitionDateTime", "AcquisitionDuration",
    "PixelPresentation", "VolumetricProperties", "VolumeBasedCalculationTechnique",
    "ComplexImageComponent", "AcquisitionContrast", "ContentQualification", "ResonantNucleus",
    "KSpaceFiltering", "MagneticFieldStrength", "BurnedInAnnotation", "PulseSequenceName",
    "MRAcquisitionType", "EchoPulseSequence", "MultipleSpinEcho", "MultiPlanarExcitation",
    "PhaseContrast", "TimeOfFlightContrast", "SteadyStatePulseSequence",
    "EchoPlanarPulseSequence", "SaturationRecovery", "SpectrallySelectedSuppression",
    "OversamplingPhase", "GeometryOfKSpaceTraversal", "RectilinearPhaseEncodeReordering",
    "SegmentedKSpaceTraversal", "NumberOfKSpaceTrajectories", "DimensionOrganizationSequence",
    "DimensionIndexSequence", "SharedFunctionalGroupsSequence",
    "PerFrameFunctionalGroupsSequence", "Rows", "Columns", "BitsAllocated", "BitsStored",
    "HighBit", "PixelRepresentation", "SamplesPerPixel", "PhotometricInterpretation",
]  # fmt: skip
ENHANCED_SHARED = [
    "PixelMeasuresSequence", "PlaneOrientationSequence", "FrameAnatomySequence",
    "PixelValueTransformationSequence", "FrameVOILUTSequence", "MRImageFrameTypeSequence",
    "MRTimingAndRelatedParametersSequence", "MRFOVGeometrySequence", "MREchoSequence",
    "MRModifierSequence", "MRImagingModifierSequence", "MRReceiveCoilSequence",
    "MRTransmitCoilSequence", "MRAveragesSequence",
]  # fmt: skip
# In an Enhanced MR image these live in the functional groups, never at the top level.
SINGLE_FRAME_ONLY = [
    "EchoTime", "RepetitionTime", "InversionTime", "ImagePositionPatient",
    "ImageOrientationPatient", "PixelSpacing", "SliceThickness", "SliceLocation",
    "WindowCenter", "WindowWidth",
]  # fmt: skip


def test_enhanced_mr_holds_each_station_series_in_one_multiframe_object(
    whole_body, whole_body_enhanced
) -> None:
    single = by_series(whole_body)
    assert len(whole_body_enhanced) == 10
    for enhanced in whole_body_enhanced:
        reread = read_mr_image(dicom_bytes(enhanced))
        assert reread.SOPClassUID == EnhancedMRImageStorage == "1.2.840.10008.5.1.4.1.1.4.1"
        images = single[reread.SeriesInstanceUID]
        assert images[0].SOPClassUID == MRImageStorage
        assert int(reread.NumberOfFrames) == 12
        assert reread.pixel_array.shape == (12, 128, 128)
        np.testing.assert_array_equal(
            reread.pixel_array, np.stack([ds.pixel_array for ds in images])
        )
        assert reread.SeriesDescription == images[0].SeriesDescription
        frames = reread.PerFrameFunctionalGroupsSequence
        positions = [
            [float(v) for v in f.PlanePositionSequence[0].ImagePositionPatient] for f in frames
        ]
        assert positions == [[float(v) for v in ds.ImagePositionPatient] for ds in images]
        assert [f.FrameContentSequence[0].InStackPositionNumber for f in frames] == list(
            range(1, 13)
        )
        missing = [k for k in ENHANCED_TOP_LEVEL if k not in reread]
        assert not missing
        assert not [k for k in SINGLE_FRAME_ONLY if k in reread]
        shared = reread.SharedFunctionalGroupsSequence[0]
        assert not [k for k in ENHANCED_SHARED if k not in shared]
        orientation = shared.PlaneOrientationSequence[0].ImageOrientationPatient
        assert list(orientation) == [1, 0, 0, 0, 1, 0]
        measures = shared.PixelMeasuresSequence[0]
        assert [float(v) for v in measures.PixelSpacing] == pytest.approx([480 / 128] * 2)
        assert float(measures.SpacingBetweenSlices) == pytest.approx(SPACING)
        timing = shared.MRTimingAndRelatedParametersSequence[0]
        echo = shared.MREchoSequence[0]
        modifier = shared.MRModifierSequence[0]
        window = shared.FrameVOILUTSequence[0]
        if reread.SeriesDescription.startswith("STIR"):
            assert (timing.RepetitionTime, echo.EffectiveEchoTime) == (5000, 70)
            assert (modifier.InversionRecovery, modifier.InversionTimes) == ("YES", 150)
            assert reread.AcquisitionContrast == "STIR"
        else:
            assert (timing.RepetitionTime, echo.EffectiveEchoTime) == (550, 12)
            assert modifier.InversionRecovery == "NO" and "InversionTimes" not in modifier
            assert reread.AcquisitionContrast == "T1"
        assert (float(window.WindowCenter), float(window.WindowWidth)) == (
            float(images[0].WindowCenter),
            float(images[0].WindowWidth),
        )


def test_enhanced_mr_in_a_compressed_transfer_syntax_round_trips() -> None:
    plain = study(stations=2, slices=3, size=64, enhanced=True)
    packed = study(stations=2, slices=3, size=64, enhanced=True, transfer_syntax=RLELossless)
    for a, b in zip(plain, packed, strict=True):
        reread = read_mr_image(dicom_bytes(b))
        assert reread.file_meta.TransferSyntaxUID == RLELossless
        assert reread.pixel_array.shape == (3, 64, 64)
        np.testing.assert_array_equal(reread.pixel_array, a.pixel_array)


def test_whole_body_studies_carry_identifying_values_until_deidentified(
    whole_body, whole_body_enhanced
) -> None:
    for ds in (whole_body[0], whole_body[-1], whole_body_enhanced[0]):
        original = read_mr_image(dicom_bytes(ds))
        secrets = identifying_values(original)
        assert {"Example^Patient", "SRC-0042", "19650312"} <= secrets
        assert original.InstitutionName and original.AccessionNumber
        clean = deidentify(original, pseudonym="IIM-0001", date_offset_days=-500, uid_secret=b"k")
        written = dicom_bytes(clean)
        assert not [s for s in secrets if s.encode() in written]
        assert b"IIM SYNTHETIC" not in written


@pytest.mark.django_db
def test_the_demo_brings_whole_body_studies_in_through_the_import_pipeline() -> None:
    from cohorts.imaging.demo_images import import_demo_study
    from scoring.demo import demo_patients
    from tests import factories

    specs = demo_patients()[:2]
    cohort = factories.CohortFactory()
    studies = []
    for spec, enhanced in zip(specs, (False, True), strict=True):
        patient = factories.PatientFactory(cohort=cohort, pseudonym=spec.pseudonym)
        studies.append(
            import_demo_study(
                cohort=cohort,
                patient=patient,
                spec=spec,
                actor=None,
                enhanced=enhanced,
                stations=3,
                slices_per_station=4,
                size=64,
            )
        )
    layouts = []
    for study in studies:
        series = list(study.series.order_by("series_number"))
        assert [s.sequence for s in series] == ["STIR", "T1"] * 3
        layouts.append(
            [
                sorted(
                    round(p, 3) for p in s.instances.values_list("position_along_normal", flat=True)
                )
                for s in series
            ]
        )
    # 3 stations of 4 slices a sequence; sent as Enhanced MR, the same frames and positions
    assert [len(positions) for positions in layouts[0]] == [4] * 6
    assert layouts[1] == layouts[0]
