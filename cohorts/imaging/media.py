"""Image files under MEDIA_ROOT that no row names any more.

An erasure deletes a patient's files after its transaction commits, and an import writes a
series' files before its rows commit: a process killed in between leaves files that no
`Instance` names (an import of the same series again removes its own leftovers, nothing else
does). `media_orphans_sweep` removes them once they are old enough that no import can still
be about to commit them. Counts only are logged: the paths hold pseudonymized UIDs, but a
sweep has nothing to say about any one patient.
"""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass
from datetime import timedelta

from django.core.files.storage import default_storage
from django.utils import timezone

from cohorts.models import Instance

logger = logging.getLogger(__name__)

DICOM_FOLDER = "dicom"  # instance_upload_path: dicom/<study uid>/<series uid>/<sop uid>.dcm
# An import stores a series' files and commits its rows within minutes.
SWEEP_MIN_AGE = timedelta(hours=24)


@dataclass(frozen=True)
class MediaSweep:
    files_checked: int
    orphans: int  # old enough and named by no row: removed (or listed, in a dry run)
    too_recent: int  # named by no row but younger than the minimum age: kept
    removed: int


def media_orphans_sweep(
    *, min_age: timedelta = SWEEP_MIN_AGE, dry_run: bool = False
) -> tuple[MediaSweep, list[str]]:
    """Remove the stored image files no `Instance` names that are older than `min_age`;
    returns the counts and the names of the orphans. Study by study: one query each, never
    every file name of the archive in memory at once."""
    cutoff = timezone.now() - min_age
    checked = too_recent = removed = 0
    orphans: list[str] = []
    for study in _folders(DICOM_FOLDER):
        study_folder = f"{DICOM_FOLDER}/{study}"
        named = set(
            Instance.objects.filter(series__study__study_uid=study).values_list("file", flat=True)
        )
        for series in _folders(study_folder):
            series_folder = f"{study_folder}/{series}"
            for file_name in default_storage.listdir(series_folder)[1]:
                name = f"{series_folder}/{file_name}"
                checked += 1
                if name in named:
                    continue
                if default_storage.get_modified_time(name) > cutoff:
                    too_recent += 1
                    continue
                orphans.append(name)
                if not dry_run:
                    default_storage.delete(name)
                    removed += 1
            if not dry_run:
                _remove_if_empty(series_folder)
        if not dry_run:
            _remove_if_empty(study_folder)
    sweep = MediaSweep(checked, len(orphans), too_recent, removed)
    logger.info(
        "media sweep: %s files checked, %s orphans, %s removed, %s too recent",
        checked,
        len(orphans),
        removed,
        too_recent,
    )
    return sweep, orphans


def _folders(folder: str) -> list[str]:
    try:
        return sorted(default_storage.listdir(folder)[0])
    except FileNotFoundError:
        return []


def _remove_if_empty(folder: str) -> None:
    """Drop an emptied folder where the storage is a file system (others have no folders)."""
    try:
        path = default_storage.path(folder)
    except NotImplementedError:
        return
    with contextlib.suppress(OSError):  # not empty, or already gone
        os.rmdir(path)
