"""What a statistician notices when the exports are read back with pandas, pyreadstat, pyarrow
and openpyxl: per-read scores that follow the score definitions, filters that say no to what
they do not know, one valid name per variable, coded SPSS variables, typed Parquet columns and
numbers that are numbers in a spreadsheet. Expected values are worked out here from the grades
the fixture gave (tests/api/conftest.py), never from the exporter's own output."""

from __future__ import annotations

import io
import re
import tempfile
from collections import defaultdict
from fractions import Fraction

import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pyreadstat
import pytest
import yaml

from scoring.models import Muscle, Read, ScoringProtocol
from tests.api.conftest import body, whole_read_cells

pytestmark = pytest.mark.django_db

EXPORT = "/api/v1/cohorts/scored/export/{name}/"
EXPORTS = ("grades", "read-scores", "muscle-scores", "group-scores", "patients", "codebook")
# The fixture's submitted reads: (pseudonym, reader, kind, seed of its grades).
SUBMITTED_READS = [
    ("IIM-0001", "consensus_reader", "consensus", 2),
    ("IIM-0001", "other_radiologist", "second", 1),
    ("IIM-0001", "radiologist", "primary", 0),
    ("IIM-0002", "radiologist", "primary", 1),
]
SCOPE_SEQUENCES = {"unified": ("STIR", "T1"), "stir": ("STIR",), "t1": ("T1",)}
# Valid in SPSS (64 bytes), R (syntactic) and Stata (32 characters): a letter, then letters,
# digits and underscores.
VALID_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,31}")


def fetch(client, name: str, query: str = "") -> bytes:
    response = client.get(EXPORT.format(name=name) + query)
    assert response.status_code == 200, response.content
    return body(response)


def csv_of(client, name: str, query: str = "") -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(fetch(client, name, query)), dtype=str, keep_default_na=False)


def read_sav(content: bytes):
    with tempfile.NamedTemporaryFile(suffix=".sav") as file:
        file.write(content)
        file.flush()
        return pyreadstat.read_sav(file.name, user_missing=True)


# --- per-read scores, worked out from the grades ----------------------------------------------


def expected_read_scores(seed: int) -> dict[tuple[str, str, str], tuple]:
    """{(scope, level, unit): (score, total_pct, n_graded)} of one fixture read, from the
    definitions: u = max over the scope's sequences not NA; s_r = mean of u over the sides not
    NA; group = mean of its muscles' s_r; region, limb, total = sums; percent of 2 × graded."""
    protocol = ScoringProtocol.objects.get(slug="whole-body-iim")
    cells = whole_read_cells(protocol, seed)
    atlas = {
        m.slug: (m.group.slug, m.group.region.slug, m.group.region.limb)
        for m in Muscle.objects.select_related("group__region")
    }
    out: dict[tuple[str, str, str], tuple] = {}
    for scope, sequences in SCOPE_SEQUENCES.items():
        per_side: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
        for (muscle, side, sequence), value in cells.items():
            if sequence in sequences and value != "NA":
                per_side[muscle][side].append(int(value))
            per_side[muscle].setdefault(side, [])
        muscle_scores: dict[str, Fraction | None] = {}
        for muscle, sides in per_side.items():
            unified = [max(grades) for grades in sides.values() if grades]
            muscle_scores[muscle] = Fraction(sum(unified), len(unified)) if unified else None
            out[(scope, "muscle", muscle)] = (muscle_scores[muscle], None, None)
        members: dict[tuple[str, str], list[Fraction]] = defaultdict(list)
        for muscle, score in muscle_scores.items():
            group, region, limb = atlas[muscle]
            for key in (("group", group), ("region", region), ("limb", limb)):
                members.setdefault(key, [])
                if score is not None:
                    members[key].append(score)
        for (level, unit), scores in members.items():
            if level == "group":
                value = Fraction(sum(scores), len(scores)) if scores else None
            else:
                value = sum(scores, Fraction(0)) if scores else None
            out[(scope, level, unit)] = (value, None, None)
        graded = [s for s in muscle_scores.values() if s is not None]
        total = sum(graded, Fraction(0))
        out[(scope, "total", "total")] = (total, total / (2 * len(graded)) * 100, len(graded))
    return out


