"""Grading save throughput: simulated readers saving grades the way the reading page does.

    python bench/grading.py [--readers 16] [--duration 20] [--pace 1] [--workers 4] [--eager]

The bench starts what it needs and removes it at the end: a throwaway Postgres database
(bench/support/postgres.py: BENCH_POSTGRES_URL, the machine's server, or the embedded one),
migrated, with 16 radiologists and their reads of the whole-body protocol (240 cells each); a
Celery worker on Redis (bench/support/broker.py: BENCH_REDIS_URL, default db 13 of the
machine's, or a private redis-server; its own queue; what the run adds there is deleted at the
end) so that a save only queues the results recomputation, the product's design (--eager, or
no Redis at all, runs it inside the request instead and says so); gunicorn with sync workers
on a free loopback port, as docker-compose runs it.

Readers sign in through the login form (CSRF and all), then each saves one cell per request,
as the page's autosave does after a keypress: POST /reading/api/reads/<id>/grades/ with
{version, changes}. Measured:
- throughput, back to back: rounds of saves and of a trivial authenticated JSON endpoint
  (GET /reading/api/preferences/: session, user, role, one row) in turn, so both see the same
  machine; the recomputation the saves queued is waited for before the trivial calls;
- latency at the readers' pace: each reader saves a cell every --pace seconds on a fixed
  schedule (latency counted from the planned time). Back to back, 16 readers queue for 4
  workers and the p95 is only concurrency / throughput; the target is about what a reader
  feels, so RESULT's p95_ms is this one (with --pace 0 it is the back-to-back one).
- CPU per request of gunicorn, Postgres, the Celery worker and the simulated readers, from
  /proc, to show where the time goes.

Targets (issue 4): p95 save latency <= 50 ms; save throughput >= 50 % of the trivial one.
The last line is `RESULT name=grading ratio=R p95_ms=X save_rps=Y trivial_rps=Z`, ratio =
save throughput / trivial throughput.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.support.env import in_project_python, setup_django

in_project_python()

import argparse  # noqa: E402
import http.client  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import secrets  # noqa: E402
import statistics  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402

import psycopg  # noqa: E402

from bench.support.broker import bench_redis  # noqa: E402
from bench.support.measure import CLOCK_TICKS, machine_busy, percentile  # noqa: E402
from bench.support.stack import Stack  # noqa: E402
from bench.support.web import session_headers, sign_in  # noqa: E402

PASSWORD = "bench-" + secrets.token_hex(8)
SAVE_PATH = "/reading/api/reads/{read_id}/grades/"
TRIVIAL_PATH = "/reading/api/preferences/"
# Each pass over a read's cells gives every cell a new value, so every save writes.
VALUES = ["1", "2", "NA", "0"]
TARGET_P95_MS = 50.0
TARGET_RATIO = 0.5


# -- the server side: the data ----------------------------------------------------------------


def setup_data(readers: int, reads_each: int, password: str) -> dict:
    """Runs in a child process with the bench's environment: users, a cohort, studies, reads."""
    setup_django()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from bench.support.reading import protocol_cells, reads_assigned
    from cohorts.roles import RADIOLOGIST, ensure_roles
    from cohorts.services import cohort_create
    from scoring.models import ScoringProtocol

    ensure_roles()
    protocol = ScoringProtocol.objects.get(slug="whole-body-iim")
    cohort = cohort_create(
        slug="bench-grading", title="Grading bench (synthetic)", actor=None, is_synthetic=True
    )
    group = Group.objects.get(name=RADIOLOGIST)
    out = {"readers": [], "cells": protocol_cells(protocol)}
    for r in range(readers):
        user = get_user_model().objects.create_user(
            username=f"bench-reader-{r:02d}", password=password
        )
        user.groups.add(group)
        read_ids = reads_assigned(
            cohort=cohort,
            protocol=protocol,
            reader=user,
            pseudonyms=[f"BENCH-{r:02d}-{k:02d}" for k in range(reads_each)],
            description="Bench study",
            sex="F",
            age_at_mri=55,
        )
        out["readers"].append({"username": user.username, "reads": read_ids})
    return out


