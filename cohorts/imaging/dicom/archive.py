"""Files of an upload, one at a time: a single file, a folder, or a .zip read without extraction.

`iter_files` yields (name, bytes) pairs and never holds more than one member in memory.
A zip is checked before anything is read: a member with an absolute path or a `..` part
(zip slip), too many members, or a declared total size above the limit rejects the whole
archive. Since headers can lie, the bytes actually inflated are counted too, and reading
stops as soon as a member exceeds its declared size or the total exceeds the limit.
"""

from __future__ import annotations

import os
import stat
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

UNSAFE_PATH = "unsafe_path"
TOO_LARGE = "too_large"
TOO_MANY_FILES = "too_many_files"
BAD_ARCHIVE = "bad_archive"
NOT_FOUND = "not_found"

_CHUNK = 1 << 20
_SKIPPED_PARTS = {"__MACOSX"}  # resource forks macOS adds to zips, never images
_SKIPPED_NAMES = {".DS_Store", "Thumbs.db", "desktop.ini"}


@dataclass(frozen=True)
class ArchiveLimits:
    """What one upload may contain (the Django settings pass their own)."""

    max_total_bytes: int = 8 * 1024**3
    max_file_bytes: int = 1024**3
    max_files: int = 100_000


class ArchiveRejected(Exception):
    """An upload refused as a whole; `reason_code` is one of the constants above."""

    def __init__(self, reason_code: str, message: str) -> None:
        super().__init__(message)
        self.reason_code = reason_code
        self.message = message


def iter_files(
    source: str | os.PathLike | BinaryIO, *, limits: ArchiveLimits | None = None
) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) of every file in `source`: a file, a folder (recursively) or a zip.

    A file object is read as a zip. Folder members are named by their path relative to the
    folder; symbolic links are not followed (they could point anywhere on the server).
    """
    limits = limits or ArchiveLimits()
    if not isinstance(source, str | os.PathLike):
        yield from _iter_zip(source, limits)
        return
    path = Path(source)
    if path.is_dir():
        yield from _iter_folder(path, limits)
    elif path.is_file():
        if _is_zip(path):
            with path.open("rb") as handle:
                yield from _iter_zip(handle, limits)
        else:
            _check_file_size(path.name, path.stat().st_size, limits)
            yield path.name, path.read_bytes()
    else:
        raise ArchiveRejected(NOT_FOUND, f"There is no file or folder at {path.name!r}.")


def _is_zip(path: Path) -> bool:
    """A .zip, or a zip by content; a DICOM file (DICM at 128) is never taken for one."""
    if path.suffix.lower() == ".zip":
        return True
    with path.open("rb") as handle:
        head = handle.read(132)
    return head[128:132] != b"DICM" and zipfile.is_zipfile(path)


def _check_file_size(name: str, size: int, limits: ArchiveLimits) -> None:
    if size > limits.max_file_bytes:
        raise ArchiveRejected(
            TOO_LARGE, f"{name!r} is {size:,} bytes; one file may have {limits.max_file_bytes:,}."
        )


def _iter_folder(folder: Path, limits: ArchiveLimits) -> Iterator[tuple[str, bytes]]:
    total = count = 0
    for root, dirs, files in os.walk(folder, followlinks=False):
        dirs[:] = sorted(d for d in dirs if d not in _SKIPPED_PARTS)
        for file_name in sorted(files):
            path = Path(root) / file_name
            info = path.lstat()
            if file_name in _SKIPPED_NAMES or not stat.S_ISREG(info.st_mode):
                continue  # links, sockets, devices: not uploads
            name = path.relative_to(folder).as_posix()
            count += 1
            total += info.st_size
            if count > limits.max_files:
                raise ArchiveRejected(
                    TOO_MANY_FILES, f"The folder has over {limits.max_files:,} files."
                )
            _check_file_size(name, info.st_size, limits)
            if total > limits.max_total_bytes:
                raise ArchiveRejected(
                    TOO_LARGE, f"The folder holds over {limits.max_total_bytes:,} bytes."
                )
            yield name, path.read_bytes()


def unsafe_member_reason(name: str) -> str | None:
    """Why a zip member name may not be used, or None when it is a plain relative path."""
    if "\0" in name:
        return "contains a NUL character"
    posix = name.replace("\\", "/")  # Windows tools write backslashes
    if posix.startswith("/") or (len(posix) > 1 and posix[1] == ":"):
        return "is an absolute path"
    if ".." in PurePosixPath(posix).parts:
        return "climbs out of the archive with '..'"
    return None


def _iter_zip(handle: BinaryIO, limits: ArchiveLimits) -> Iterator[tuple[str, bytes]]:
    try:
        archive = zipfile.ZipFile(handle)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ArchiveRejected(BAD_ARCHIVE, f"The zip file cannot be opened ({exc}).") from exc
    with archive:
        members = _checked_members(archive, limits)
        total = 0
        for info in members:
            data = bytearray()
            try:
                with archive.open(info) as stream:
                    while chunk := stream.read(_CHUNK):
                        data += chunk
                        total += len(chunk)
                        _check_inflated(info, len(data), total, limits)
            except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
                message = f"The zip member {info.filename!r} cannot be read ({exc})."
                raise ArchiveRejected(BAD_ARCHIVE, message) from exc
            except RuntimeError as exc:  # encrypted member
                message = f"The zip member {info.filename!r} is encrypted."
                raise ArchiveRejected(BAD_ARCHIVE, message) from exc
            yield info.filename, bytes(data)


def _checked_members(archive: zipfile.ZipFile, limits: ArchiveLimits) -> list[zipfile.ZipInfo]:
    """The file members to read, after every check that needs no decompression."""
    members = []
    declared = 0
    for info in archive.infolist():
        reason = unsafe_member_reason(info.filename)
        if reason:
            message = f"The zip member {info.filename!r} {reason}; the archive is refused."
            raise ArchiveRejected(UNSAFE_PATH, message)
        parts = PurePosixPath(info.filename.replace("\\", "/")).parts
        if info.is_dir() or _SKIPPED_PARTS & set(parts) or parts[-1] in _SKIPPED_NAMES:
            continue
        members.append(info)
        declared += info.file_size
        _check_file_size(info.filename, info.file_size, limits)
    if len(members) > limits.max_files:
        raise ArchiveRejected(
            TOO_MANY_FILES, f"The zip has {len(members):,} files; at most {limits.max_files:,}."
        )
    if declared > limits.max_total_bytes:
        raise ArchiveRejected(
            TOO_LARGE,
            f"The zip would unpack to {declared:,} bytes; at most {limits.max_total_bytes:,}.",
        )
    return members


def _check_inflated(info: zipfile.ZipInfo, size: int, total: int, limits: ArchiveLimits) -> None:
    """Stop on the first byte past what the headers promised or the limits allow."""
    if size > info.file_size:
        raise ArchiveRejected(
            TOO_LARGE, f"The zip member {info.filename!r} inflates past its declared size."
        )
    if size > limits.max_file_bytes or total > limits.max_total_bytes:
        raise ArchiveRejected(
            TOO_LARGE, f"The zip unpacks to more than {limits.max_total_bytes:,} bytes."
        )
