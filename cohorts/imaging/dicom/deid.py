"""De-identification of one DICOM dataset (PS3.15 Annex E), in memory, without Django.

Profile: Basic Application Level Confidentiality Profile with the Retain Longitudinal
Temporal Information with Modified Dates Option, driven by the generated table in
`annex_e_actions.py`. The dataset is walked once, recursing into every kept sequence item.

Rules beyond the table, all on the safe side:
- every DA and DT anywhere is shifted by the patient's offset (the table lists most; a date
  the table forgets is still a date), TM keeps its time of day; a malformed date is emptied;
- every UI not in the table is remapped unless it names a class, a transfer syntax, a coding
  scheme or a UID of the standard (SOP Class UID, Referenced SOP Class UID, ...);
- a PN the table does not list is emptied; a public tag pydicom does not know is removed;
- overlay groups (60xx) are removed whole: the table removes Overlay Data, and an overlay
  left without its data would be an invalid module; curves (50xx) and private groups go;
- group lengths (gggg,0000), Encrypted Attributes Sequence and the file meta's AE titles and
  private information are removed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from functools import lru_cache
from io import BytesIO

import pydicom
from pydicom import config
from pydicom.datadict import dictionary_VR, keyword_for_tag
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence
from pydicom.uid import UID_dictionary

from .annex_e_actions import ACTIONS, PATTERNS, STANDARD_REVISIONS

OFFSET_MIN_DAYS = -3650
OFFSET_MAX_DAYS = -365

DUMMY_TEXT = "ANONYMIZED"
METHOD = (
    "PS3.15 Annex E Basic Application Confidentiality Profile",
    "Retain Longitudinal Temporal Information Modified Dates",
    f"iim-scoring; table {'+'.join(STANDARD_REVISIONS)}",
)
METHOD_CODES = (
    ("113100", "Basic Application Confidentiality Profile"),
    ("113107", "Retain Longitudinal Temporal Information Modified Dates Option"),
)

_REMOVE = "X"
_EXTRA_REMOVALS = {0x04000500}  # Encrypted Attributes Sequence: earlier identity, encrypted
_FILE_META_REMOVALS = (0x00020016, 0x00020017, 0x00020018, 0x00020026, 0x00020027, 0x00020028)
_KEPT_UID_KEYWORDS = {
    "CodingSchemeUID",
    "ContextUID",
    "MappingResourceUID",
    "ContextGroupExtensionCreatorUID",
    "TemplateExtensionCreatorUID",
    "TemplateExtensionOrganizationUID",
    "SOPClassesInStudy",
}
_MAX_LEN = {"AE": 16, "CS": 16, "SH": 16, "LO": 64, "PN": 64}
_DT_PATTERN = re.compile(r"^(\d{8})(\d{0,6}(?:\.\d{1,6})?)([+-]\d{4})?$")


def source_patient_key(patient_id: str, pepper: bytes) -> str:
    """HMAC-SHA256 (hex) of a source patient id: finds the patient again, reveals nothing."""
    return hmac.new(pepper, patient_id.strip().encode("utf-8"), hashlib.sha256).hexdigest()


def patient_date_offset(source_key: str, secret: bytes) -> int:
    """A per-patient date shift in OFFSET_MIN_DAYS..OFFSET_MAX_DAYS, the same on every import."""
    digest = hmac.new(secret, b"date-offset:" + source_key.encode("ascii"), hashlib.sha256)
    span = OFFSET_MAX_DAYS - OFFSET_MIN_DAYS + 1
    return OFFSET_MIN_DAYS + int.from_bytes(digest.digest()[:8], "big") % span


@lru_cache(maxsize=65536)
def remap_uid(uid: str, secret: bytes) -> str:
    """'2.25.' + the first 128 bits of HMAC-SHA256(secret, uid): same input, same output."""
    source = uid.strip("\0 ").encode("ascii", "backslashreplace")  # malformed UIDs too
    digest = hmac.new(secret, source, hashlib.sha256).digest()
    return "2.25." + str(int.from_bytes(digest[:16], "big"))


@lru_cache(maxsize=4096)
def shift_date(value: str, days: int) -> str:
    """Shift a DA value; '' for a value that is not a full date (never the original)."""
    text = value.strip().replace(".", "")  # ACR-NEMA wrote YYYY.MM.DD
    if len(text) != 8 or not text.isdigit():
        return ""
    try:
        day = dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
        return (day + dt.timedelta(days=days)).strftime("%Y%m%d")
    except (ValueError, OverflowError):
        return ""


@lru_cache(maxsize=4096)
def shift_datetime(value: str, days: int) -> str:
    """Shift the date of a DT value, keeping time, fraction and UTC offset; '' if malformed."""
    match = _DT_PATTERN.match(value.strip())
    if not match:
        return ""  # also partial dates (YYYY, YYYYMM): a day shift has no meaning there
    date = shift_date(match.group(1), days)
    return date + match.group(2) + (match.group(3) or "") if date else ""


@lru_cache(maxsize=8192)
def _tag_rule(tag: int) -> str | None:
    """The table's action for a tag, patterns and project rules included; None to look closer."""
    action = ACTIONS.get(tag)
    if action is not None:
        return action
    group = tag >> 16
    if tag & 0xFFFF == 0 or tag in _EXTRA_REMOVALS or 0x6000 <= group <= 0x60FF:
        return _REMOVE
    for mask, value, pattern_action, _pattern, _name in PATTERNS:
        if tag & mask == value:
            return pattern_action
    return None