# -- the client side: readers ---------------------------------------------------------------


@dataclass
class Reader:
    username: str
    reads: list[str]
    cookie: str = ""
    csrf: str = ""
    versions: dict[int, int] = field(default_factory=dict)
    step: int = 0


def log_in(base: str, reader: Reader, password: str) -> None:
    """Through the login form, with its CSRF token, as a browser does."""
    session = sign_in(base, reader.username, password)
    headers = session_headers(session)
    reader.cookie, reader.csrf = headers["Cookie"], headers["X-CSRFToken"]
    for read_id in reader.reads:
        state = session.get(f"{base}/reading/api/reads/{read_id}/", timeout=30)
        state.raise_for_status()
        reader.versions[read_id] = state.json()["version"]


@dataclass
class Sample:
    latencies: list[float] = field(default_factory=list)  # seconds, successful requests
    errors: dict[str, int] = field(default_factory=dict)
    elapsed: float = 0.0

    def add_error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1


class Client:
    """One reader's connection; http.client keeps the client's own cost small."""

    def __init__(self, host: str, port: int, reader: Reader, cells: list[list[str]]) -> None:
        self.conn = http.client.HTTPConnection(host, port, timeout=30)
        self.reader = reader
        self.cells = cells

    def _call(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        headers = {"Cookie": self.reader.cookie, "Accept": "application/json"}
        if body is not None:
            headers |= {"Content-Type": "application/json", "X-CSRFToken": self.reader.csrf}
        try:
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
            return response.status, response.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()
            raise

    def save(self) -> tuple[int, bytes]:
        """The next cell of the reader's reads, with a value it does not have yet."""
        reader = self.reader
        read_id = reader.reads[reader.step % len(reader.reads)]
        n = reader.step // len(reader.reads)
        muscle, side, sequence = self.cells[n % len(self.cells)]
        value = VALUES[(n // len(self.cells)) % len(VALUES)]
        body = json.dumps(
            {
                "version": reader.versions[read_id],
                "changes": [{"muscle": muscle, "side": side, "sequence": sequence, "value": value}],
            }
        ).encode()
        status, payload = self._call("POST", SAVE_PATH.format(read_id=read_id), body)
        if status == 200:
            reader.versions[read_id] = json.loads(payload)["version"]
            reader.step += 1
        elif status == 409:  # cannot happen with one reader per read; resynchronise anyway
            _, state = self._call("GET", f"/reading/api/reads/{read_id}/")
            reader.versions[read_id] = json.loads(state)["version"]
        return status, payload

    def trivial(self) -> tuple[int, bytes]:
        return self._call("GET", TRIVIAL_PATH)


def hammer(clients: list[Client], kind: str, seconds: float, pace: float = 0.0) -> Sample:
    """Every client calls `kind` for `seconds`: back to back (pace 0: the stack's limit), or
    one call every `pace` seconds each, on a fixed schedule, as readers at work do. Latency is
    counted from the scheduled time, so a call that had to wait for the previous one to
    return counts its wait too."""
    sample = Sample()
    lock = threading.Lock()
    start_gate = threading.Barrier(len(clients) + 1)
    began = deadline = 0.0

    def work(index: int, client: Client) -> None:
        call = client.save if kind == "save" else client.trivial
        mine: list[float] = []
        errors: dict[str, int] = {}
        start_gate.wait()
        planned = began + (pace * index / len(clients))  # spread the readers' keystrokes
        while True:
            now = time.perf_counter()
            if pace:
                if planned > now:
                    time.sleep(planned - now)
                t0 = planned
                planned += pace
            else:
                t0 = now
            if t0 >= deadline:
                break
            try:
                status, _ = call()
            except Exception as exc:  # counted, shown, never hidden
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                continue
            t1 = time.perf_counter()
            if status != 200:
                errors[f"HTTP {status}"] = errors.get(f"HTTP {status}", 0) + 1
            elif t1 <= deadline:
                mine.append(t1 - t0)
        with lock:
            sample.latencies.extend(mine)
            for what, n in errors.items():
                sample.errors[what] = sample.errors.get(what, 0) + n

    threads = [
        threading.Thread(target=work, args=(i, c), daemon=True) for i, c in enumerate(clients)
    ]
    for thread in threads:
        thread.start()
    began = time.perf_counter()
    deadline = began + seconds
    start_gate.wait()
    for thread in threads:
        thread.join()
    sample.elapsed = seconds
    return sample


def merged(samples: list[Sample]) -> Sample:
    out = Sample()
    for sample in samples:
        out.latencies.extend(sample.latencies)
        out.elapsed += sample.elapsed
        for what, n in sample.errors.items():
            out.errors[what] = out.errors.get(what, 0) + n
    return out


def describe(name: str, sample: Sample) -> tuple[float, float]:
    n = len(sample.latencies)
    rps = n / sample.elapsed if sample.elapsed else 0.0
    ms = [x * 1000 for x in sample.latencies]
    p50, p95, p99 = (percentile(ms, q) for q in (50, 95, 99))
    errors = sum(sample.errors.values())
    print(
        f"  {name:<38} {n:>7} {errors:>6} {rps:>8.1f} {p50:>8.1f} {p95:>8.1f} {p99:>8.1f}"
        f" {statistics.fmean(ms) if ms else float('nan'):>8.1f}"
    )
    if sample.errors:
        print(f"    errors: {sample.errors}")
    return rps, p95


# -- where the CPU goes (Linux /proc) ---------------------------------------------------------


def _proc_stats() -> dict[int, tuple[int, str, int]]:
    """pid -> (parent pid, command line, CPU ticks) of every process we may read."""
    out = {}
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else []:
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        out[int(entry.name)] = (int(fields[1]), cmdline, int(fields[11]) + int(fields[12]))
    return out


def cpu_by_part(stack: Stack, db_name: str) -> dict[str, float]:
    """CPU seconds used so far by the gunicorn workers, the Celery worker, our database's
    Postgres backends and this process (the simulated readers)."""
    procs = _proc_stats()
    started = {name: process.pid for name, process in stack.processes}
    parts = {"gunicorn": 0.0, "postgres": 0.0, "celery": 0.0}
    for pid, (ppid, cmdline, ticks) in procs.items():
        if ppid == started.get("gunicorn") or pid == started.get("gunicorn"):
            parts["gunicorn"] += ticks / CLOCK_TICKS
        elif pid == started.get("worker") or ppid == started.get("worker"):
            parts["celery"] += ticks / CLOCK_TICKS
        elif cmdline.startswith("postgres:") and f" {db_name} " in cmdline:
            parts["postgres"] += ticks / CLOCK_TICKS
    times = os.times()
    parts["readers"] = times.user + times.system
    return parts


def cpu_spent(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    # A Postgres backend that ended between the two looks negative: count it as nothing.
    return {k: max(0.0, after[k] - before.get(k, 0.0)) for k in after}


# -- the run --------------------------------------------------------------------------------


def recompute_idle(db_url: str) -> bool:
    with psycopg.connect(db_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT bool_or(stale) OR bool_or(recomputing) FROM analytics_cohortanalyticsstate"
        ).fetchone()
    return not row[0]


def count_rows(db_url: str) -> tuple[int, int]:
    with psycopg.connect(db_url, autocommit=True) as conn:
        grades = conn.execute("SELECT count(*) FROM scoring_grade").fetchone()[0]
        events = conn.execute(
            "SELECT count(*) FROM cohorts_auditevent WHERE action = 'grade.set'"
        ).fetchone()[0]
    return grades, events


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=16)
    parser.add_argument("--reads-each", type=int, default=2)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per endpoint")
    parser.add_argument("--rounds", type=int, default=4, help="save/trivial alternations")
    parser.add_argument(
        "--pace",
        type=float,
        default=1.0,
        help="seconds between one reader's saves in the latency phase (0: use back to back)",
    )
    parser.add_argument("--warmup", type=float, default=4.0)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers")
    parser.add_argument(
        "--eager",
        action="store_true",
        help="no broker: the recomputation runs inside each save request",
    )
    return parser.parse_args()


def start_stack(
    stack: Stack, args: argparse.Namespace, db_name: str, eager: bool
) -> tuple[str, dict]:
    """Database, migrations, readers and reads, Celery worker, gunicorn: its base URL and data."""
    print(f"database {db_name}: migrating, creating {args.readers} readers...", flush=True)
    stack.env["DATABASE_URL"] = stack.migrated_database(db_name)
    setup = [sys.executable, __file__, "--setup-data"]
    data = stack.run_json([*setup, json.dumps([args.readers, args.reads_each, PASSWORD])], "setup")
    if not eager:
        stack.start_celery_worker("worker", queues=stack.env["CELERY_QUEUE"])
    return stack.start_gunicorn(workers=args.workers), data


@dataclass
class Measured:
    saves: Sample
    trivial: Sample
    paced: Sample | None
    save_cpu: dict[str, float]
    trivial_cpu: dict[str, float]
    machine: tuple[float, float]  # busy and total CPU ticks of the machine during the rounds
    drains: list[float]


def measure(
    clients: list[Client], stack: Stack, args: argparse.Namespace, db_name: str, eager: bool
) -> Measured:
    def wait_idle() -> float:
        began = time.monotonic()
        if not eager:
            db_url = stack.env["DATABASE_URL"]
            stack.wait_for(lambda: recompute_idle(db_url), "recomputing", 300)
        return time.monotonic() - began

    hammer(clients, "save", args.warmup)
    hammer(clients, "trivial", args.warmup / 2)
    wait_idle()
    # Throughput: rounds of saves and trivial calls in turn, so a change in what else the
    # machine does touches both alike. The recomputation the saves queued is waited for before
    # the trivial calls: it is the saves' cost, not theirs.
    save_rounds, trivial_rounds, drains = [], [], []
    save_cpu: dict[str, float] = {}
    trivial_cpu: dict[str, float] = {}
    busy_before = machine_busy()
    print("measuring: saves and trivial calls back to back, in turn...", flush=True)
    for _ in range(args.rounds):
        before = cpu_by_part(stack, db_name)
        save_rounds.append(hammer(clients, "save", args.duration / args.rounds))
        drains.append(wait_idle())
        middle = cpu_by_part(stack, db_name)
        trivial_rounds.append(hammer(clients, "trivial", args.duration / args.rounds))
        after = cpu_by_part(stack, db_name)
        for total, start, end in ((save_cpu, before, middle), (trivial_cpu, middle, after)):
            for part, used in cpu_spent(start, end).items():
                total[part] = total.get(part, 0.0) + used
    busy_after = machine_busy()
    paced = None
    if args.pace:
        # Latency as readers feel it: each one saves a cell every --pace seconds.
        print(f"measuring: saves at the readers' pace (--pace {args.pace:g})...", flush=True)
        paced = hammer(clients, "save", args.duration, pace=args.pace)
        wait_idle()
    return Measured(
        saves=merged(save_rounds),
        trivial=merged(trivial_rounds),
        paced=paced,
        save_cpu=save_cpu,
        trivial_cpu=trivial_cpu,
        machine=(busy_after[0] - busy_before[0], busy_after[1] - busy_before[1]),
        drains=drains,
    )


def report(m: Measured, db_url: str, args: argparse.Namespace, n_readers: int) -> None:
    head = f"  {'endpoint':<38} {'answered':>7} {'errors':>6} {'req/s':>8}"
    print(head + "".join(f" {c:>8}" for c in ("p50 ms", "p95 ms", "p99 ms", "mean ms")))
    save_rps, save_p95 = describe("POST .../grades/ (back to back)", m.saves)
    trivial_rps, _ = describe("GET /reading/api/preferences/ (b2b)", m.trivial)
    if m.paced is not None:
        _, save_p95 = describe(f"POST .../grades/ (1 per {args.pace:g} s each)", m.paced)
        print(
            f"  p95 back to back is {n_readers} readers queueing for {args.workers} workers "
            f"(Little's law: {n_readers / save_rps * 1000 if save_rps else 0:.0f} ms at that "
            "rate); the p95 target is checked at the readers' pace"
        )
    print("CPU ms per answered request (this run's processes, from /proc):")
    for name, sample, used in (
        ("save", m.saves, m.save_cpu),
        ("trivial", m.trivial, m.trivial_cpu),
    ):
        n = len(sample.latencies) or 1
        parts = "".join(f" {part} {seconds / n * 1000:6.2f}" for part, seconds in used.items())
        print(f"  {name:<8}{parts}  = {sum(used.values()) / n * 1000:6.2f}")
    busy, total = m.machine
    if total:
        ours = sum(m.save_cpu.values()) + sum(m.trivial_cpu.values())
        others = max(0.0, busy / CLOCK_TICKS - ours) / (busy / CLOCK_TICKS or 1)
        print(
            f"machine during the rounds: {busy / total * 100:.0f} % busy, {others * 100:.0f} % "
            "of that by processes other than this bench's"
        )
    grades, events = count_rows(db_url)
    caught_up = f"; the worker caught up {max(m.drains):.1f} s after a round" if m.drains else ""
    print(f"database: {grades} grades, {events} grade.set audit rows{caught_up}")
    ratio = save_rps / trivial_rps if trivial_rps else 0.0
    print(
        f"ratio save/trivial throughput {ratio:.2f} (target >= {TARGET_RATIO:.2f}: "
        f"{'met' if ratio >= TARGET_RATIO else 'MISSED'}); p95 save {save_p95:.1f} ms "
        f"(target <= {TARGET_P95_MS:.0f} ms: {'met' if save_p95 <= TARGET_P95_MS else 'MISSED'})"
    )
    print(
        f"RESULT name=grading ratio={ratio:.3f} p95_ms={save_p95:.1f} "
        f"save_rps={save_rps:.1f} trivial_rps={trivial_rps:.1f}"
    )


def main() -> int:
    args = parse_args()
    with Stack("grading") as stack:
        redis_url = None if args.eager else bench_redis(stack, db=13)
        eager = redis_url is None
        tag = secrets.token_hex(4)
        if not eager:
            stack.env |= {
                "CELERY_BROKER_URL": redis_url,
                # Nobody reads the tasks' results: keep them in the worker, not in Redis.
                "CELERY_RESULT_BACKEND": "cache+memory://",
                "CELERY_QUEUE": f"bench-grading-{tag}",
            }
        db_name = f"iim_bench_{tag}"
        base, data = start_stack(stack, args, db_name, eager)
        readers = [Reader(r["username"], r["reads"]) for r in data["readers"]]
        for reader in readers:
            log_in(base, reader, PASSWORD)
        clients = [
            Client("127.0.0.1", int(base.rsplit(":", 1)[1]), r, data["cells"]) for r in readers
        ]
        mode = (
            "EAGER: no broker, the recomputation runs inside each save request"
            if eager
            else f"Celery worker (solo) on {redis_url}: a save only queues the recomputation"
        )
        print(f"stack: gunicorn {args.workers} sync workers, Postgres {db_name}; {mode}")
        print(
            f"load: {len(clients)} readers x {args.reads_each} reads of {len(data['cells'])} "
            f"cells, one cell per save; {args.duration:g} s per endpoint in {args.rounds} rounds "
            f"after {args.warmup:g} s warm-up; {os.cpu_count()} CPUs for clients and server"
        )
        measured = measure(clients, stack, args, db_name, eager)
        report(measured, stack.env["DATABASE_URL"], args, len(clients))
        return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--setup-data":
        readers, reads_each, password = json.loads(sys.argv[2])
        print(json.dumps(setup_data(readers, reads_each, password)))
        sys.exit(0)
    sys.exit(main())
