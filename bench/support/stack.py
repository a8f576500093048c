"""What a bench starts, and the promise that all of it is stopped and removed at the end.

    with Stack("grading") as stack:
        stack.env["DATABASE_URL"] = stack.migrated_database("iim_bench_1a2b3c4d")
        stack.start_celery_worker("worker", queues="bench-grading-1a2b3c4d")
        base = stack.start_gunicorn(workers=4)
        ...

A Stack holds a temp folder (the processes' logs, MEDIA_ROOT), the bench's Postgres server
(bench/support/postgres.py: BENCH_POSTGRES_URL, the machine's, or the embedded one) and the
databases made on it, the environment of its Django children (`env`, bench/support/env.py),
and the processes it started, each logging to `<tmp>/<name>.log`. Leaving the `with` block,
by a return, an exception or SIGTERM, stops the processes (SIGTERM, SIGKILL after 30 s), runs
what was registered with `at_stop` (bench/support/broker.py's Redis cleanup), drops the
databases that were not kept and removes the temp folder; after an exception the end of each
process's log is printed first.
"""

from __future__ import annotations

import http.client
import json
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from bench.support.env import REPO, django_env
from bench.support.postgres import bench_postgres

STOP_TIMEOUT_S = 30


def free_port() -> int:
    """A TCP port on the loopback that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def last_json(output: str) -> dict:
    """The JSON a child printed as its last line."""
    return json.loads(output.strip().splitlines()[-1])


def _answers_http(port: int) -> bool:
    """The web app on `port` answers a request (any status: its workers have booted)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", "/accounts/login/")
        conn.getresponse().read()
        return True
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


class Stack:
    """The processes and resources of one bench run (see the module doc)."""

    def __init__(self, name: str) -> None:
        self.postgres = bench_postgres()
        print(f"postgres: {self.postgres.where}", flush=True)
        self.tmp = Path(tempfile.mkdtemp(prefix=f"iim-bench-{name}-"))
        self.env = django_env(media_root=self.tmp / "media")
        self.processes: list[tuple[str, subprocess.Popen]] = []
        self._at_stop: list[Callable[[], None]] = []
        self._previous_sigterm = None

    def __enter__(self) -> Stack:
        self._previous_sigterm = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
        return self

    def __exit__(self, kind: type | None, error: BaseException | None, traceback: object) -> None:
        try:
            if error is not None:
                self.print_logs()
            self.stop()
        finally:
            signal.signal(signal.SIGTERM, self._previous_sigterm or signal.SIG_DFL)

    # -- databases -------------------------------------------------------------------------

    def migrated_database(self, name: str) -> str:
        """A new database `name` with the project's migrations applied, dropped at the end;
        its URL (for DATABASE_URL)."""
        url = self.postgres.create(name)
        self.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
            "migrate",
            env={**self.env, "DATABASE_URL": url},
        )
        return url

    # -- processes -------------------------------------------------------------------------

    def start(
        self, name: str, args: Sequence[str], *, env: dict[str, str] | None = None
    ) -> subprocess.Popen:
        """Start `args` in the repository with `env` (default: `self.env`), output to its log."""
        with (self.tmp / f"{name}.log").open("w") as log:
            process = subprocess.Popen(
                list(args),
                cwd=REPO,
                env=self.env if env is None else env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.processes.append((name, process))
        return process

    def process(self, name: str) -> subprocess.Popen:
        return dict(self.processes)[name]

    def log(self, name: str) -> str:
        path = self.tmp / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def check_alive(self) -> None:
        """Raise, with its log, if a started process has exited."""
        for name, process in self.processes:
            if process.poll() is not None:
                raise RuntimeError(
                    f"{name} exited ({process.returncode}):\n{self.log(name)[-3000:]}"
                )

    def wait_for(self, condition: Callable[[], bool], what: str, timeout: float) -> None:
        """Poll `condition` until it holds; raise if `timeout` s pass or a process exits."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            if condition():
                return
            time.sleep(0.2)
        logs = "\n".join(f"--- {name}\n{self.log(name)[-1500:]}" for name, _ in self.processes)
        raise RuntimeError(f"timed out {what}:\n{logs}")

    def start_gunicorn(
        self,
        *,
        workers: int,
        options: Sequence[str] = (),
        name: str = "gunicorn",
        env: dict[str, str] | None = None,
        timeout: float = 90,
    ) -> str:
        """The project under gunicorn with `workers` sync workers (as docker-compose runs it)
        on a free loopback port, answering requests; its base URL."""
        port = free_port()
        tmp = "/dev/shm" if Path("/dev/shm").is_dir() else str(self.tmp)
        args = [sys.executable, "-m", "gunicorn", "iim_scoring.wsgi:application"]
        args += ["--bind", f"127.0.0.1:{port}", "--workers", str(workers)]
        self.start(name, [*args, "--worker-tmp-dir", tmp, *options], env=env)
        self.wait_for(lambda: _answers_http(port), f"starting {name}", timeout)
        return f"http://127.0.0.1:{port}"

    def start_celery_worker(
        self, name: str, *, queues: str, env: dict[str, str] | None = None, timeout: float = 90
    ) -> subprocess.Popen:
        """A Celery worker of the project (solo pool: one task at a time) on `queues`, ready."""
        args = [sys.executable, "-m", "celery", "-A", "iim_scoring", "worker", "--pool=solo"]
        args += ["--loglevel=INFO", "-Q", queues, "-n", f"{name}@%h", "--without-gossip"]
        process = self.start(name, [*args, "--without-mingle", "--without-heartbeat"], env=env)
        self.wait_for(lambda: "ready." in self.log(name), f"starting {name}", timeout)
        return process

    def run(
        self,
        args: Sequence[str],
        what: str,
        *,
        env: dict[str, str] | None = None,
        timeout: float = 600,
    ) -> subprocess.CompletedProcess[str]:
        """Run `args` in the repository to its end (output captured), or raise with its tail."""
        done = subprocess.run(
            list(args),
            cwd=REPO,
            env=self.env if env is None else env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{what} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        return done

    def run_json(
        self,
        args: Sequence[str],
        what: str,
        *,
        env: dict[str, str] | None = None,
        timeout: float = 1800,
    ) -> dict:
        """Run a child that prints its answer as JSON on its last line; that answer."""
        return last_json(self.run(args, what, env=env, timeout=timeout).stdout)

    def stop_process(self, name: str) -> None:
        """Stop one started process now."""
        process = self.process(name)
        self.processes.remove((name, process))
        _stop([process])

    def stop_processes(self) -> None:
        """Stop every started process, the last started first."""
        _stop([process for _name, process in reversed(self.processes)])
        self.processes.clear()

    def print_logs(self) -> None:
        for name, _process in self.processes:
            text = self.log(name)
            if text.strip():
                print(f"--- {name} log (end):\n{text[-3000:]}", file=sys.stderr)

    # -- the end ---------------------------------------------------------------------------

    def at_stop(self, cleanup: Callable[[], None]) -> None:
        """Run `cleanup` at the end, after the processes stopped (the last registered first)."""
        self._at_stop.append(cleanup)

    def stop(self) -> None:
        """Stop the processes, clean up, drop the databases not kept, remove the temp folder."""
        self.stop_processes()
        while self._at_stop:
            self._at_stop.pop()()
        self.postgres.drop_created()
        shutil.rmtree(self.tmp, ignore_errors=True)


def _stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