@lru_cache(maxsize=8192)
def _dictionary_vr(tag: int) -> str | None:
    try:
        return dictionary_VR(tag)
    except KeyError:
        return None


@lru_cache(maxsize=8192)
def _uid_is_kept(tag: int) -> bool:
    """UI attributes that name classes or schemes, not instances."""
    keyword = keyword_for_tag(tag)
    return keyword.endswith(("ClassUID", "SyntaxUID")) or keyword in _KEPT_UID_KEYWORDS


def _values(value: object) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, (MultiValue, list, tuple)):
        return [str(v) for v in value]
    return [str(value)]


def _set(ds: Dataset, tag: int, vr: str, values: list[str]) -> None:
    """Replace a string element's value(s); an empty list leaves it present and empty."""
    cleaned = [v for v in values if v]
    value = cleaned if len(cleaned) > 1 else (cleaned[0] if cleaned else "")
    ds[tag] = _element(tag, vr, value)


def _element(tag: int, vr: str, value: object) -> DataElement:
    # values built here are valid by construction: skip pydicom's per-value validation
    return DataElement(tag, vr, value, validation_mode=config.IGNORE)


def _text_values(ds: Dataset, tag: int) -> list[str]:
    """The values of a UI, DA or DT element; raw bytes are split without pydicom's conversion."""
    elem = ds.get_item(tag)
    if elem is not None and elem.is_raw:
        text = (elem.value or b"").decode("latin-1").strip("\0 ")
        return [v.strip("\0 ") for v in text.split("\\")] if text else []
    return _values(elem.value if elem is not None else None)


def _dummy(vr: str) -> object:
    if vr in ("US", "SS", "UL", "SL", "FL", "FD", "UV", "SV"):
        return 0
    if vr in ("IS", "DS"):
        return "0"
    if vr in ("OB", "OW", "OD", "OF", "OL", "OV", "UN"):
        return b"\0\0"
    return {"DA": "19000101", "TM": "000000", "DT": "19000101000000", "AS": "000D"}.get(
        vr, DUMMY_TEXT[: _MAX_LEN.get(vr, 64)]
    )


class _Walker:
    """One pass over a dataset and its sequence items, applying the rules."""

    def __init__(self, secret: bytes, days: int) -> None:
        self.secret = secret
        self.days = days

    def clean(self, ds: Dataset) -> None:
        for tag in list(ds.keys()):
            action = _tag_rule(tag)
            if action == _REMOVE:
                del ds[tag]
                continue
            raw = ds.get_item(tag)
            vr = _dictionary_vr(tag) or getattr(raw, "VR", None)
            if action is None:
                if vr is None or vr == "UN":
                    del ds[tag]  # a public attribute nobody can judge: safe side
                elif vr in ("DA", "DT", "UI", "SQ", "PN"):
                    self._unlisted(ds, tag, vr)
            else:
                self._apply(ds, tag, vr or "UN", action)

    def _unlisted(self, ds: Dataset, tag: int, vr: str) -> None:
        if vr == "SQ":
            self._sequence(ds[tag].value)
        elif vr == "PN":
            ds[tag] = _element(tag, vr, "")
        elif vr == "UI":
            if not _uid_is_kept(tag) and not _is_standard_uid(_text_values(ds, tag)):
                self._remap(ds, tag)
        else:
            self._shift(ds, tag, vr)

    def _apply(self, ds: Dataset, tag: int, vr: str, action: str) -> None:
        if action == "U" or (action == "D" and vr == "UI"):
            if vr == "UI":
                self._remap(ds, tag)
            else:
                del ds[tag]
        elif action == "C":
            if vr in ("DA", "DT"):
                self._shift(ds, tag, vr)
            elif vr != "TM":  # the option keeps the time of day
                del ds[tag]
        elif action == "Z":
            ds[tag] = _element(tag, vr, [] if vr == "SQ" else None)
        elif action == "D":
            if vr == "SQ":
                self._sequence(ds[tag].value)
            elif vr in ("DA", "DT"):
                self._shift(ds, tag, vr)
            else:
                ds[tag] = _element(tag, vr, _dummy(vr))
        elif action != "K":
            del ds[tag]

    def _sequence(self, items: Sequence) -> None:
        for item in items:
            self.clean(item)

    def _remap(self, ds: Dataset, tag: int) -> None:
        values = _text_values(ds, tag)
        _set(ds, tag, "UI", [remap_uid(v, self.secret) for v in values if v.strip("\0 ")])

    def _shift(self, ds: Dataset, tag: int, vr: str) -> None:
        shift = shift_date if vr == "DA" else shift_datetime
        _set(ds, tag, vr, [shift(v, self.days) for v in _text_values(ds, tag)])


