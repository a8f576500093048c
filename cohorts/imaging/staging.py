"""Durable staging of received instances: what the C-STORE listener acknowledges is on disk.

A staged instance is written under a temporary name, fsynced, renamed to its final name, and
its folder fsynced: once `stage_instance` returns, a crash or a power cut keeps the whole file
under its final name; before it returns, at most a `.part` file is left, which nobody
acknowledged and `staged_instances` removes. No Django here.
"""

from __future__ import annotations

import os
from pathlib import Path

STAGED_SUFFIX = ".dcm"
PARTIAL_SUFFIX = ".part"


def _fsync_folder(folder: Path) -> None:
    """A rename or a new entry is durable only once its folder is synced (POSIX)."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def staging_folder_create(root: Path, name: str) -> Path:
    """A new folder `root/name`, durable (its parent synced) before any instance goes in."""
    if not root.is_dir():
        root.mkdir(parents=True, exist_ok=True)
        _fsync_folder(root.parent)  # the new root's own entry
    folder = root / name
    folder.mkdir()
    _fsync_folder(root)
    return folder


def stage_instance(folder: Path, number: int, payload: bytes) -> str:
    """Write one received instance durably as `folder/<number>.dcm`; returns the file name."""
    name = f"{number:06d}{STAGED_SUFFIX}"
    partial = folder / f"{number:06d}{PARTIAL_SUFFIX}"
    with partial.open("wb") as handle:
        handle.write(payload)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, folder / name)
    _fsync_folder(folder)
    return name


def staged_instances(folder: Path) -> list[str]:
    """Names of the instances staged whole in `folder`, in the order received; leftovers of an
    interrupted write (never acknowledged) are removed."""
    if not folder.is_dir():
        return []
    names = []
    for path in sorted(folder.iterdir()):
        if path.suffix == PARTIAL_SUFFIX:
            path.unlink(missing_ok=True)
        elif path.suffix == STAGED_SUFFIX:
            names.append(path.name)
    return names
