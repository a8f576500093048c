"""Staging received instances: whole files under their final names, or nothing that counts."""

from __future__ import annotations

from cohorts.imaging.staging import stage_instance, staged_instances, staging_folder_create


def test_a_staged_instance_is_the_received_bytes_under_its_number(tmp_path):
    folder = staging_folder_create(tmp_path / "root", "assoc")
    name = stage_instance(folder, 7, b"DICM-bytes")
    assert name == "000007.dcm"
    assert (folder / name).read_bytes() == b"DICM-bytes"
    assert sorted(p.name for p in folder.iterdir()) == ["000007.dcm"], "no temporary file left"


def test_an_interrupted_write_is_not_an_instance_and_is_cleared(tmp_path):
    folder = staging_folder_create(tmp_path, "assoc")
    stage_instance(folder, 2, b"second")
    stage_instance(folder, 1, b"first")
    (folder / "000003.part").write_bytes(b"cut o")  # a write a SIGKILL interrupted
    assert staged_instances(folder) == ["000001.dcm", "000002.dcm"]
    assert not (folder / "000003.part").exists()


def test_a_folder_that_is_gone_has_no_instances(tmp_path):
    assert staged_instances(tmp_path / "never-made") == []