def _number(text: str) -> float | None:
    return None if text == "" else float(text)


def test_read_scores_are_each_reads_own_scores_by_the_definitions(
    scored_cohort, statistician_client
):
    rows = csv_of(statistician_client, "read-scores")
    reads = rows.drop_duplicates("read_id")
    assert reads[["pseudonym", "reader", "read_kind"]].values.tolist() == [
        [p, r, k] for p, r, k, _seed in SUBMITTED_READS
    ]  # IIM-0003's read is in progress: no final scores
    for pseudonym, reader, kind, seed in SUBMITTED_READS:
        mine = rows[(rows["pseudonym"] == pseudonym) & (rows["reader"] == reader)]
        read = Read.objects.get(study__patient__pseudonym=pseudonym, reader__username=reader)
        assert set(mine["read_id"]) == {str(read.pk)}
        assert set(mine["read_kind"]) == {kind}
        expected = expected_read_scores(seed)
        got = {
            (r.scope, r.level, r.level_unit): (
                _number(r.score),
                _number(r.total_pct),
                None if r.n_graded == "" else int(r.n_graded),
            )
            for r in mine.itertuples()
        }
        assert len(got) == len(mine) == len(expected)  # one row per scope and unit
        for key, (score, pct, n_graded) in expected.items():
            got_score, got_pct, got_n = got[key]
            assert got_score == (None if score is None else float(score)), key
            assert got_pct == (None if pct is None else pytest.approx(float(pct), rel=1e-15))
            assert got_n == n_graded
    total = rows[(rows["level"] == "total") & (rows["scope"] == "unified")]
    # The supinator is NA in every read: 59 muscles graded.
    assert set(total["n_graded"]) == {"59"}


def test_read_scores_keep_the_readers_apart_that_the_combined_scores_merge(
    scored_cohort, statistician_client
):
    rows = csv_of(statistician_client, "read-scores", "?scope=unified")
    deltoid = rows[(rows["level_unit"] == "deltoid") & (rows["pseudonym"] == "IIM-0001")]
    # Seed 0: R max(0,2)=2, L max(1,0)=1 -> 1.5; seed 1: R 1, L 2 -> 1.5; seed 2: R 2, L 2.
    assert dict(zip(deltoid["read_kind"], deltoid["score"], strict=True)) == {
        "consensus": "2.0",
        "second": "1.5",
        "primary": "1.5",
    }
    combined = csv_of(statistician_client, "muscle-scores")
    one = combined[(combined["muscle"] == "deltoid") & (combined["pseudonym"] == "IIM-0001")]
    assert one["score"].tolist() == ["2.0"]  # the consensus read alone


# --- filters ------------------------------------------------------------------------------------


def test_read_filters_keep_only_the_asked_reads(scored_cohort, statistician_client, readers):
    by_name = csv_of(statistician_client, "read-scores", "?reader=other_radiologist")
    assert set(by_name["reader"]) == {"other_radiologist"}
    by_id = csv_of(statistician_client, "read-scores", f"?reader={readers['other_radiologist'].pk}")
    assert by_id.equals(by_name)
    primary = csv_of(statistician_client, "read-scores", "?read_kind=primary&scope=stir")
    assert set(primary["pseudonym"]) == {"IIM-0001", "IIM-0002"}
    assert set(primary["read_kind"]) == {"primary"} and set(primary["scope"]) == {"stir"}
    grades = csv_of(statistician_client, "grades", "?read_kind=primary&subtype=DM&site=ukd")
    assert len(grades) == 240
    assert set(zip(grades["pseudonym"], grades["reader"], strict=True)) == {
        ("IIM-0001", "radiologist")
    }
    nobody = csv_of(statistician_client, "grades", "?reader=nobody")
    assert nobody.empty and list(nobody.columns)[0] == "pseudonym"


