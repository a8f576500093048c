"""Load: 50 concurrent users (readers grading, clinicians on dashboards, statisticians exporting).

    python bench/load.py [--duration 60] [--warmup 5] [--patients 300] [--readers 30]
                         [--clinicians 15] [--statisticians 5] [--pace 1] [--dashboard-pace 6]
                         [--export-pace 6] [--workers 4] [--celery-workers 2]

The bench starts what it needs and removes it at the end, on error too: a throwaway Postgres
database (bench/support/postgres.py: BENCH_POSTGRES_URL, the machine's server at
127.0.0.1:5432, or the embedded one), migrated, with the roles
(`ensure_roles`), a synthetic cohort of --patients patients with submitted whole-body reads
(bench/support/synthetic_cohort.py) and its stored results, and in it one new study per read for
--readers radiologists with 2 assigned (not submitted) reads each; --clinicians clinicians and
--statisticians statisticians (with a DRF token), members of the cohort. Then, as
docker-compose runs it: --celery-workers Celery workers (solo pool, so one task at a time
each; the first on the cohort recomputations' queue, ANALYTICS_QUEUE, the others on the
default queue) on Redis (bench/support/broker.py: BENCH_REDIS_URL, default db 10 of the
machine's, or a private redis-server; queues of its own; the Django cache there too; whatever
the run adds to that Redis database is deleted at the end), and gunicorn with
--workers sync workers on a free loopback port.

Users, each on its own connection and thread, all at once, on fixed schedules (latency is
counted from the planned time, so waiting for a late previous request counts too):
- readers (signed in through the login form, CSRF and all) save one cell per request as the
  reading page's autosave does, POST /reading/api/reads/<id>/grades/ {version, changes}, one
  every --pace s, alternating their two reads: mostly the next empty cell, one save in four a
  correction of a cell saved before (a different value). A 409 is an error: each reader owns
  its reads;
- clinicians (signed in through the form) open the dashboard every --dashboard-pace s: the page
  GET /dashboards/<slug>/ then its data GET /dashboards/<slug>/data.json (every other visit
  with another scope, statistic or functional group, as the page's controls ask); half-way
  to the next visit they poll status.json as the page does, and fetch data.json again when
  the results changed (data.json's latency counts from when the page's script asks for it);
- statisticians stream GET /api/v1/cohorts/<slug>/export/group-scores/ (every third time
  .../export/grades/ instead) with their token, one export every --export-pace s.

Measured over --duration s after --warmup s of the same load (errors are counted over both):
errors per user kind (non-2xx, exceptions, timeouts), latency p50/p95/p99 per endpoint. No
grade lost: every save answered 200 is recorded client-side (the final value per read, muscle,
side and sequence); after the load the database's scoring_grade rows of those reads must be
exactly those (none missing, none extra, same values). Then the time the Celery workers need to
catch up (the cohort's CohortAnalyticsState neither stale nor recomputing).

Targets (issue "Production hardening"): zero errors; p95 grade save <= 100 ms; no grade lost.
The last line is `RESULT name=load ratio=R errors=N save_p95_ms=X lost=L saves=S
dashboard_p95_ms=D export_p95_ms=E`: ratio = 100 / save_p95_ms (>= 1: the latency target is
met), lost = acknowledged cells missing or with another value in the database plus cells the
database holds that no client was told were saved, saves = saves answered 200 in the measured
window, dashboard = data.json, export = every export request (both endpoints).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.support.env import in_project_python

in_project_python()

import argparse  # noqa: E402
import http.client  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import secrets  # noqa: E402
import socket  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from urllib.parse import urlencode, urlparse  # noqa: E402

import psycopg  # noqa: E402

from bench.support.broker import bench_redis  # noqa: E402
from bench.support.measure import machine_busy, percentile  # noqa: E402
from bench.support.stack import Stack  # noqa: E402
from bench.support.web import session_headers, sign_in  # noqa: E402

PASSWORD = "bench-" + secrets.token_hex(8)
SLUG = "bench-load"
SAVE_PATH = "/reading/api/reads/{read_id}/grades/"
READ_PATH = "/reading/api/reads/{read_id}/"
VALUES = ("0", "1", "2", "NA")
NEW_VALUE_WEIGHTS = (5, 3, 2, 0.2)  # mostly normal muscles, as a real cohort
TARGET_SAVE_P95_MS = 100.0
TIMEOUT_S = 60.0
EXPORT_TIMEOUT_S = 180.0

# Endpoint kinds, in the order of the table: (label, user kind).
SAVE = "POST reading/api/reads/<id>/grades/"
PAGE = "GET dashboards/<slug>/"
DATA = "GET dashboards/<slug>/data.json"
STATUS = "GET dashboards/<slug>/status.json"
EXPORT_SCORES = "GET api/v1/.../export/group-scores/"
EXPORT_GRADES = "GET api/v1/.../export/grades/"
ENDPOINTS = {
    SAVE: "reader",
    PAGE: "clinician",
    DATA: "clinician",
    STATUS: "clinician",
    EXPORT_SCORES: "statistician",
    EXPORT_GRADES: "statistician",
}
USER_KINDS = ("reader", "clinician", "statistician")


# -- the child that prepares the data ------------------------------------------------------


def child_setup(config: dict) -> dict:
    """Runs with the bench's environment (Django on the throwaway database, tasks sent to an
    in-process broker nobody reads: setup marks the cohort stale; the forced recompute at the
    end stores its results and leaves it fresh)."""
    from bench.support.synthetic_cohort import build_cohort

    began = time.perf_counter()
    cohort_id = build_cohort(
        os.environ["DATABASE_URL"],
        config["patients"],
        config["seed"],
        slug=SLUG,
        log=lambda line: print(line, file=sys.stderr),
    )
    built = time.perf_counter()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group
    from rest_framework.authtoken.models import Token

    from analytics.models import CohortAnalyticsState
    from analytics.recompute import cohort_analyses_recompute
    from bench.support.reading import protocol_cells, reads_assigned
    from cohorts.models import Cohort, CohortMembership
    from cohorts.roles import CLINICIAN, RADIOLOGIST, STATISTICIAN, ensure_roles
    from scoring.models import FunctionalGroup, ScoringProtocol

    ensure_roles()
    cohort = Cohort.objects.get(pk=cohort_id)
    site = cohort.sites.order_by("code").first()
    protocol = ScoringProtocol.objects.get(slug="whole-body-iim")
    cells = protocol_cells(protocol)
    hashed = make_password(config["password"])  # one hash for every bench user: fast setup
    users = get_user_model().objects

    def make_user(username: str, role: str):
        user = users.create(username=username, password=hashed)
        user.groups.add(Group.objects.get(name=role))
        return user

    out: dict = {"slug": cohort.slug, "cohort_id": cohort_id, "cells": cells}
    out["readers"] = []
    for r in range(config["readers"]):
        user = make_user(f"load-reader-{r:02d}", RADIOLOGIST)
        read_ids = reads_assigned(
            cohort=cohort,
            protocol=protocol,
            reader=user,
            pseudonyms=[f"LOAD-{r:02d}-{k:02d}" for k in range(config["reads_each"])],
            description="Load bench study",
            site=site,
            sex="F",
            age_at_mri=50 + r % 20,
            subtype="DM",
        )
        out["readers"].append({"username": user.username, "reads": read_ids})
    out["clinicians"] = []
    for c in range(config["clinicians"]):
        user = make_user(f"load-clinician-{c:02d}", CLINICIAN)
        CohortMembership.objects.create(cohort=cohort, user=user)
        out["clinicians"].append(user.username)
    out["statisticians"] = []
    for s in range(config["statisticians"]):
        user = make_user(f"load-statistician-{s:02d}", STATISTICIAN)
        CohortMembership.objects.create(cohort=cohort, user=user)
        out["statisticians"].append(
            {"username": user.username, "token": Token.objects.create(user=user).key}
        )
    out["groups"] = list(FunctionalGroup.objects.values_list("slug", flat=True))
    out["outcome"] = cohort_analyses_recompute(cohort_id=cohort_id, force=True)
    state = CohortAnalyticsState.objects.get(cohort_id=cohort_id)
    out["fresh"] = not state.stale and not state.recomputing and state.queued_at is None
    out["build_s"] = built - began
    out["setup_s"] = time.perf_counter() - began
    return out


# -- the server side -----------------------------------------------------------------------


def start_stack(stack: Stack, args: argparse.Namespace) -> tuple[str, dict]:
    """Database, migrations, data, Celery workers, gunicorn: its base URL and the data."""
    db_name = f"iim_bench_{secrets.token_hex(4)}"
    print(f"database {db_name}: migrating...", flush=True)
    began = time.perf_counter()
    stack.env["DATABASE_URL"] = stack.migrated_database(db_name)
    print(
        f"  migrated in {time.perf_counter() - began:.1f} s; building {args.patients} patients, "
        f"{args.readers} readers x {args.reads_each} reads, {args.clinicians} clinicians, "
        f"{args.statisticians} statisticians, the cohort's results...",
        flush=True,
    )
    config = {
        "patients": args.patients,
        "seed": args.seed,
        "readers": args.readers,
        "reads_each": args.reads_each,
        "clinicians": args.clinicians,
        "statisticians": args.statisticians,
        "password": PASSWORD,
    }
    setup_env = {
        **stack.env,
        # Setup's own requests for a recomputation go nowhere; it recomputes at its end.
        "CELERY_BROKER_URL": "memory://",
        "CELERY_RESULT_BACKEND": "cache+memory://",
        "CACHE_URL": "locmemcache://",
    }
    setup = [sys.executable, __file__, "--child-setup", json.dumps(config)]
    data = stack.run_json(setup, "setup", env=setup_env)
    if not data["fresh"]:
        raise RuntimeError(f"the cohort's results are not fresh after setup ({data['outcome']})")
    print(
        f"  cohort {data['slug']}: built in {data['build_s']:.1f} s, all set up in "
        f"{data['setup_s']:.1f} s (recompute: {data['outcome']})",
        flush=True,
    )
    for n in range(args.celery_workers):
        name = f"celery-{n + 1}"
        # As docker-compose: the first serves the cohort recomputations' queue, the others
        # the default queue (with one worker, it serves both).
        if args.celery_workers == 1:
            queues = f"{stack.env['ANALYTICS_QUEUE']},{stack.env['CELERY_QUEUE']}"
        else:
            queues = stack.env["ANALYTICS_QUEUE" if n == 0 else "CELERY_QUEUE"]
        stack.start_celery_worker(name, queues=queues)
    base = stack.start_gunicorn(workers=args.workers, options=["--timeout", "120"])
    return base, data


# -- the client side -----------------------------------------------------------------------


@dataclass
class Tally:
    """What every user thread reports, under one lock."""

    measure_from: float = 0.0
    measure_to: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)
    latencies: dict[str, list[float]] = field(default_factory=dict)  # measured window only
    errors: dict[str, dict[str, int]] = field(default_factory=dict)  # endpoint -> what -> n
    calls: dict[str, int] = field(default_factory=dict)  # whole run, answered or not
    error_samples: list[str] = field(default_factory=list)

    def measured(self, planned: float) -> bool:
        return self.measure_from <= planned < self.measure_to

    def ok(self, endpoint: str, planned: float, seconds: float) -> None:
        with self.lock:
            self.calls[endpoint] = self.calls.get(endpoint, 0) + 1
            if self.measured(planned):
                self.latencies.setdefault(endpoint, []).append(seconds)

    def error(self, endpoint: str, what: str, detail: str = "") -> None:
        with self.lock:
            self.calls[endpoint] = self.calls.get(endpoint, 0) + 1
            per = self.errors.setdefault(endpoint, {})
            per[what] = per.get(what, 0) + 1
            if len(self.error_samples) < 10:
                self.error_samples.append(f"{endpoint}: {what} {detail[:300]}".rstrip())


class Connection:
    """One user's HTTP connection; http.client keeps the client's own cost small. gunicorn's
    sync workers close the connection after each answer: http.client opens the next one."""

    def __init__(self, base: str, headers: dict[str, str], timeout: float = TIMEOUT_S) -> None:
        parsed = urlparse(base)
        self.conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=timeout)
        self.headers = headers

    def call(
        self, method: str, path: str, body: bytes | None = None, *, drain: bool = False
    ) -> tuple[int, bytes, int]:
        """(status, body or b"" when drained, bytes read)."""
        headers = dict(self.headers)
        if body is not None:
            headers["Content-Type"] = "application/json"
        else:
            headers.pop("X-CSRFToken", None)
        try:
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
            if not drain:
                payload = response.read()
                return response.status, payload, len(payload)
            size = 0
            while chunk := response.read(1 << 16):
                size += len(chunk)
            return response.status, b"", size
        except BaseException:
            self.conn.close()
            raise


def sleep_until(moment: float) -> None:
    delay = moment - time.perf_counter()
    if delay > 0:
        time.sleep(delay)


def error_kind(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timeout"
    return type(exc).__name__


class ReaderUser:
    """A radiologist grading two reads, one cell per save, at a steady pace."""

    def __init__(self, base: str, info: dict, cells: list[list[str]], index: int) -> None:
        self.base = base
        self.username = info["username"]
        self.reads: list[str] = info["reads"]
        self.cells = cells
        self.rng = random.Random(index)
        self.versions: dict[int, int] = {}
        self.next_cell = dict.fromkeys(self.reads, 0)
        # What the server said it saved: (read, muscle, side, sequence) -> value.
        self.acked: dict[tuple[str, str, str, str], str] = {}
        # Sent, never answered (exception): the server may or may not have saved it.
        self.unanswered: dict[tuple[str, str, str, str], str] = {}
        self.acked_saves = 0
        self.graded_mismatch = 0
        self.headers: dict[str, str] = {}

    def sign_in(self) -> None:
        session = sign_in(self.base, self.username, PASSWORD, timeout=60)
        self.headers = session_headers(session) | {"Accept": "application/json"}
        self.conn = Connection(self.base, self.headers)
        for read_id in self.reads:
            self.resync(read_id)

    def resync(self, read_id: str) -> None:
        status, payload, _ = self.conn.call("GET", READ_PATH.format(read_id=read_id))
        if status != 200:
            raise RuntimeError(f"{self.username}: GET read {read_id} answered {status}")
        self.versions[read_id] = json.loads(payload)["version"]

    def choose(self, read_id: str) -> tuple[tuple[str, str, str, str], str]:
        mine = [key for key in self.acked if key[0] == read_id]
        if mine and (self.rng.random() < 0.25 or self.next_cell[read_id] >= len(self.cells)):
            key = self.rng.choice(mine)  # a correction
            value = self.rng.choice([v for v in VALUES if v != self.acked[key]])
            return key, value
        muscle, side, sequence = self.cells[self.next_cell[read_id]]
        self.next_cell[read_id] += 1
        value = self.rng.choices(VALUES, weights=NEW_VALUE_WEIGHTS)[0]
        return (read_id, muscle, side, sequence), value

    def run(self, tally: Tally, start: float, end: float, pace: float, offset: float) -> None:
        planned = start + offset
        step = 0
        while planned < end:
            sleep_until(planned)
            read_id = self.reads[step % len(self.reads)]
            step += 1
            key, value = self.choose(read_id)
            _, muscle, side, sequence = key
            body = json.dumps(
                {
                    "version": self.versions[read_id],
                    "changes": [
                        {"muscle": muscle, "side": side, "sequence": sequence, "value": value}
                    ],
                }
            ).encode()
            try:
                status, payload, _ = self.conn.call("POST", SAVE_PATH.format(read_id=read_id), body)
            except Exception as exc:  # counted, shown, never hidden
                self.unanswered[key] = value
                tally.error(SAVE, error_kind(exc), str(exc))
                self._try_resync(tally, read_id)
                planned += pace
                continue
            if status == 200:
                seconds = time.perf_counter() - planned
                answer = json.loads(payload)
                self.versions[read_id] = answer["version"]
                self.acked[key] = value
                self.unanswered.pop(key, None)
                self.acked_saves += 1
                if answer.get("graded") != sum(1 for k in self.acked if k[0] == read_id):
                    self.graded_mismatch += 1
                tally.ok(SAVE, planned, seconds)
            else:
                tally.error(SAVE, f"HTTP {status}", payload.decode(errors="replace"))
                self._try_resync(tally, read_id)
            planned += pace

    def _try_resync(self, tally: Tally, read_id: int) -> None:
        try:
            self.resync(read_id)
        except Exception as exc:
            tally.error(SAVE, f"resync {error_kind(exc)}", str(exc))


class ClinicianUser:
    """A clinician with the cohort dashboard open: a visit (page, then its data) every `pace`
    s, a status poll half-way, a redraw when the results changed."""

    def __init__(self, base: str, username: str, slug: str, groups: list[str], index: int):
        self.base = base
        self.username = username
        self.slug = slug
        self.groups = groups
        self.rng = random.Random(1000 + index)
        self.computed_at: str | None = None
        self.query = ""

    def sign_in(self) -> None:
        session = sign_in(self.base, self.username, PASSWORD, timeout=60)
        self.conn = Connection(self.base, session_headers(session))

    def _get(self, tally: Tally, endpoint: str, path: str, planned: float) -> bytes | None:
        try:
            status, payload, _ = self.conn.call("GET", path)
        except Exception as exc:  # counted, shown, never hidden
            tally.error(endpoint, error_kind(exc), str(exc))
            return None
        if not 200 <= status < 300:
            tally.error(endpoint, f"HTTP {status}", payload[:300].decode(errors="replace"))
            return None
        tally.ok(endpoint, planned, time.perf_counter() - planned)
        return payload

    def _data(self, tally: Tally, planned: float) -> None:
        """data.json, asked by the page's script: its latency from when it is asked (counted
        in the measured window when the visit or poll that asks for it was planned there)."""
        began = time.perf_counter()
        path = f"/dashboards/{self.slug}/data.json" + (f"?{self.query}" if self.query else "")
        try:
            status, payload, _ = self.conn.call("GET", path)
        except Exception as exc:
            tally.error(DATA, error_kind(exc), str(exc))
            return
        if not 200 <= status < 300:
            tally.error(DATA, f"HTTP {status}", payload[:300].decode(errors="replace"))
            return
        tally.ok(DATA, planned, time.perf_counter() - began)
        try:
            self.computed_at = json.loads(payload).get("computed_at")
        except ValueError as exc:
            tally.error(DATA, "bad JSON", str(exc))

    def run(self, tally: Tally, start: float, end: float, pace: float, offset: float) -> None:
        planned = start + offset
        visit = 0
        while planned < end:
            sleep_until(planned)
            if visit % 2:  # the page's controls: another view of the same results
                self.query = urlencode(
                    {
                        "scope": self.rng.choice(("unified", "stir", "t1")),
                        "stat": self.rng.choice(("mean", "median")),
                        "group": self.rng.choice(self.groups),
                    }
                )
            else:
                self.query = ""
            visit += 1
            if self._get(tally, PAGE, f"/dashboards/{self.slug}/", planned) is not None:
                # The page's script asks for its data once the page is there.
                self._data(tally, planned)
            poll = planned + pace / 2
            planned += pace
            if poll >= end:
                break
            sleep_until(poll)
            path = f"/dashboards/{self.slug}/status.json" + (f"?{self.query}" if self.query else "")
            payload = self._get(tally, STATUS, path, poll)
            if payload is not None:
                try:
                    computed_at = json.loads(payload).get("computed_at")
                except ValueError as exc:
                    tally.error(STATUS, "bad JSON", str(exc))
                    continue
                if computed_at and computed_at != self.computed_at:
                    self._data(tally, poll)  # the page redraws


class StatisticianUser:
    """A statistician's script pulling exports with a token, one every `pace` s."""

    def __init__(self, base: str, info: dict, slug: str) -> None:
        self.username = info["username"]
        self.slug = slug
        self.conn = Connection(
            base, {"Authorization": f"Token {info['token']}"}, timeout=EXPORT_TIMEOUT_S
        )
        self.sizes: dict[str, int] = {}

    def run(self, tally: Tally, start: float, end: float, pace: float, offset: float) -> None:
        planned = start + offset
        n = 0
        while planned < end:
            sleep_until(planned)
            endpoint, what = (
                (EXPORT_GRADES, "grades") if n % 3 == 2 else (EXPORT_SCORES, "group-scores")
            )
            n += 1
            path = f"/api/v1/cohorts/{self.slug}/export/{what}/"
            try:
                status, _, size = self.conn.call("GET", path, drain=True)
            except Exception as exc:  # counted, shown, never hidden
                tally.error(endpoint, error_kind(exc), str(exc))
            else:
                if status == 200 and size:
                    tally.ok(endpoint, planned, time.perf_counter() - planned)
                    self.sizes[what] = size
                else:
                    tally.error(endpoint, f"HTTP {status}", f"{size} bytes")
            planned += pace


