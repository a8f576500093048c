"""A reader's own viewer and keyboard preferences, bounded: a keymap is a few dozen named
shortcuts, a window/level two numbers per sequence (20,000 keys were stored before)."""

from __future__ import annotations

import math
import re
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from scoring.models import ReaderPreference
from scoring.services.messages import KEYMAP_INVALID, KEYMAP_TOO_LARGE, VOI_INVALID

KEYMAP_MAX_ENTRIES = 64
KEYMAP_MAX_BINDINGS = 4
BINDING_MAX_LENGTH = 40
VOI_SEQUENCES = ("STIR", "T1")
# The page's actions: grid.<action> and viewer.<action> (frontend/grading, frontend/viewer).
_ACTION = re.compile(r"^(grid|viewer)\.[A-Za-z][A-Za-z0-9]{0,39}\Z")


def _binding_ok(value: Any) -> bool:
    return (
        isinstance(value, str)
        and 0 < len(value) <= BINDING_MAX_LENGTH
        and value.isprintable()
        and value.strip() != ""
    )


def keymap_check(keymap: Any) -> dict[str, list[str] | str]:
    """The keymap when every entry names an action and gives one to four bindings; raises
    ValidationError (KEYMAP_INVALID, KEYMAP_TOO_LARGE) otherwise."""
    if not isinstance(keymap, dict):
        raise ValidationError(KEYMAP_INVALID, code="invalid")
    if len(keymap) > KEYMAP_MAX_ENTRIES:
        raise ValidationError(KEYMAP_TOO_LARGE, code="invalid")
    for action, bindings in keymap.items():
        if not isinstance(action, str) or not _ACTION.match(action):
            raise ValidationError(KEYMAP_INVALID, code="invalid")
        listed = bindings if isinstance(bindings, list) else [bindings]
        if not 1 <= len(listed) <= KEYMAP_MAX_BINDINGS or not all(map(_binding_ok, listed)):
            raise ValidationError(KEYMAP_INVALID, code="invalid")
    return keymap


def _valid_entries(keymap: Any) -> dict:
    if not isinstance(keymap, dict):
        return {}
    valid = {}
    for action, bindings in keymap.items():
        try:
            keymap_check({action: bindings})
        except ValidationError:
            continue
        valid[action] = bindings
    return valid


def voi_check(voi: Any) -> dict[str, dict[str, float]]:
    """{sequence: {center, width}} for STIR and T1 only, finite, width > 0; else VOI_INVALID."""
    if not isinstance(voi, dict) or not set(voi) <= set(VOI_SEQUENCES):
        raise ValidationError(VOI_INVALID, code="invalid")
    checked = {}
    for sequence, window in voi.items():
        if not isinstance(window, dict) or set(window) != {"center", "width"}:
            raise ValidationError(VOI_INVALID, code="invalid")
        center, width = window["center"], window["width"]
        numbers = [v for v in (center, width) if isinstance(v, int | float) and v is not True]
        if len(numbers) != 2 or not all(map(math.isfinite, numbers)) or width <= 0:
            raise ValidationError(VOI_INVALID, code="invalid")
        checked[sequence] = {"center": float(center), "width": float(width)}
    return checked


@transaction.atomic
def reader_preferences_update(
    *, reader: AbstractBaseUser, voi: dict | None = None, keymap: dict | None = None
) -> ReaderPreference:
    """Merge the reader's last window/level per sequence and remapped shortcuts (checked by
    `voi_check` and `keymap_check`, the merged keymap too)."""
    prefs, _ = ReaderPreference.objects.select_for_update().get_or_create(reader=reader)
    fields = []
    if voi is not None:
        prefs.voi = {**prefs.voi, **voi_check(voi)}
        fields.append("voi")
    if keymap is not None:
        # What was stored before these limits held is dropped where it breaks them, so a
        # reader is never stuck with a keymap they cannot change.
        stored = dict(list(_valid_entries(prefs.keymap).items())[:KEYMAP_MAX_ENTRIES])
        prefs.keymap = keymap_check({**stored, **keymap_check(keymap)})
        fields.append("keymap")
    if fields:
        prefs.save(update_fields=fields)
    return prefs