def test_patient_filters_on_scores_and_clinical_data(scored_cohort, statistician_client):
    ibm = csv_of(statistician_client, "group-scores", "?subtype=IBM")
    assert ibm["pseudonym"].tolist() == ["IIM-0002"]
    everyone = csv_of(statistician_client, "group-scores")
    assert csv_of(statistician_client, "group-scores", "?timepoint=baseline").equals(everyone)
    assert csv_of(statistician_client, "group-scores", "?timepoint=0").equals(everyone)
    assert csv_of(statistician_client, "group-scores", "?timepoint=1").empty
    muscles = csv_of(statistician_client, "muscle-scores", "?subtype=DM&subtype=IBM&site=ukd")
    assert len(muscles) == 2 * 60
    visits = csv_of(statistician_client, "patients", "?timepoint=0")
    assert visits["pseudonym"].tolist() == ["IIM-0001", "IIM-0002", "IIM-0003"]  # not 0004


@pytest.mark.parametrize(
    ("name", "query", "named"),
    [
        ("grades", "?colour=red", "colour"),
        ("read-scores", "?timepoint=²", "timepoint"),
        ("read-scores", "?timepoint=-1", "timepoint"),
        ("muscle-scores", "?subtype=JDM", "subtype"),
        ("group-scores", "?reader=radiologist", "reader"),  # combined scores: no reader
        ("grades", "?read_kind=third", "read_kind"),
        ("grades", "?site=u%20k%20d", "site"),
        ("grades", "?status=all&status=submitted", "status"),
        ("muscle-scores", "?scope=stir&scope=t1", "scope"),
        ("patients", "?read_kind=primary", "read_kind"),
        ("codebook", "?site=ukd", "site"),
        ("read-scores", "?scope=both&format=parquet", "scope"),
    ],
)
def test_unknown_or_malformed_parameters_are_a_400_naming_them(
    scored_cohort, statistician_client, name, query, named
):
    response = statistician_client.get(EXPORT.format(name=name) + query)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert list(response.json()) == [named]


def test_filters_are_part_of_the_dataset_version(scored_cohort, statistician_client):
    def version(query: str) -> str:
        response = statistician_client.get(EXPORT.format(name="grades") + query)
        body(response)
        return response["X-Dataset-Version"]

    assert version("?subtype=DM&subtype=IBM") == version("?subtype=IBM&subtype=DM")
    assert version("?subtype=DM") != version("")
    assert version("?timepoint=baseline") == version("?timepoint=0")


# --- names ----------------------------------------------------------------------------------------


def test_every_variable_has_one_name_valid_in_spss_r_and_stata(scored_cohort, statistician_client):
    codebook = csv_of(statistician_client, "codebook")
    for name in EXPORTS:
        columns = list(csv_of(statistician_client, name).columns)
        assert len(set(columns)) == len(columns), name
        assert all(VALID_NAME.fullmatch(c) for c in columns), (name, columns)
        documented = codebook.loc[codebook["export"] == name, "variable"].tolist()
        assert documented == columns, name
    groups = csv_of(statistician_client, "group-scores")
    patients = csv_of(statistician_client, "patients")
    for columns in (groups.columns, patients.columns):
        assert {"age_at_mri", "mmt8_total"} <= set(columns)
        assert not {"age", "mmt8"} & set(columns)
    assert "group_lower_leg_flexors" in groups.columns
    # The analytics JSON keeps its keys; the codebook says which export name they are.
    analytics = codebook[codebook["export"] == "analytics"].set_index("variable")["meaning"]
    assert "mmt8_total" in analytics["patient_scores.<scope>[].mmt8"]
    assert "group_lower_leg_flexors" in analytics["patient_scores.<scope>[].group_<slug>"]
    assert "age_at_mri" in analytics["descriptives.table[].variable"]


def test_codebook_states_the_quantile_convention(scored_cohort, statistician_client):
    codebook = csv_of(statistician_client, "codebook").set_index("variable")["meaning"]
    for path in ("descriptives.table[].value", "group_profile.<scope>.group[].median"):
        assert "type = 7" in codebook[path] and "linear interpolation" in codebook[path]


# --- SPSS -----------------------------------------------------------------------------------------


