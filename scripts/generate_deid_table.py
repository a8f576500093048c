"""Generate cohorts/imaging/dicom/annex_e_actions.py from DICOM PS3.15 Annex E Table E.1-1 as data.

Usage (from the repository root):

    python scripts/generate_deid_table.py [DATA_DIR] [--output PATH]

DATA_DIR holds ps3.15-annex-e-attributes.json (revision 2024e) and
ps3.15-annex-e-2026c-additions.json (default: scripts/dicom-standard/, see its README).

Profile: Basic Application Level Confidentiality Profile with the Retain Longitudinal
Temporal Information with Modified Dates Option. How each row becomes one action:

1. The option's column (rtnLongModifDatesOpt, always "C") overrides the basic action for
   DA, DT and TM attributes: the date is shifted by the per-patient offset and the time of
   day kept. For the three option rows of another VR (Certified Timestamp OB, Frame Origin
   Timestamp OB, Timezone Offset From UTC SH) there is nothing to shift, so the basic action
   applies (the safe side).
2. The 2026c additions carry only a basic action; it is applied as is.
3. A combined code (X/Z, X/D, Z/D, X/Z/D, X/Z/U*) depends on the attribute's type in the
   IOD. We de-identify MR images (MR Image Storage), so the type is looked up in
   MR_IMAGE_TYPES below: type 1 gives D (U for U*), type 2 or 2C gives Z, type 3 gives X.
   An attribute that is not part of the MR Image IOD gets the strictest code offered
   (X, else Z, else D): removing an attribute the IOD does not define keeps the file valid.
4. A plain D on a sequence keeps its items and cleans them recursively (deid.py does this);
   a plain D on a UI is a remap (U).

The type-1/2 patient and study attributes (Patient's Name Z, Patient ID Z/D -> Z, Study Date
C, Study Instance UID U, SOP Instance UID U) therefore stay present: deid.py writes the
pseudonym into Patient's Name and Patient ID at the top level (a Z value may be a dummy).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pydicom.datadict import dictionary_VR

ATTRIBUTES_FILE = "ps3.15-annex-e-attributes.json"
ADDITIONS_FILE = "ps3.15-annex-e-2026c-additions.json"
REVISIONS = ("2024e", "2026c")

# Types in the MR Image IOD (PS3.3 A.4) of the attributes whose action is a combined code.
# "2C" Patient's Sex Neutered is required for animals only; human MR treats it as type 3.
MR_IMAGE_TYPES: dict[int, str] = {
    0x00100020: "2",  # Patient ID (Patient Module)
    0x00080022: "3",  # Acquisition Date (General Image)
    0x00080032: "3",  # Acquisition Time (General Image)
    0x0008002A: "3",  # Acquisition DateTime (General Acquisition)
    0x00080023: "2C",  # Content Date (General Image)
    0x00080033: "2C",  # Content Time (General Image)
    0x00080012: "3",  # Instance Creation Date (SOP Common)
    0x00080013: "3",  # Instance Creation Time (SOP Common)
    0x00080021: "3",  # Series Date (General Series)
    0x00080031: "3",  # Series Time (General Series)
    0x00080080: "3",  # Institution Name (General Equipment)
    0x00080082: "3",  # Institution Code Sequence (General Equipment)
    0x00081010: "3",  # Station Name (General Equipment)
    0x00181000: "3",  # Device Serial Number (General Equipment)
    0x00081070: "3",  # Operators' Name (General Series)
    0x00081072: "3",  # Operator Identification Sequence (General Series)
    0x00081111: "3",  # Referenced Performed Procedure Step Sequence (General Series)
    0x00181030: "3",  # Protocol Name (General Series)
    0x00081110: "3",  # Referenced Study Sequence (General Study)
    0x00081140: "3",  # Referenced Image Sequence (General Image)
    0x00082112: "3",  # Source Image Sequence (General Image)
    0x00180010: "2",  # Contrast/Bolus Agent (Contrast/Bolus Module)
    0x00102203: "3",  # Patient's Sex Neutered (2C: animals only)
}

DATE_TIME_VRS = {"DA", "DT", "TM"}


def tag_int(tag: str) -> int | None:
    """'(0008,0050)' -> 0x00080050; None for repeating-group and private patterns."""
    group, element = tag.strip("()").split(",")
    if "X" in group + element or "G" in group:
        return None
    return int(group + element, 16)


def vr_of(tag: int) -> str | None:
    """The dictionary VR, or None for attributes newer than pydicom's dictionary."""
    try:
        return dictionary_VR(tag)
    except KeyError:
        return None