# -- checks after the load -----------------------------------------------------------------


def analytics_state(db_url: str, cohort_id: int) -> tuple[bool, bool, object]:
    with psycopg.connect(db_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT stale, recomputing, last_completed_at FROM analytics_cohortanalyticsstate"
            " WHERE cohort_id = %s",
            (cohort_id,),
        ).fetchone()
    return (True, False, None) if row is None else row


def database_grades(db_url: str, read_ids: list[str]) -> dict[tuple[str, str, str, str], str]:
    """The stored grades of the reads (by their tokens, as the readers' URLs name them)."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT r.token, m.slug, g.side, g.sequence, g.value FROM scoring_grade g"
            " JOIN scoring_muscle m ON m.id = g.muscle_id"
            " JOIN scoring_read r ON r.id = g.read_id WHERE r.token = ANY(%s)",
            (read_ids,),
        ).fetchall()
    return {(r, m, side, seq): value for r, m, side, seq, value in rows}


def grade_audit_rows(db_url: str) -> int:
    with psycopg.connect(db_url, autocommit=True) as conn:
        return conn.execute(
            "SELECT count(*) FROM cohorts_auditevent WHERE action = 'grade.set'"
        ).fetchone()[0]


@dataclass
class Comparison:
    cells: int = 0
    missing: int = 0
    different: int = 0
    extra: int = 0
    extra_unanswered: int = 0  # extra or different, but the value of a save never answered
    examples: list[str] = field(default_factory=list)

    @property
    def lost(self) -> int:
        return self.missing + self.different + self.extra


def compare(readers: list[ReaderUser], stored: dict[tuple[str, str, str, str], str]) -> Comparison:
    acked: dict[tuple[str, str, str, str], str] = {}
    unanswered: dict[tuple[str, str, str, str], str] = {}
    for reader in readers:
        acked |= reader.acked
        unanswered |= reader.unanswered
    out = Comparison(cells=len(acked))
    for key, value in acked.items():
        if key not in stored:
            out.missing += 1
            out.examples.append(f"missing {key} = {value}")
        elif stored[key] != value:
            out.different += 1
            if unanswered.get(key) == stored[key]:
                out.extra_unanswered += 1
            out.examples.append(f"{key}: told {value}, database {stored[key]}")
    for key, value in stored.items():
        if key not in acked:
            out.extra += 1
            if unanswered.get(key) == value:
                out.extra_unanswered += 1
            out.examples.append(f"extra {key} = {value}")
    return out


TASK_DONE = re.compile(r"Task analytics\.tasks\.(\w+)\[[^\]]+\] succeeded in ([0-9.]+)s: '?(\w*)")
TASK_RETRY = re.compile(r"Task analytics\.tasks\.(\w+)\[[^\]]+\] retry")


def worker_tasks(stack: Stack, workers: int, seconds: float) -> str:
    """What the Celery workers did, from their logs: tasks by outcome, retries, busy time."""
    outcomes: dict[str, dict[str, int]] = {}
    retries: dict[str, int] = {}
    busy = 0.0
    for n in range(workers):
        text = stack.log(f"celery-{n + 1}")
        for task, runtime, outcome in TASK_DONE.findall(text):
            per = outcomes.setdefault(task, {})
            per[outcome or "?"] = per.get(outcome or "?", 0) + 1
            busy += float(runtime)
        for task in TASK_RETRY.findall(text):
            retries[task] = retries.get(task, 0) + 1
    parts = [
        f"{task}: {sum(per.values())} ({', '.join(f'{k} {v}' for k, v in sorted(per.items()))})"
        for task, per in sorted(outcomes.items())
    ]
    parts += [
        f"{task} retried {n} times (the cohort busy elsewhere)" for task, n in retries.items()
    ]
    share = busy / (seconds * workers) * 100 if seconds else 0.0
    return f"tasks run: {'; '.join(parts) or 'none'}; the workers busy {busy:.1f} s ({share:.0f} %)"


# -- the run -------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds of load before")
    parser.add_argument("--patients", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--readers", type=int, default=30)
    parser.add_argument("--reads-each", type=int, default=2)
    parser.add_argument("--clinicians", type=int, default=15)
    parser.add_argument("--statisticians", type=int, default=5)
    parser.add_argument("--pace", type=float, default=1.0, help="s between a reader's saves")
    parser.add_argument(
        "--dashboard-pace", type=float, default=6.0, help="s between a clinician's visits"
    )
    parser.add_argument(
        "--export-pace", type=float, default=6.0, help="s between a statistician's exports"
    )
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers")
    parser.add_argument("--celery-workers", type=int, default=2, help="solo-pool processes")
    return parser.parse_args()


def guarded(
    user: ReaderUser | ClinicianUser | StatisticianUser, tally: Tally, *args: float
) -> None:
    """A user's loop; a bug on the client side is shown and counted, never silent."""
    try:
        user.run(tally, *args)
    except Exception as exc:
        endpoint = {ReaderUser: SAVE, ClinicianUser: PAGE}.get(type(user), EXPORT_SCORES)
        tally.error(endpoint, f"client stopped: {type(exc).__name__}", str(exc))
        print(f"{user.username} stopped: {exc!r}", file=sys.stderr, flush=True)