def test_spss_codes_categories_as_labelled_numbers_without_doubled_labels(
    scored_cohort, statistician_client
):
    frame, meta = read_sav(fetch(statistician_client, "grades", "?format=sav"))
    labels = meta.variable_value_labels
    assert labels["grade"] == {
        0.0: "0 – No involvement",
        1.0: "1 – ≤ 50 % of the muscle",
        2.0: "2 – > 50 % of the muscle",
        9.0: "NA – Not assessable",
    }
    assert labels["subtype"] == {
        1.0: "IBM – Inclusion body myositis",
        2.0: "DM – Dermatomyositis",
        3.0: "PM – Polymyositis",
        4.0: "ASYS – Anti-synthetase syndrome",
        5.0: "IMNM – Immune-mediated necrotizing myopathy",
        6.0: "Other / unclassified",
    }
    assert labels["muscle"][1.0] == "Deltoid"
    assert labels["read_kind"][1.0] == "Primary read"
    for name in ("subtype", "region", "group", "muscle", "side", "sequence", "read_kind", "grade"):
        assert frame[name].dtype == "float64", name
    first = frame.iloc[0]
    assert (first["subtype"], first["read_kind"], first["muscle"]) == (2.0, 3.0, 1.0)
    assert pd.api.types.is_string_dtype(frame["pseudonym"])  # identifiers stay text
    # Site and reader have no fixed list: numbered in sorted order, labelled with the value.
    assert labels["site"] == {1.0: "ukd"}
    assert labels["reader"] == {
        1.0: "consensus_reader",
        2.0: "other_radiologist",
        3.0: "radiologist",
    }
    assert frame["reader"].tolist()[:1] == [1.0] and meta.original_variable_types["reader"] == (
        "F1.0"
    )


def _decimals(text: str) -> int:
    """Decimals a value shows, as written in the CSV (1.0 -> 0, 4.5 -> 1), at most 6."""
    fraction = text.split(".")[1] if "." in text else ""
    return min(len(fraction.rstrip("0")), 6)


def test_spss_display_formats_have_the_decimals_of_the_values(scored_cohort, statistician_client):
    text = csv_of(statistician_client, "group-scores")
    _frame, meta = read_sav(fetch(statistician_client, "group-scores", "?format=sav"))
    formats = meta.original_variable_types
    assert formats["age_at_mri"] == "F2.0"  # 61 and 74
    assert formats["timepoint"] == "F1.0"
    assert formats["disease_duration_months"] == "F4.1"  # 4.5 and 30.0
    assert formats["ck"] == "F4.0" and formats["mmt8_total"] == "F3.0"
    for column in ("group_shoulder_girdle", "group_lower_leg_flexors", "total", "total_pct"):
        values = [v for v in text[column] if v]
        decimals = max(_decimals(v) for v in values)
        digits = max(len(v.split(".")[0]) for v in values)
        width = digits + (decimals + 1 if decimals else 0)
        assert formats[column] == f"F{width}.{decimals}", column


def test_spss_values_are_the_exact_scores(scored_cohort, statistician_client):
    text = csv_of(statistician_client, "read-scores")
    frame, _meta = read_sav(fetch(statistician_client, "read-scores", "?format=sav"))
    assert [None if v == "" else float(v) for v in text["score"]] == [
        None if pd.isna(v) else v for v in frame["score"]
    ]


# --- Parquet --------------------------------------------------------------------------------------


def test_parquet_grades_are_nullable_integers_with_a_not_assessable_flag(
    scored_cohort, statistician_client
):
    table = pq.read_table(io.BytesIO(fetch(statistician_client, "grades", "?format=parquet")))
    assert table.schema.field("grade").type == pa.int8()
    assert table.schema.field("grade_not_assessable").type == pa.bool_()
    grades = table.column("grade").to_pylist()
    flags = table.column("grade_not_assessable").to_pylist()
    muscles = table.column("muscle").to_pylist()
    text = csv_of(statistician_client, "grades")
    assert flags == (text["grade"] == "NA").tolist()
    assert sum(flags) == 4 * 2 * 2  # the supinator: 4 reads x 2 sides x 2 sequences
    assert {m for m, flag in zip(muscles, flags, strict=True) if flag} == {"supinator"}
    assert [g for g, flag in zip(grades, flags, strict=True) if flag] == [None] * 16
    assert [str(g) for g, f in zip(grades, flags, strict=True) if not f] == [
        g for g in text["grade"] if g != "NA"
    ]


