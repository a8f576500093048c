"""The project's own Postgres server (no DATABASE_URL): it keeps its data across restarts, is
shared by the processes that use it at once, and stops with the last of them, even when some
were killed with SIGKILL or the server itself was."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from iim_scoring.db.embedded import pid_of_server

REPO = Path(__file__).resolve().parents[1]

# A process that uses the server: attach, run one statement, print what it returns, then
# (with "hold") keep using the server until its standard input closes.
USER = """
import sys, time
from pathlib import Path
import psycopg
from iim_scoring.db.embedded import database_settings
s = database_settings(Path(sys.argv[1]))
with psycopg.connect(host=s["HOST"], port=s["PORT"], user=s["USER"], dbname=s["NAME"],
                     autocommit=True) as conn:
    cursor = conn.execute(sys.argv[2])
    print(cursor.fetchall() if cursor.description else "done", flush=True)
print("attached", flush=True)
if sys.argv[3] == "hold":
    sys.stdin.read()
"""


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("embedded") / "pgdata"


def _run(data_dir: Path, statement: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", USER, str(data_dir), statement, "leave"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.splitlines()[0]


def _start(data_dir: Path, statement: str = "SELECT 1") -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-c", USER, str(data_dir), statement, "hold"],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    while "attached" not in (line := process.stdout.readline()):
        assert line, "the process exited before attaching"
    return process


def _wait_stopped(data_dir: Path) -> None:
    deadline = time.monotonic() + 20
    while pid_of_server(data_dir) is not None:
        assert time.monotonic() < deadline, "the server is still running"
        time.sleep(0.1)


def test_the_server_keeps_its_data_across_restarts_and_stops_with_its_last_user(data_dir):
    assert _run(data_dir, "CREATE TABLE kept (value text)") == "done"
    _run(data_dir, "INSERT INTO kept VALUES ('after a restart')")
    _wait_stopped(data_dir)
    assert _run(data_dir, "SELECT value FROM kept") == "[('after a restart',)]"
    _wait_stopped(data_dir)


def test_processes_share_the_server_and_one_killed_does_not_keep_it_running(data_dir):
    holder = _start(data_dir)
    server = pid_of_server(data_dir)
    assert server is not None
    # A second process at once uses the same server, and leaving does not stop it.
    assert _run(data_dir, "SELECT count(*) FROM kept") == "[(1,)]"
    assert pid_of_server(data_dir) == server
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(10)
    # The killed process never said it left; the next user's exit still stops the server.
    assert _run(data_dir, "SELECT count(*) FROM kept") == "[(1,)]"
    _wait_stopped(data_dir)


def test_the_last_user_stops_the_server_although_one_before_it_was_killed(data_dir):
    # What a SIGTERM to `runserver` does: its autoreloader SIGKILLs the serving child, then exits.
    killed, last = _start(data_dir), _start(data_dir)
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait(10)
    assert pid_of_server(data_dir) is not None
    last.stdin.close()
    assert last.wait(30) == 0
    _wait_stopped(data_dir)


def test_a_server_killed_with_sigkill_starts_again_with_its_data(data_dir):
    holder = _start(data_dir)
    server = pid_of_server(data_dir)
    os.kill(server, signal.SIGKILL)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(10)
    # Its postmaster.pid and socket lock stay behind; the next user starts it anyway.
    assert _run(data_dir, "SELECT value FROM kept") == "[('after a restart',)]"
    _wait_stopped(data_dir)