def run_load(
    args: argparse.Namespace, base: str, data: dict
) -> tuple[Tally, list[ReaderUser], list[StatisticianUser], float]:
    readers = [ReaderUser(base, info, data["cells"], i) for i, info in enumerate(data["readers"])]
    clinicians = [
        ClinicianUser(base, name, data["slug"], data["groups"], i)
        for i, name in enumerate(data["clinicians"])
    ]
    statisticians = [StatisticianUser(base, info, data["slug"]) for info in data["statisticians"]]
    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=args.workers) as pool:  # password hashing: one a worker
        list(pool.map(lambda user: user.sign_in(), [*readers, *clinicians]))
    signed_in = time.perf_counter() - began
    print(
        f"{len(readers) + len(clinicians)} users signed in through the login form in "
        f"{signed_in:.1f} s; {len(statisticians)} statisticians use their tokens",
        flush=True,
    )
    tally = Tally()
    start = time.perf_counter() + 0.5
    tally.measure_from = start + args.warmup
    tally.measure_to = end = tally.measure_from + args.duration
    threads = []
    # Each kind's users spread evenly over its period, so the load is steady from the start.
    for group, pace in (
        (readers, args.pace),
        (clinicians, args.dashboard_pace),
        (statisticians, args.export_pace),
    ):
        for i, user in enumerate(group):
            offset = pace * i / len(group)
            threads.append(
                threading.Thread(
                    target=guarded, args=(user, tally, start, end, pace, offset), daemon=True
                )
            )
    print(
        f"load: {len(readers)} readers (a save every {args.pace:g} s), {len(clinicians)} "
        f"clinicians (a visit every {args.dashboard_pace:g} s), {len(statisticians)} "
        f"statisticians (an export every {args.export_pace:g} s) for {args.warmup:g} s warm-up "
        f"+ {args.duration:g} s measured...",
        flush=True,
    )
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return tally, readers, statisticians, time.perf_counter() - start


