"""A C-STORE Success is a promise: the listener process killed with SIGKILL in the middle of a
storescu send (no handler runs, nothing is flushed) and started again imports every instance
it had acknowledged. And a long send does not grow the listener's memory.

A real `manage.py dicom_listener` process on the suite's Postgres database, fed by DCMTK's
storescu, killed once a few dozen instances are staged.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings
from pydicom.uid import generate_uid

from cohorts.imaging.dicom.deid import remap_uid
from cohorts.models import DicomImportJob, Instance
from tests.dicom_import.conftest import (
    free_port,
    parse,
    real_file,
    require_program,
    synthetic_files,
)
from tests.services import database_url

REPO = Path(__file__).resolve().parents[2]
AE_TITLE = "IIMDURABLE"
PATIENTS = 6
SLICES = 25  # a STIR and a T1 series each: 300 instances
KILL_AFTER_STAGED = 40
SEND_FILES = 80  # of 2 MB each

pytestmark = [pytest.mark.external, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def start_listener(tmp_path: Path, cohort) -> Iterator[Callable[[int, str], subprocess.Popen]]:
    """Start `manage.py dicom_listener` for the cohort on `port`; killed at the end."""
    require_program("storescu", "dcmtk")
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "DICOM_UID_SECRET": settings.DICOM_UID_SECRET,
        "DICOM_LISTENER_CALLING_AETS": "STORESCU",
        "DICOM_LISTENER_STAGING_DIR": str(tmp_path / "staging"),
    }
    env.pop("CELERY_BROKER_URL", None)
    started: list[subprocess.Popen] = []

    def start(port: int, log: str) -> subprocess.Popen:
        command = ["manage.py", "dicom_listener", "--cohort", cohort.slug]
        command += ["--ae-title", AE_TITLE, "--port", str(port)]
        with (tmp_path / log).open("w") as out:
            process = subprocess.Popen(
                [sys.executable, *command], cwd=REPO, env=env, stdout=out, stderr=out
            )
        started.append(process)
        wait_for(lambda: listening(port) or process.poll() is not None, what="the listener")
        assert process.poll() is None, (tmp_path / log).read_text()
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


def wait_for(condition: Callable[[], bool], *, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.05)


def listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def staged_count(staging: Path) -> int:
    return sum(1 for _ in staging.rglob("*.dcm"))


def acknowledged(storescu_log: str) -> list[int]:
    """Indexes (0-based, in sending order) of the files storescu heard Success for."""
    indexes, current = [], None
    for line in storescu_log.splitlines():
        if sending := re.search(r"Sending Store Request \(MsgID (\d+)", line):
            current = int(sending.group(1)) - 1
        elif "Received Store Response (Success)" in line and current is not None:
            indexes.append(current)
    return indexes


def test_every_acknowledged_instance_is_imported_after_a_sigkill_and_a_restart(
    start_listener, tmp_path
):
    paths = []
    for number in range(PATIENTS):
        files = synthetic_files(f"SRC-{number:04d}", seed=number + 1, slices=SLICES)
        for name, data in files:
            path = tmp_path / "send" / f"{number}-{name.replace('/', '-')}"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            paths.append(path)
    port = free_port()
    listener = start_listener(port, "listener-1.log")
    sender = subprocess.Popen(
        ["storescu", "-v", "-aec", AE_TITLE, "127.0.0.1", str(port), *map(str, paths)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    staging = tmp_path / "staging"
    wait_for(lambda: staged_count(staging) >= KILL_AFTER_STAGED, what="staged instances")
    os.kill(listener.pid, signal.SIGKILL)
    listener.wait()
    log, _ = sender.communicate(timeout=60)

    acked = acknowledged(log)
    assert 0 < len(acked) < len(paths), "the kill came in the middle of the send"
    assert not Instance.objects.exists(), "nothing is imported before the association ends"

    start_listener(port, "listener-2.log")
    wait_for(
        lambda: DicomImportJob.objects.filter(status="done").exists(),
        what="the resumed import",
        timeout=120,
    )
    secret = settings.DICOM_UID_SECRET.encode()
    expected = {remap_uid(str(parse(paths[i].read_bytes()).SOPInstanceUID), secret) for i in acked}
    stored = set(Instance.objects.values_list("sop_instance_uid", flat=True))
    assert expected <= stored, f"{len(expected - stored)} acknowledged instances were lost"
    job = DicomImportJob.objects.get()
    assert job.imported == len(stored) and job.rejected == 0
    wait_for(lambda: not Path(job.staging_dir).exists(), what="the staged files to go")


def peak_memory_mb(pid: int) -> float:
    """The process's peak resident memory (VmHWM), MB."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024


def test_the_listener_memory_stays_flat_in_the_size_of_the_send(start_listener, tmp_path):
    original = parse(real_file("MR2_UNCR.dcm").read_bytes())  # 1024 x 1024, 2 MB
    paths = []
    for number in range(SEND_FILES):
        original.SOPInstanceUID = generate_uid()
        original.InstanceNumber = number + 1
        paths.append(tmp_path / "send" / f"{number:04d}.dcm")
        paths[-1].parent.mkdir(exist_ok=True)
        original.save_as(paths[-1], enforce_file_format=True)
    sent_mb = sum(path.stat().st_size for path in paths) / 1024**2
    port = free_port()
    listener = start_listener(port, "listener.log")

    def send(files: list[Path], jobs_done: int) -> None:
        command = ["storescu", "-aec", AE_TITLE, "127.0.0.1", str(port), *map(str, files)]
        assert subprocess.run(command, capture_output=True, timeout=300).returncode == 0
        wait_for(
            lambda: DicomImportJob.objects.filter(status="done").count() == jobs_done,
            what="the import",
            timeout=300,
        )

    send(paths[:1], 1)  # warm up: every module loaded, every cache made
    before = peak_memory_mb(listener.pid)
    send(paths[1:], 2)
    growth = peak_memory_mb(listener.pid) - before
    assert Instance.objects.count() == SEND_FILES
    assert growth < sent_mb / 4, f"{growth:.0f} MB more for a {sent_mb:.0f} MB send"
