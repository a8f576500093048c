"""Uploads read safely: zip slip, zip bombs (honest and lying headers), folders, single files."""

from __future__ import annotations

import io
import os
import struct
import zipfile
from pathlib import Path

import pytest

from cohorts.imaging.dicom.archive import (
    BAD_ARCHIVE,
    NOT_FOUND,
    TOO_LARGE,
    TOO_MANY_FILES,
    UNSAFE_PATH,
    ArchiveLimits,
    ArchiveRejected,
    iter_files,
    unsafe_member_reason,
)


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(zipfile.ZipInfo(name), data, compress_type=zipfile.ZIP_DEFLATED)
    return path


def rejection(source, **kwargs) -> ArchiveRejected:
    with pytest.raises(ArchiveRejected) as caught:
        list(iter_files(source, **kwargs))
    return caught.value


def test_zip_members_are_yielded_in_order_with_their_bytes(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "study.zip", {"a/1.dcm": b"one", "a/2.dcm": b"two" * 1000})
    assert list(iter_files(path)) == [("a/1.dcm", b"one"), ("a/2.dcm", b"two" * 1000)]


def test_zip_directories_and_macos_debris_are_skipped(tmp_path: Path) -> None:
    path = make_zip(
        tmp_path / "u.zip",
        {"s/": b"", "s/1.dcm": b"x", "__MACOSX/s/._1.dcm": b"fork", "s/.DS_Store": b"d"},
    )
    assert [name for name, _ in iter_files(path)] == ["s/1.dcm"]


@pytest.mark.parametrize(
    "name", ["/etc/passwd", "../evil.dcm", "a/../../evil.dcm", "C:/x.dcm", "..\\evil.dcm"]
)
def test_zip_slip_members_reject_the_archive_before_reading(tmp_path: Path, name: str) -> None:
    path = make_zip(tmp_path / "slip.zip", {"ok.dcm": b"fine", name: b"evil"})
    error = rejection(path)
    assert error.reason_code == UNSAFE_PATH
    assert repr(name) in error.message


def test_unsafe_member_reasons_are_plain_words() -> None:
    assert unsafe_member_reason("/abs.dcm") == "is an absolute path"
    assert "'..'" in unsafe_member_reason("x/../../y")
    assert unsafe_member_reason("series/0001.dcm") is None
    assert unsafe_member_reason("a..b/c.dcm") is None  # dots inside a name are fine


def test_zip_bomb_is_rejected_by_declared_size_before_inflating(tmp_path: Path) -> None:
    # 50 MB of zeros deflate to ~50 kB; the limit is 10 MB
    path = make_zip(tmp_path / "bomb.zip", {"zeros.dcm": bytes(50 * 1024**2)})
    assert path.stat().st_size < 200_000
    limits = ArchiveLimits(max_total_bytes=10 * 1024**2, max_file_bytes=100 * 1024**2)
    error = rejection(path, limits=limits)
    assert error.reason_code == TOO_LARGE and "would unpack" in error.message


def lie_about_sizes(data: bytes, claimed: int) -> bytes:
    """Rewrite every uncompressed-size field (local and central headers) to `claimed`."""
    patched = bytearray(data)
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = 0
        while (at := patched.find(signature, start)) != -1:
            patched[at + offset : at + offset + 4] = struct.pack("<I", claimed)
            start = at + 4
    return bytes(patched)


def test_zip_whose_headers_lie_is_stopped_while_reading(tmp_path: Path) -> None:
    honest = make_zip(tmp_path / "honest.zip", {"zeros.dcm": bytes(20 * 1024**2)})
    lying = tmp_path / "lying.zip"
    lying.write_bytes(lie_about_sizes(honest.read_bytes(), claimed=1000))
    limits = ArchiveLimits(max_total_bytes=1024**2)
    seen = []
    with pytest.raises(ArchiveRejected) as caught:
        for name, data in iter_files(lying, limits=limits):
            seen.append((name, len(data)))
    # the declared 1000 bytes passed the header check; reading never got past them
    assert caught.value.reason_code in (TOO_LARGE, BAD_ARCHIVE)
    assert not seen


def test_total_is_counted_across_members_while_reading(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "many.zip", {f"{i}.dcm": bytes(400_000) for i in range(5)})
    limits = ArchiveLimits(max_total_bytes=1_000_000)
    assert rejection(path, limits=limits).reason_code == TOO_LARGE


def test_too_many_members_are_refused(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "many.zip", {f"{i}.dcm": b"x" for i in range(11)})
    assert rejection(path, limits=ArchiveLimits(max_files=10)).reason_code == TOO_MANY_FILES


def test_a_broken_zip_is_a_bad_archive(tmp_path: Path) -> None:
    path = tmp_path / "broken.zip"
    path.write_bytes(b"PK\x03\x04 this is not really a zip")
    assert rejection(path).reason_code == BAD_ARCHIVE


def test_zip_from_a_file_object(tmp_path: Path) -> None:
    buffer = io.BytesIO(make_zip(tmp_path / "u.zip", {"x.dcm": b"abc"}).read_bytes())
    assert list(iter_files(buffer)) == [("x.dcm", b"abc")]


def test_folder_is_walked_recursively_and_sorted(tmp_path: Path) -> None:
    (tmp_path / "s2").mkdir()
    (tmp_path / "s1").mkdir()
    (tmp_path / "s2" / "b.dcm").write_bytes(b"b")
    (tmp_path / "s1" / "a.dcm").write_bytes(b"a")
    (tmp_path / "s1" / ".DS_Store").write_bytes(b"junk")
    assert list(iter_files(tmp_path)) == [("s1/a.dcm", b"a"), ("s2/b.dcm", b"b")]


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symbolic links here")
def test_folder_does_not_follow_symbolic_links(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"server file")
    upload = tmp_path / "upload"
    upload.mkdir()
    (upload / "1.dcm").write_bytes(b"x")
    (upload / "link.dcm").symlink_to(outside / "secret.txt")
    (upload / "linkdir").symlink_to(outside, target_is_directory=True)
    assert list(iter_files(upload)) == [("1.dcm", b"x")]


def test_folder_over_the_limit_is_refused(tmp_path: Path) -> None:
    for i in range(3):
        (tmp_path / f"{i}.dcm").write_bytes(bytes(600))
    assert rejection(tmp_path, limits=ArchiveLimits(max_total_bytes=1000)).reason_code == TOO_LARGE


def test_single_file_is_yielded_once(tmp_path: Path) -> None:
    path = tmp_path / "one.dcm"
    path.write_bytes(b"\0" * 128 + b"DICM" + b"rest")
    assert list(iter_files(path)) == [("one.dcm", path.read_bytes())]


def test_single_file_over_the_file_limit_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.dcm"
    path.write_bytes(bytes(2000))
    assert rejection(path, limits=ArchiveLimits(max_file_bytes=1000)).reason_code == TOO_LARGE


def test_a_missing_path_is_not_found(tmp_path: Path) -> None:
    assert rejection(tmp_path / "nothing-here").reason_code == NOT_FOUND