def line(label: str, user: str, n: int, errors: int, rps: float, ms: list[float]) -> str:
    p50, p95, p99 = (percentile(ms, q) for q in (50, 95, 99))
    worst = max(ms) if ms else float("nan")
    return (
        f"  {label:<38} {user:<12} {n:>6} {errors:>6} {rps:>7.1f} {p50:>8.1f} {p95:>8.1f}"
        f" {p99:>8.1f} {worst:>8.1f}"
    )


@dataclass
class After:
    """What the database and the workers say once the load is over."""

    caught_up: float | None  # s from the load's end to fresh results; None: not in 300 s
    tasks: str
    tracebacks: dict[str, int]
    read_ids: list[str]
    stored: dict[tuple[str, str, str, str], str]
    compared: Comparison
    audit_rows: int
    acked_saves: int
    graded_mismatch: int


def check_after(
    stack: Stack, args: argparse.Namespace, data: dict, readers: list[ReaderUser], ran: float
) -> After:
    load_ended = time.perf_counter()
    stack.check_alive()
    caught_up = None
    while time.perf_counter() < load_ended + 300:
        stale, recomputing, _ = analytics_state(stack.env["DATABASE_URL"], data["cohort_id"])
        if not stale and not recomputing:
            caught_up = time.perf_counter() - load_ended
            break
        stack.check_alive()
        time.sleep(0.1)
    read_ids = [read_id for reader in readers for read_id in reader.reads]
    stored = database_grades(stack.env["DATABASE_URL"], read_ids)
    return After(
        caught_up=caught_up,
        tasks=worker_tasks(stack, args.celery_workers, ran + (caught_up or 0.0)),
        tracebacks={name: stack.log(name).count("Traceback") for name, _ in stack.processes},
        read_ids=read_ids,
        stored=stored,
        compared=compare(readers, stored),
        audit_rows=grade_audit_rows(stack.env["DATABASE_URL"]),
        acked_saves=sum(reader.acked_saves for reader in readers),
        graded_mismatch=sum(reader.graded_mismatch for reader in readers),
    )


def verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def report(
    args: argparse.Namespace,
    tally: Tally,
    after: After,
    statisticians: list[StatisticianUser],
    machine: tuple[float, float],
    ran: float,
) -> str:
    """Print the figures; returns the RESULT line."""
    window = args.duration
    print()
    print(
        f"  {'endpoint':<38} {'user':<12} {'n':>6} {'errors':>6} {'req/s':>7} "
        f"{'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}"
    )
    p95: dict[str, float] = {}
    for endpoint, user in ENDPOINTS.items():
        ms = [s * 1000 for s in tally.latencies.get(endpoint, [])]
        errors = sum(tally.errors.get(endpoint, {}).values())
        p95[endpoint] = percentile(ms, 95)
        print(line(endpoint, user, len(ms), errors, len(ms) / window, ms))
    export_ms = [
        s * 1000 for e in (EXPORT_SCORES, EXPORT_GRADES) for s in tally.latencies.get(e, [])
    ]
    print(
        f"  (n, req/s, latency: requests planned in the {window:g} s measured, latency from the "
        f"planned time; errors: the whole {ran:.0f} s of load)"
    )
    errors_by_user = dict.fromkeys(USER_KINDS, 0)
    calls_by_user = dict.fromkeys(USER_KINDS, 0)
    for endpoint, per in tally.errors.items():
        errors_by_user[ENDPOINTS[endpoint]] += sum(per.values())
    for endpoint, n in tally.calls.items():
        calls_by_user[ENDPOINTS[endpoint]] += n
    total_errors = sum(errors_by_user.values())
    print(
        "errors by user kind: "
        + ", ".join(f"{k} {errors_by_user[k]} of {calls_by_user[k]}" for k in USER_KINDS)
    )
    for endpoint, per in tally.errors.items():
        print(f"  {endpoint}: {per}")
    for sample in tally.error_samples:
        print(f"    e.g. {sample}")
    sizes: dict[str, int] = {}
    for statistician in statisticians:
        sizes |= statistician.sizes
    if sizes:
        print(
            "export sizes: "
            + ", ".join(f"{what} {size / 1e6:.2f} MB" for what, size in sorted(sizes.items()))
        )
    busy, total = machine
    if total:
        print(f"machine during the load: {busy / total * 100:.0f} % of {os.cpu_count()} CPUs busy")
    c = after.compared
    unanswered = (
        f" ({c.extra_unanswered} of those the value of a save never answered)"
        if c.extra_unanswered
        else ""
    )
    print(
        f"grades: {after.acked_saves} saves answered 200 over the whole load ({c.cells} cells "
        f"of {len(after.read_ids)} reads); the database holds {len(after.stored)} grades of "
        f"those reads: {c.missing} missing, {c.different} with another value, {c.extra} "
        f"extra{unanswered}"
    )
    for example in c.examples[:10]:
        print(f"    {example}")
    print(
        f"  {after.audit_rows} grade.set audit rows (one per answered save: "
        f"{'yes' if after.audit_rows == after.acked_saves else 'NO'}); 'graded' in a save's "
        f"answer differed from the client's count {after.graded_mismatch} times"
    )
    if after.caught_up is None:
        print("Celery workers: the cohort was still stale or recomputing 300 s after the load")
    else:
        print(
            f"Celery workers caught up: the cohort's results fresh {after.caught_up:.1f} s "
            "after the load ended"
        )
    print(f"  {after.tasks}")
    print(
        "  tracebacks in the server logs: "
        + ", ".join(f"{name} {n}" for name, n in after.tracebacks.items())
    )
    save_p95 = p95[SAVE]
    export_p95 = percentile(export_ms, 95)
    ratio = TARGET_SAVE_P95_MS / save_p95 if save_p95 > 0 else 0.0  # NaN: no save: 0
    print(
        f"target zero errors: {total_errors} errors: {verdict(total_errors == 0)}; "
        f"target p95 grade save <= {TARGET_SAVE_P95_MS:.0f} ms: {save_p95:.1f} ms: "
        f"{verdict(save_p95 <= TARGET_SAVE_P95_MS)}; target no grade lost: {c.lost} lost: "
        f"{verdict(c.lost == 0)}"
    )
    return (
        f"RESULT name=load ratio={ratio:.3f} errors={total_errors} save_p95_ms={save_p95:.1f} "
        f"lost={c.lost} saves={len(tally.latencies.get(SAVE, []))} "
        f"dashboard_p95_ms={p95[DATA]:.1f} export_p95_ms={export_p95:.1f}"
    )