def deidentify(
    ds: Dataset,
    *,
    pseudonym: str,
    date_offset_days: int,
    uid_secret: bytes,
    blind_patient_name: str | None = None,
) -> Dataset:
    """De-identify `ds` in place and return it (the original is never written anywhere).

    Patient's Name and Patient ID become the pseudonym (or `blind_patient_name` for a file a
    blinded reader receives, so that nothing in it links to the pseudonym); dates move by
    `date_offset_days`; instance UIDs are remapped with `uid_secret`; pixel data is untouched.
    """
    label = blind_patient_name if blind_patient_name is not None else pseudonym
    if not label or len(label) > 64 or "\\" in label:
        raise ValueError(f"a pseudonym must be 1-64 characters without '\\': {label!r}")
    _Walker(uid_secret, date_offset_days).clean(ds)
    _mark(ds, label)
    meta = getattr(ds, "file_meta", None)
    if meta is not None:
        for tag in list(meta.keys()):
            if tag in _FILE_META_REMOVALS or tag in (0x00020100, 0x00020102):
                del meta[tag]
        if "SOPInstanceUID" in ds:
            meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    return ds


def _mark(ds: Dataset, label: str) -> None:
    """Write the pseudonym and the de-identification marks (PS3.15 E.1.1, PS3.3 C.7.1.1)."""
    items = []
    for value, meaning in METHOD_CODES:
        item = Dataset()
        item[0x00080100] = _element(0x00080100, "SH", value)
        item[0x00080102] = _element(0x00080102, "SH", "DCM")
        item[0x00080104] = _element(0x00080104, "LO", meaning)
        items.append(item)
    for tag, vr, value in (
        (0x00100010, "PN", label),
        (0x00100020, "LO", label),
        (0x00120062, "CS", "YES"),
        (0x00120063, "LO", list(METHOD)),
        (0x00120064, "SQ", items),
        (0x00280303, "CS", "MODIFIED"),
    ):
        ds[tag] = _element(tag, vr, value)


def dicom_bytes(ds: Dataset) -> bytes:
    """The dataset as a DICOM Part-10 file (preamble, file meta, dataset)."""
    buffer = BytesIO()
    pydicom.dcmwrite(buffer, ds, enforce_file_format=True)
    return buffer.getvalue()


_TEXT_VRS = {"PN", "LO", "SH", "LT", "ST", "UT", "UC", "CS", "AE", "DA", "DT", "UI", "UR"}


def identifying_values(ds: Dataset, *, min_length: int = 4) -> set[str]:
    """String values in `ds` that de-identification must remove, replace or remap.

    Collects, recursively: every value of an attribute the table acts on (except TM, whose
    time of day the option keeps), every PN, DA and DT, and every instance UID. PN values
    are split into their components too. Values shorter than `min_length` are left out, as
    they would match by chance in any file (sex "M", study id "1").
    """
    found: set[str] = set()
    _collect(ds, found)
    meta = getattr(ds, "file_meta", None)
    if meta is not None and "MediaStorageSOPInstanceUID" in meta:
        found.add(str(meta.MediaStorageSOPInstanceUID))
    return {v for v in found if len(v) >= min_length}


def _collect(ds: Dataset, found: set[str]) -> None:
    for elem in ds:
        tag = int(elem.tag)
        if elem.tag.is_private:
            continue  # removed whole; their values ("1.0", vendor names) match by chance
        vr = elem.VR
        if vr == "SQ":
            for item in elem.value:
                _collect(item, found)
            continue
        action = _tag_rule(tag)
        listed = action is not None and action != "K"
        if vr == "UI" and (action is None and _uid_is_kept(tag) or _is_standard_uid(elem.value)):
            continue
        if vr in _TEXT_VRS and (listed or vr in ("PN", "DA", "DT", "UI")) and vr != "TM":
            for value in _values(elem.value):
                value = value.strip("\0 ")
                found.add(value)
                if vr == "PN":
                    found.update(p.strip() for p in re.split(r"[\^=]", value) if p.strip())


def _is_standard_uid(value: object) -> bool:
    return any(v in UID_dictionary for v in _values(value))
