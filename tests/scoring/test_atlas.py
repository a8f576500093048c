"""The default atlas and protocols ship with the database, complete."""

from __future__ import annotations

import pytest

from scoring.models import FunctionalGroup, Muscle, Region, ScoringProtocol


@pytest.mark.django_db
def test_default_atlas_has_5_regions_15_groups_60_paired_muscles():
    assert Region.objects.count() == 5
    assert FunctionalGroup.objects.count() == 15
    assert Muscle.objects.count() == 60
    assert not Muscle.objects.filter(paired=False).exists()


@pytest.mark.django_db
def test_every_group_of_the_design_table_has_its_muscles():
    expected = {
        "shoulder-girdle": 3,
        "rotator-cuff": 4,
        "upper-arm-flexors": 2,
        "upper-arm-extensors": 1,
        "lower-arm-flexors": 6,
        "lower-arm-extensors": 5,
        "chest-wall": 3,
        "extrinsic-back": 4,
        "intrinsic-back": 3,
        "gluteal": 5,
        "ventral-thigh": 5,
        "medial-thigh": 4,
        "dorsal-thigh": 4,
        "lower-leg-extensors": 5,
        "lower-leg-flexors": 6,
    }
    counts = {g.slug: g.muscles.count() for g in FunctionalGroup.objects.all()}
    assert counts == expected
    assert Muscle.objects.get(slug="gastrocnemius-medial").group.region.limb == "lower"
    assert Muscle.objects.get(slug="deltoid").group.region.limb == "upper"


@pytest.mark.django_db
def test_whole_body_and_thigh_only_protocols_grade_stir_and_t1():
    whole = ScoringProtocol.objects.get(slug="whole-body-iim")
    thigh = ScoringProtocol.objects.get(slug="thigh-only")
    assert whole.muscles.count() == 60
    assert set(thigh.muscles.values_list("group__slug", flat=True)) == {
        "ventral-thigh",
        "medial-thigh",
        "dorsal-thigh",
    }
    assert thigh.muscles.count() == 13
    assert whole.sequences == ["STIR", "T1"]
    assert whole.sequence_combine == "max" and whole.side_combine == "mean"
    assert whole.stir_scale == whole.t1_scale == "iim-0-2"
    assert whole.scale_of("T1").values == ("0", "1", "2")
    mercuri = ScoringProtocol.objects.get(slug="whole-body-mercuri")
    assert set(mercuri.muscles.all()) == set(whole.muscles.all())
    assert mercuri.scale_of("T1").max == 5 and mercuri.scale_of("STIR").max == 3
    # Different scales are never combined into one grade: the severity score is the fat score.
    assert mercuri.sequence_combine == "T1" and mercuri.score_scale("unified").max == 5