def test_parquet_subtype_is_an_ordered_dictionary_in_the_papers_order(
    scored_cohort, statistician_client
):
    content = fetch(statistician_client, "group-scores", "?format=parquet")
    table = pq.read_table(io.BytesIO(content))
    subtype = table.schema.field("subtype").type
    assert pa.types.is_dictionary(subtype) and subtype.ordered
    frame = table.to_pandas()
    assert frame["subtype"].cat.ordered
    assert list(frame["subtype"].cat.categories) == ["IBM", "DM", "PM", "ASYS", "IMNM", "other"]
    assert frame["subtype"].tolist() == ["DM", "IBM"]
    assert frame["subtype"].min() == "IBM"  # ordered: IBM < DM, as in the paper's tables
    read_scores = pq.read_table(
        io.BytesIO(fetch(statistician_client, "read-scores", "?format=parquet"))
    )
    assert read_scores.schema.field("read_id").type == pa.int64()
    assert read_scores.schema.field("score").type == pa.float64()


# --- XLSX -----------------------------------------------------------------------------------------

_NUMERIC_TEXT = re.compile(r"[-+]?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?")


@pytest.mark.parametrize("name", ["grades", "read-scores", "group-scores", "patients"])
def test_xlsx_numbers_are_numbers(scored_cohort, statistician_client, name):
    workbook = openpyxl.load_workbook(io.BytesIO(fetch(statistician_client, name, "?format=xlsx")))
    sheet = workbook.worksheets[0]
    header = [c.value for c in next(sheet.iter_rows(max_row=1))]
    numeric_text = [
        (header[c.column - 1], c.value)
        for row in sheet.iter_rows(min_row=2)
        for c in row
        if c.data_type == "s" and _NUMERIC_TEXT.fullmatch(str(c.value))
    ]
    assert numeric_text == []
    if name == "grades":
        at = header.index("grade")
        grades = {row[at] for row in sheet.iter_rows(min_row=2, values_only=True)}
        assert grades == {0, 1, 2, "NA"}


@pytest.mark.parametrize("fmt", ["csv", "json", "xlsx", "sav", "parquet"])
def test_a_filter_that_keeps_nothing_gives_an_empty_file_with_its_columns(
    scored_cohort, statistician_client, fmt
):
    content = fetch(statistician_client, "read-scores", f"?reader=nobody&format={fmt}")
    if fmt == "sav":
        frame, _meta = read_sav(content)
        assert frame.empty and "score" in frame.columns
    elif fmt == "parquet":
        table = pq.read_table(io.BytesIO(content))
        assert table.num_rows == 0 and table.schema.field("subtype").type.ordered
    elif fmt == "xlsx":
        sheet = openpyxl.load_workbook(io.BytesIO(content)).worksheets[0]
        assert sheet.max_row == 1
    else:
        assert content.strip() in (b"[\n]", b"[]") or content.startswith(b"pseudonym,")


def test_the_schema_lists_each_exports_own_filters(client):
    schema = yaml.safe_load(client.get("/api/schema/").content)

    def parameters(name: str) -> dict[str, dict]:
        operation = schema["paths"][f"/api/v1/cohorts/{{slug}}/export/{name}/"]["get"]
        return {p["name"]: p for p in operation["parameters"] if p["in"] == "query"}

    read_scores = parameters("read-scores")
    assert {"format", "timepoint", "subtype", "site", "reader", "read_kind", "scope"} <= set(
        read_scores
    )
    assert read_scores["reader"]["schema"]["type"] == "array"  # repeatable
    assert read_scores["timepoint"]["schema"]["items"]["pattern"] == r"^(baseline|[0-9]{1,9})$"
    combined = parameters("group-scores")
    assert {"timepoint", "subtype", "site", "scope"} <= set(combined)
    assert not {"reader", "read_kind"} & set(combined)  # readers are combined there
    assert set(parameters("codebook")) == {"format"}