def main() -> int:
    args = parse_args()
    began = time.perf_counter()
    with Stack("load") as stack:
        redis_url = bench_redis(stack, db=10)
        if redis_url is None:
            print("needs Redis (BENCH_REDIS_URL, the machine's, or redis-server)", file=sys.stderr)
            return 2
        tag = secrets.token_hex(4)
        stack.env |= {
            "CELERY_BROKER_URL": redis_url,
            # Nobody reads the tasks' results: keep them in the worker, not in Redis.
            "CELERY_RESULT_BACKEND": "cache+memory://",
            "CELERY_QUEUE": f"bench-load-{tag}",
            "ANALYTICS_QUEUE": f"bench-load-{tag}-analytics",
            # The cache in Redis, as docker-compose has it (shared by the gunicorn workers).
            "CACHE_URL": redis_url,
        }
        base, data = start_stack(stack, args)
        print(
            f"stack: gunicorn {args.workers} sync workers on {base}, Postgres "
            f"{urlparse(stack.env['DATABASE_URL']).path[1:]}, {args.celery_workers} Celery "
            f"workers (solo) on {redis_url} queues {stack.env['ANALYTICS_QUEUE']} (the first) and "
            f"{stack.env['CELERY_QUEUE']}; {os.cpu_count()} CPUs, load average "
            f"{os.getloadavg()[0]:.1f}",
            flush=True,
        )
        busy_before = machine_busy()
        tally, readers, statisticians, ran = run_load(args, base, data)
        busy_after = machine_busy()
        machine = (busy_after[0] - busy_before[0], busy_after[1] - busy_before[1])
        after = check_after(stack, args, data, readers, ran)
        result = report(args, tally, after, statisticians, machine, ran)
        print(f"the run took {time.perf_counter() - began:.0f} s in all, setup included")
        print(result, flush=True)
        return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child-setup":
        print(json.dumps(child_setup(json.loads(sys.argv[2]))))
        sys.exit(0)
    sys.exit(main())
