"""A reader's own viewer and keyboard preferences."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser

from scoring.models import (
    ReaderPreference,
)


def reader_preferences_update(
    *, reader: AbstractBaseUser, voi: dict | None = None, keymap: dict | None = None
) -> ReaderPreference:
    """Merge the reader's last window/level per sequence and remapped shortcuts."""
    prefs, _ = ReaderPreference.objects.get_or_create(reader=reader)
    fields = []
    if voi is not None:
        prefs.voi = {**prefs.voi, **{k: v for k, v in voi.items() if k in ("STIR", "T1")}}
        fields.append("voi")
    if keymap is not None:
        prefs.keymap = {**prefs.keymap, **keymap}
        fields.append("keymap")
    if fields:
        prefs.save(update_fields=fields)
    return prefs