def resolve(code: str, tag: int | None, vr: str | None) -> str:
    """One action letter for a basic-profile code, following the module docstring."""
    if "/" not in code:
        return "U" if code == "D" and vr == "UI" else code
    options = code.replace("*", "").split("/")
    mr_type = MR_IMAGE_TYPES.get(tag) if tag is not None else None
    if mr_type == "1":
        return "U" if "U" in options else "D"
    if mr_type in ("2", "2C") and "Z" in options:
        return "Z"
    for strictest in ("X", "Z", "D"):
        if strictest in options:
            return strictest
    raise ValueError(f"cannot resolve code {code!r}")


def build_rows(attributes: list[dict], additions: list[dict]) -> list[tuple[str, str, str, str]]:
    """(tag text, name, source codes, action) for every row of both files."""
    rows = []
    seen: set[str] = set()
    for source, with_options in ((attributes, True), (additions, False)):
        for row in source:
            tag_text = row["tag"].upper().replace("WHERE GGGG IS ODD", "where GGGG is odd")
            if tag_text in seen:
                raise ValueError(f"duplicate row {tag_text}")
            seen.add(tag_text)
            tag = tag_int(row["tag"])
            vr = vr_of(tag) if tag is not None else None
            basic = row["basicProfile"]
            option = row.get("rtnLongModifDatesOpt") if with_options else None
            if option and vr in DATE_TIME_VRS:
                action, codes = option, f"basic {basic}, option {option}"
            else:
                action = resolve(basic, tag, vr)
                codes = f"basic {basic}" + (f", option {option} n/a for {vr}" if option else "")
            name = " ".join(row["name"].split())  # some names carry line breaks
            rows.append((tag_text, name, codes, action))
    return rows


def render(rows: list[tuple[str, str, str, str]]) -> str:
    """The Python source of annex_e_actions.py."""
    plain = sorted((r for r in rows if tag_int(r[0]) is not None), key=lambda r: tag_int(r[0]))
    patterns = [r for r in rows if tag_int(r[0]) is None]
    out = [
        '"""DICOM PS3.15 Annex E Table E.1-1 as one action per attribute (generated: do not edit).',
        "",
        "Generated by scripts/generate_deid_table.py from the standard's table, revision 2024e,",
        "plus the attributes added up to revision 2026c. Profile: Basic Application Level",
        "Confidentiality Profile with the Retain Longitudinal Temporal Information with Modified",
        "Dates Option; combined codes resolved for the MR Image IOD (see the script's docstring).",
        "",
        "Actions: X remove, Z empty (or dummy), D dummy value, U remap UID, C shift the date",
        "(keep the time of day).",
        '"""',
        "",
        "STANDARD_REVISIONS: tuple[str, ...] = (" + ", ".join(f'"{r}"' for r in REVISIONS) + ")",
        'PROFILE = "Basic Application Level Confidentiality Profile"',
        'OPTION = "Retain Longitudinal Temporal Information with Modified Dates Option"',
        "",
        "ACTIONS: dict[int, str] = {",
    ]
    for tag_text, name, codes, action in plain:
        line = f'    0x{tag_int(tag_text):08X}: "{action}",  # {name} ({codes})'
        if len(line) > 100:  # keep the generated file within the line length
            line = f'    0x{tag_int(tag_text):08X}: "{action}",  # {name[:60]}... ({codes})'
        out.append(line)
    out += [
        "}",
        "",
        "# Repeating groups and private attributes: (mask, value, action, pattern, name);",
        "# an attribute matches when tag & mask == value.",
        "PATTERNS: tuple[tuple[int, int, str, str, str], ...] = (",
    ]
    for tag_text, name, codes, action in patterns:
        mask, value = pattern_mask(tag_text)
        entry = f'(0x{mask:08X}, 0x{value:08X}, "{action}", "{tag_text}", "{name}")'
        out.append(f"    {entry},  # {codes}")
    out += [")", ""]
    return "\n".join(out)


def pattern_mask(tag_text: str) -> tuple[int, int]:
    """Mask and value of a pattern row; the private row matches odd groups."""
    if "GGGG" in tag_text:
        return 0x00010000, 0x00010000
    digits = tag_text.strip("()").replace(",", "")
    mask = int("".join("0" if c == "X" else "F" for c in digits), 16)
    value = int(digits.replace("X", "0"), 16)
    return mask, value


def main(argv: list[str] | None = None) -> int:
    """Read both JSON files and write the action table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    root = Path(__file__).resolve().parent.parent
    parser.add_argument("data_dir", nargs="?", default=str(root / "scripts" / "dicom-standard"))
    parser.add_argument(
        "--output", default=str(root / "cohorts" / "imaging" / "dicom" / "annex_e_actions.py")
    )
    args = parser.parse_args(argv)
    data_dir = Path(args.data_dir)
    attributes = json.loads((data_dir / ATTRIBUTES_FILE).read_text(encoding="utf-8"))
    additions = json.loads((data_dir / ADDITIONS_FILE).read_text(encoding="utf-8"))
    rows = build_rows(attributes, additions)
    Path(args.output).write_text(render(rows), encoding="utf-8")
    print(f"wrote {len(rows)} rows to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
