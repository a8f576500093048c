"""A series description kept as protocol words only, and the role it gives a series."""

from __future__ import annotations

import pytest

from cohorts.imaging.dicom.describe import clean_description, rules_errors, series_role


@pytest.mark.parametrize(
    ("original", "kept"),
    [
        ("STIR TRA", "STIR TRA"),
        ("t2_tirm_tra_WB_S3", "t2_tirm_tra_WB_S3"),
        ("t1_tse_tra_p2_320", "t1_tse_tra_p2_320"),
        ("Dixon_W", "Dixon_W"),
        ("STIR TRA Mueller", "STIR TRA …"),
        ("Hildegard Testperson T1", "… … T1"),
        ("", ""),
    ],
)
def test_a_description_keeps_only_protocol_words(original, kept):
    assert clean_description(original) == kept


RULES = [{"pattern": "*_W", "role": "STIR"}, {"pattern": "*_F", "role": "T1"}]


@pytest.mark.parametrize(
    ("description", "tags", "role", "why"),
    [
        ("Dixon_W", "OTHER", "STIR", "rule *_W"),  # a rule wins over the tags
        ("Dixon_F", "OTHER", "T1", "rule *_F"),
        ("dixon_w", "T1", "STIR", "rule *_W"),  # case-insensitive, even against the tags
        ("t1_tse_tra", "T1", "T1", "tags"),  # no rule matches: the tags decide
        ("STIR TRA", "OTHER", "STIR", "description"),  # no TI in the tags: the word decides
        ("t2_tirm_cor", "OTHER", "STIR", "description"),
        ("flair", "OTHER", "OTHER", "tags"),
    ],
)
def test_the_role_comes_from_rules_then_tags_then_the_words_stir_or_tirm(
    description, tags, role, why
):
    assert series_role(description, tags, RULES) == (role, why)


def test_the_first_matching_rule_wins():
    rules = [{"pattern": "*STIR*", "role": "OTHER"}, {"pattern": "*", "role": "STIR"}]
    assert series_role("STIR TRA", "STIR", rules) == ("OTHER", "rule *STIR*")


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ("*STIR*", "a list"),
        ([{"pattern": "", "role": "STIR"}], "empty"),
        ([{"pattern": "*x*", "role": "T2"}], "role is one of"),
        ([{"pattern": "x" * 65, "role": "T1"}], "at most 64"),
        ([{"pattern": "*x*"}], "a pattern and a role"),
        ([{"pattern": "*", "role": "T1"}] * 51, "At most 50"),
    ],
)
def test_bad_rules_are_named(rules, message):
    assert any(message in error for error in rules_errors(rules))


def test_good_rules_have_no_errors():
    assert rules_errors(RULES) == []
