"""Analytics recompute on a 10,000-patient cohort: full, bare pandas, one change, memory.

    python bench/recompute.py [--patients 10000] [--seed 7] [--changes 6] [--keep-db]

Builds a throwaway Postgres database (bench/support/postgres.py) with one synthetic cohort
(bench/support/synthetic_cohort.py: one submitted whole-body read per patient, 60 muscles x 2
sides x 2 sequences = 2.4 M grades) and measures, each in its own process:

(a) full: `cohort_analyses_recompute(force=True)` with no stored scores: grades read from
    Postgres, every read scored and stored (ReadScores), then the stateless analysis pass
    (the stored muscle scores read back, readers combined by `stats.combine_reads`, every
    analysis computed and stored), with its stages timed;
(b) bare: the same computation in pandas alone, the limit: the 2.4 M-row grade frame and the
    patients already in memory, `stats.grade_cube` once and `stats.score_cube` per scope
    (unified = the protocol's rule, STIR, T1) as `recompute._score_all_scopes` does, then
    `analyses.read_scores_from_matrices(...).patient_scores()` and
    `analyses.analyses_from_scores`; no database. Best of --bare-repeats; its results are
    checked against those (a) stored;
(c) one grade change -> fresh results: a submitted read amended through
    `scoring.services.read_amend` (one cell), timed from the save to the fresh default result
    being readable in the database, through two real Celery worker processes (solo pool each,
    as two `analytics` replicas) serving the analytics queue (ANALYTICS_QUEUE) on Redis, with
    the debounce of settings.ANALYTICS_DEBOUNCE_SECONDS. The engine keeps nothing in process
    memory, so every change is timed, the first ones included (a worker's first task pays
    its first-call costs too). The default queue, where the beyond-the-paper task goes
    (docker-compose's `worker` service), has no worker here: that task is not what a reader
    waits for. Beside it, as a diagnostic, the same changes recomputed in-process right after
    the commit (no broker, no debounce), with the recompute's stages timed. Beside each wall
    time, the CPU time spent on it (the workers', read from /proc, or the in-process one):
    the machine is shared, and what is not CPU is waiting. Each change raises one muscle's
    grade, and the stored patient total is checked to have moved by exactly 1;
(d) peak memory: the RSS high-water mark (getrusage ru_maxrss) of the process that ran (a),
    and of the two workers (VmHWM) after (c).

Targets (issue 19): full <= 3 x bare; one change -> fresh <= 5 s with two analytics workers;
peak <= 1.5 GB. The last line is
`RESULT name=recompute ratio=R full_s=X bare_s=Y change_to_fresh_s=Z peak_rss_mb=M` with
ratio = bare / full (larger is better), change_to_fresh_s the median through the workers and
peak_rss_mb the largest of (d). Everything started is stopped, and the database dropped.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.support.env import in_project_python, setup_django

in_project_python()

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import resource  # noqa: E402
import secrets  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Any  # noqa: E402

from bench.support.broker import bench_redis  # noqa: E402
from bench.support.measure import CLOCK_TICKS, memory_mb  # noqa: E402
from bench.support.stack import Stack, last_json  # noqa: E402

TARGET_RATIO = 1 / 3  # full <= 3 x bare
TARGET_CHANGE_S = 5.0
TARGET_PEAK_MB = 1536.0
ANALYTICS_WORKERS = 2
# The analyses whose stored results the bare computation must reproduce.
CHECKED_ANALYSES = (
    "descriptives",
    "group_profile",
    "subtype_comparison",
    "clinical_correlation",
    "patient_scores",
)


# -- children: each measurement runs in a process of its own, on the bench database ----------


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux


def _cpu_s(pids: list[int]) -> float:
    """CPU seconds (user + system) the processes `pids` have used so far."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLOCK_TICKS


def _clock_recompute_stages() -> dict[str, float]:
    """Wrap the recompute's steps with a clock (diagnostics only: the same functions); the
    seconds spent in each, summed over calls, land in the returned dict."""
    from analytics import analyses, recompute, stats

    stages: dict[str, float] = {}

    def timed(name, function):
        def wrapper(*args, **kwargs):
            began = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                stages[name] = stages.get(name, 0.0) + time.perf_counter() - began

        return wrapper

    recompute.cohort_read_scores_refresh = timed(
        "grades -> read scores stored", recompute.cohort_read_scores_refresh
    )
    recompute.patients_frame = timed("patients read", recompute.patients_frame)
    recompute.input_fingerprint = timed("input fingerprint", recompute.input_fingerprint)
    analyses.stored_read_scores = timed(
        "stored muscle scores read back", analyses.stored_read_scores
    )
    stats.combine_reads = timed("readers combined (combine_reads)", stats.combine_reads)
    analyses.analyses_from_scores = timed(
        "analyses computed (analyses_from_scores)", analyses.analyses_from_scores
    )
    recompute.analysis_result_store = timed("results stored", recompute.analysis_result_store)
    return stages


def child_setup(patients: int, seed: int) -> dict:
    from bench.support.synthetic_cohort import build_cohort

    began = time.perf_counter()
    cohort_id = build_cohort(
        os.environ["DATABASE_URL"], patients, seed, log=lambda line: print(line, file=sys.stderr)
    )
    return {"cohort_id": cohort_id, "setup_s": time.perf_counter() - began}


def child_full(cohort_id: int) -> dict:
    """(a) and (d): one full recompute in a fresh process, with its stages timed."""
    setup_django()
    from analytics import recompute
    from analytics.models import AnalysisResult, ReadScores

    ReadScores.objects.filter(read__study__patient__cohort_id=cohort_id).delete()
    AnalysisResult.objects.filter(cohort_id=cohort_id).delete()
    stages = _clock_recompute_stages()
    rss_before = memory_mb("VmRSS")
    began = time.perf_counter()
    cpu = time.process_time()
    outcome = recompute.cohort_analyses_recompute(cohort_id=cohort_id, force=True)
    full_s = time.perf_counter() - began
    cpu_s = time.process_time() - cpu
    stored = ReadScores.objects.filter(read__study__patient__cohort_id=cohort_id).count()
    stages["the rest (claim, state, queries)"] = full_s - sum(stages.values())
    return {
        "outcome": outcome,
        "full_s": full_s,
        "cpu_s": cpu_s,
        "stages": stages,
        "read_scores": stored,
        "rss_before_mb": rss_before,
        "peak_rss_mb": _peak_rss_mb(),
    }


def _differences(bare: Any, stored: Any, path: str = "") -> list[str]:
    """Where two JSON values differ (floats to a relative 1e-9)."""
    if isinstance(bare, dict) and isinstance(stored, dict):
        if bare.keys() != stored.keys():
            return [f"{path}: keys {sorted(bare.keys() ^ stored.keys())[:5]}"]
        return [d for key in bare for d in _differences(bare[key], stored[key], f"{path}.{key}")]
    if isinstance(bare, list) and isinstance(stored, list):
        if len(bare) != len(stored):
            return [f"{path}: {len(bare)} vs {len(stored)} items"]
        return [
            d
            for i, (b, s) in enumerate(zip(bare, stored, strict=True))
            for d in _differences(b, s, f"{path}[{i}]")
        ]
    numbers = isinstance(bare, int | float) and isinstance(stored, int | float)
    if numbers and math.isclose(bare, stored, rel_tol=1e-9, abs_tol=1e-12):
        return []
    if not numbers and bare == stored:
        return []
    return [f"{path}: {bare!r} vs {stored!r}"]


def _stored_results(cohort_id: int, key: str) -> dict[str, Any]:
    """The stored default results of (a), patient rows included, as JSON values."""
    from analytics.models import AnalysisResult, PatientScoreRow

    out = {}
    for result in AnalysisResult.objects.filter(
        cohort_id=cohort_id, parameters_key=key, analysis__in=CHECKED_ANALYSES
    ):
        out[result.analysis] = result.result
        if result.analysis == "patient_scores":
            rows: dict[str, list] = {}
            for scope, row in (
                PatientScoreRow.objects.filter(result=result)
                .order_by("pk")
                .values_list("scope", "row")
            ):
                rows.setdefault(scope, []).append(row)
            out[result.analysis] = rows
    return out


def child_bare(cohort_id: int, repeats: int) -> dict:
    """(b): grade_cube + score_cube per scope, readers combined, the same analyses; on frames
    in memory."""
    setup_django()
    from analytics import analyses, frames, recompute, stats
    from cohorts.models import Cohort
    from scoring.models import Read

    cohort = Cohort.objects.get(pk=cohort_id)
    read_ids = list(
        Read.objects.filter(study__patient__cohort=cohort, status=Read.Status.SUBMITTED)
        .exclude(kind=Read.Kind.REREAD)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    protocol = Read.objects.filter(pk=read_ids[0]).select_related("protocol").get().protocol
    # Loaded before the clock starts: the bare computation starts from frames in memory.
    grades = frames.grades_frame(read_ids=read_ids)
    layout = stats.atlas_layout(frames.atlas_frame(protocol))
    parameters = recompute.analysis_parameters()
    patients = analyses.filter_patients(frames.patients_frame(cohort), parameters)
    runs = []
    results: dict[str, Any] = {}
    for _ in range(repeats):
        began = time.perf_counter()
        cube = stats.grade_cube(grades, layout)
        per_scope = {}
        for scope, sequence in recompute.SCOPES.items():
            if sequence is not None and sequence not in protocol.sequences:
                continue
            per_scope[scope] = stats.score_cube(
                cube,
                combine=sequence or protocol.sequence_combine,
                sides=protocol.side_combine,
                scale_max=protocol.score_scale(scope).max,
            )
        scored = time.perf_counter()
        stored = analyses.read_scores_from_matrices(
            per_scope, layout, {scope: protocol.score_scale(scope) for scope in per_scope}
        )
        patient_scores = stored.patient_scores()
        combined = time.perf_counter()
        results = analyses.analyses_from_scores(patients, patient_scores, parameters)
        done = time.perf_counter()
        del cube, per_scope, patient_scores
        runs.append(
            {
                "bare_s": done - began,
                "score_s": scored - began,
                "combine_s": combined - scored,
                "analyses_s": done - combined,
            }
        )
    best = min(runs, key=lambda run: run["bare_s"])
    # The bare computation must be the same computation: its results are those (a) stored.
    stored = _stored_results(cohort_id, recompute.parameters_key(parameters))
    computed = json.loads(json.dumps({name: results[name] for name in stored}, default=str))
    differences = _differences(computed, stored)
    return {
        **best,
        "runs": [run["bare_s"] for run in runs],
        "grade_rows": len(grades),
        "checked": sorted(stored),
        "differences": len(differences),
        "first_differences": differences[:5],
        "peak_rss_mb": _peak_rss_mb(),
    }


@dataclass
class Change:
    read_id: int
    pseudonym: str
    muscle: str
    sequence: str
    before: float


def _plan_changes(cohort_id: int, n: int, offset: int) -> list[Change]:
    """Reads and cells where setting one sequence's grade of one side to 2 raises the total
    score by exactly 1."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT r.id, p.pseudonym, m.slug, rs.total
            FROM scoring_read r
            JOIN cohorts_imagingstudy st ON st.id = r.study_id
            JOIN cohorts_patient p ON p.id = st.patient_id
            JOIN analytics_readscores rs ON rs.read_id = r.id
            JOIN LATERAL (
                SELECT g.muscle_id FROM scoring_grade g WHERE g.read_id = r.id
                GROUP BY g.muscle_id HAVING bool_and(g.value = '0') AND count(*) = 4
                ORDER BY g.muscle_id LIMIT 1
            ) s ON true
            JOIN scoring_muscle m ON m.id = s.muscle_id
            WHERE p.cohort_id = %s AND r.status = 'submitted'
            ORDER BY r.id OFFSET %s LIMIT %s
            """,
            [cohort_id, offset, n],
        )
        rows = cursor.fetchall()
    # Every cell of the muscle is 0: one side's STIR (or T1) set to 2 makes that side's
    # unified grade 2 and the muscle score (mean of the sides) 1.
    return [
        Change(read_id, pseudonym, muscle, ("STIR", "T1")[i % 2], total)
        for i, (read_id, pseudonym, muscle, total) in enumerate(rows)
    ]


def _amend(change: Change, actor) -> None:
    from scoring.models import Muscle, Read
    from scoring.services import CellChange, read_amend

    read = Read.objects.get(pk=change.read_id)
    read_amend(
        read=read,
        changes=[CellChange(Muscle.objects.get(slug=change.muscle), "L", change.sequence, "2")],
        actor=actor,
        reason="benchmark: one grade change",
        expected_version=read.version,
    )


def _stored_total(cohort_id: int, pseudonym: str) -> float | None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (row -> 'total')::float FROM analytics_patientscorerow p"
            " JOIN analytics_analysisresult r ON r.id = p.result_id"
            " WHERE r.cohort_id = %s AND r.analysis = 'patient_scores' AND r.parameters_key = %s"
            " AND p.scope = 'unified' AND p.row ->> 'pseudonym' = %s",
            [cohort_id, _default_key(), pseudonym],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def _default_key() -> str:
    from analytics.recompute import analysis_parameters, parameters_key

    return parameters_key(analysis_parameters())


def _fresh_since(cohort_id: int, since) -> bool:
    """The default results were stored after `since` and nothing is pending."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT s.stale, s.recomputing, r.computed_at FROM analytics_cohortanalyticsstate s"
            " JOIN analytics_analysisresult r ON r.cohort_id = s.cohort_id"
            " AND r.analysis = 'patient_scores' AND r.parameters_key = %s"
            " WHERE s.cohort_id = %s",
            [_default_key(), cohort_id],
        )
        row = cursor.fetchone()
    return bool(row) and not row[0] and not row[1] and row[2] > since


def child_changes(cohort_id: int, n: int, offset: int, mode: str) -> dict:
    """(c): n grade changes, each timed from the save to fresh stored results.

    mode "worker": the save queues the task on Redis (as in production, with the debounce of
    ANALYTICS_DEBOUNCE_SECONDS from this process's environment); this process polls, and
    counts the CPU time of the workers (BENCH_WORKER_PIDS) from the save to fresh results.
    mode "direct": the queueing is left out and cohort_analyses_recompute runs here right after
    the commit, as a worker's task would (no broker, no debounce), its stages timed."""
    setup_django()
    from django.conf import settings
    from django.utils import timezone

    from analytics import recompute, services

    requests: list = []
    stages: dict[str, float] = {}
    if mode == "direct":
        # Bench only: keep the saved change from reaching a broker; the recompute below is what
        # the queued task would have run.
        def _queue(cohort_id, countdown=None) -> bool:
            requests.append(cohort_id)
            return True

        services._queue = _queue
        stages = _clock_recompute_stages()
    workers = [int(pid) for pid in os.environ.get("BENCH_WORKER_PIDS", "").split()]
    changes = _plan_changes(cohort_id, n, offset)
    if len(changes) < n:
        raise RuntimeError(f"found only {len(changes)} reads to change")
    out = []
    for change in changes:
        stages.clear()
        since = timezone.now()
        cpu = _cpu_s(workers) if workers else time.process_time()
        began = time.perf_counter()
        _amend(change, None)
        committed = time.perf_counter()
        if mode == "direct":
            assert requests, "the change asked for no recomputation"
            outcome = recompute.cohort_analyses_recompute(cohort_id=cohort_id)
            if outcome != "done":
                raise RuntimeError(f"the recompute answered {outcome!r}")
        else:
            deadline = began + 120
            while not _fresh_since(cohort_id, since):
                if time.perf_counter() > deadline:
                    raise RuntimeError("no fresh results within 120 s")
                time.sleep(0.01)
        fresh = time.perf_counter()
        cpu = (_cpu_s(workers) if workers else time.process_time()) - cpu
        total = _stored_total(cohort_id, change.pseudonym)
        moved = total is not None and abs(total - (change.before + 1.0)) < 1e-9
        out.append(
            {
                "save_to_fresh_s": fresh - began,
                "commit_to_fresh_s": fresh - committed,
                "cpu_s": cpu,
                "checked": moved,
                "stages": dict(stages),
            }
        )
    return {"changes": out, "debounce_s": settings.ANALYTICS_DEBOUNCE_SECONDS}


# -- the orchestrating process -------------------------------------------------------------


def run_child(stack: Stack, args: list[str], what: str, env: dict | None = None) -> dict:
    """One measurement in a process of its own; its answer (the synthetic cohort's build
    steps, which it logs, are shown)."""
    done = stack.run([sys.executable, __file__, "--child", *args], what, env=env, timeout=1800)
    for line in done.stderr.splitlines():
        if line.startswith("  ") and " s  " in line:
            print(line)
    return last_json(done.stdout)


def summarize(label: str, result: dict) -> float:
    """Print one change series; returns the median save -> fresh time."""
    times = [c["save_to_fresh_s"] for c in result["changes"]]
    cpu = [c["cpu_s"] for c in result["changes"]]
    checked = all(c["checked"] for c in result["changes"])
    median = statistics.median(times)
    print(
        f"  {label:<48} median {median:6.2f} s  max {max(times):6.2f} s  (n={len(times)}: "
        + ", ".join(f"{t:.2f}" for t in times)
        + f"; totals checked: {'yes' if checked else 'NO'})"
    )
    print(
        f"    CPU time spent on it: median {statistics.median(cpu):.2f} s ("
        + ", ".join(f"{t:.2f}" for t in cpu)
        + "); the rest of the wall time is waiting: the debounce, Postgres, the machine's load"
    )
    return median


def print_stages(stages: dict[str, float], indent: str = "      ") -> None:
    for stage, seconds in stages.items():
        print(f"{indent}{stage:<44} {seconds:7.2f} s")


TASK_DONE = re.compile(r"Task analytics\.tasks\.recompute_cohort\[[^\]]+\] succeeded in ([\d.]+)s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--changes", type=int, default=6, help="timed changes per series")
    parser.add_argument("--bare-repeats", type=int, default=3)
    parser.add_argument("--keep-db", action="store_true", help="leave the database for a look")
    args = parser.parse_args()

    with Stack("recompute") as stack:
        redis_url = bench_redis(stack, db=11)
        if not redis_url:
            sys.exit("(c) needs Redis for its Celery workers (see the note above)")
        tag = secrets.token_hex(4)
        db_name = f"iim_bench_recompute_{tag}"
        print(f"database {db_name}: migrating...", flush=True)
        stack.env["DATABASE_URL"] = stack.migrated_database(db_name)
        if args.keep_db:
            stack.postgres.keep(db_name)
        print(
            f"building {args.patients} patients x 240 grades (bench/support/synthetic_cohort.py, "
            "COPY; setup bypasses the services)...",
            flush=True,
        )
        setup = run_child(stack, ["setup", str(args.patients), str(args.seed)], "setup")
        cohort_id = setup["cohort_id"]
        print(
            f"  cohort {cohort_id} ready in {setup['setup_s']:.1f} s; {os.cpu_count()} CPUs, "
            f"load average {os.getloadavg()[0]:.1f} (other work on the machine counts)"
        )

        print("(a) full recompute (fresh process, no stored scores)...", flush=True)
        full = run_child(stack, ["full", str(cohort_id)], "full recompute")
        print_stages(full["stages"])
        print(
            f"  full recompute {full['full_s']:.2f} s wall, {full['cpu_s']:.2f} s CPU "
            f"({full['outcome']}, {full['read_scores']} read scores stored)"
        )

        print(f"(b) bare pandas on frames in memory (best of {args.bare_repeats})...", flush=True)
        bare = run_child(stack, ["bare", str(cohort_id), str(args.bare_repeats)], "bare")
        print(
            f"  bare {bare['bare_s']:.2f} s (grade_cube + score_cube x3 {bare['score_s']:.2f} s, "
            f"combine_reads x3 {bare['combine_s']:.2f} s, analyses_from_scores "
            f"{bare['analyses_s']:.2f} s) on {bare['grade_rows']} grade rows; runs "
            + ", ".join(f"{r:.2f}" for r in bare["runs"])
        )
        same = "the same" if not bare["differences"] else f"{bare['differences']} DIFFERENCES"
        print(f"  bare results vs (a)'s stored ({', '.join(bare['checked'])}): {same}")
        for difference in bare["first_differences"]:
            print(f"    {difference}")

        print("(c) one grade change -> fresh results...", flush=True)
        n = args.changes
        direct = run_child(stack, ["changes", str(cohort_id), str(n), "0", "direct"], "direct")
        summarize("in-process, no broker, no debounce", direct)
        per_stage: dict[str, list[float]] = {}
        for change in direct["changes"]:
            for stage, seconds in change["stages"].items():
                per_stage.setdefault(stage, []).append(seconds)
        print("    its recompute, median per stage:")
        print_stages({s: statistics.median(v) for s, v in per_stage.items()})

        queue = f"bench-recompute-{tag}"
        worker_env = {
            **stack.env,
            "CELERY_BROKER_URL": redis_url,
            "CELERY_RESULT_BACKEND": redis_url,
            "CELERY_QUEUE": queue,  # the default queue: beyond-the-paper tasks wait there
            "ANALYTICS_QUEUE": f"{queue}-analytics",
        }
        names = [f"analytics-{i + 1}" for i in range(ANALYTICS_WORKERS)]
        pids = [
            stack.start_celery_worker(
                name, queues=worker_env["ANALYTICS_QUEUE"], env=worker_env
            ).pid
            for name in names
        ]
        through = run_child(
            stack,
            ["changes", str(cohort_id), str(n), str(n), "worker"],
            "changes through the workers",
            env={**worker_env, "BENCH_WORKER_PIDS": " ".join(map(str, pids))},
        )
        debounce = through["debounce_s"]
        change_s = summarize(
            f"{ANALYTICS_WORKERS} Celery workers on Redis, debounce {debounce:g} s", through
        )
        worker_peaks = {}
        for name in names:
            worker_peaks[name] = memory_mb("VmHWM", stack.process(name).pid)
            tasks = [float(s) for s in TASK_DONE.findall(stack.log(name))]
            print(
                f"    {name}: {len(tasks)} recompute tasks ("
                + ", ".join(f"{t:.2f}" for t in tasks)
                + f" s in the task), peak RSS {worker_peaks[name]:.0f} MB"
            )
        stack.stop_processes()

        ratio = bare["bare_s"] / full["full_s"]
        peak = max(full["peak_rss_mb"], *worker_peaks.values())
        verdict = {
            "ratio": ratio >= TARGET_RATIO,
            "change": change_s <= TARGET_CHANGE_S,
            "peak": peak <= TARGET_PEAK_MB,
        }
        print(
            f"(d) peak RSS: the full recompute process {full['peak_rss_mb']:.0f} MB "
            f"({full['rss_before_mb']:.0f} MB before it started); the workers "
            + ", ".join(f"{v:.0f} MB" for v in worker_peaks.values())
        )
        print(
            f"targets: full {full['full_s']:.1f} s = {full['full_s'] / bare['bare_s']:.2f} x bare "
            f"(<= 3 x: {'met' if verdict['ratio'] else 'MISSED'}); change -> fresh "
            f"{change_s:.2f} s with {ANALYTICS_WORKERS} workers (<= {TARGET_CHANGE_S:.0f} s: "
            f"{'met' if verdict['change'] else 'MISSED'}); peak {peak:.0f} MB "
            f"(<= {TARGET_PEAK_MB:.0f} MB: {'met' if verdict['peak'] else 'MISSED'})"
        )
        print(
            f"RESULT name=recompute ratio={ratio:.3f} full_s={full['full_s']:.2f} "
            f"bare_s={bare['bare_s']:.2f} change_to_fresh_s={change_s:.2f} "
            f"peak_rss_mb={peak:.0f}"
        )
        if args.keep_db:
            print(f"kept database {db_name} ({stack.postgres.database_url(db_name)})")
        return 0


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "--child":
        kind, rest = sys.argv[2], sys.argv[3:]
        if kind == "setup":
            result = child_setup(int(rest[0]), int(rest[1]))
        elif kind == "full":
            result = child_full(int(rest[0]))
        elif kind == "bare":
            result = child_bare(int(rest[0]), int(rest[1]))
        elif kind == "changes":
            result = child_changes(int(rest[0]), int(rest[1]), int(rest[2]), rest[3])
        else:
            sys.exit(f"unknown child {kind}")
        print(json.dumps(result, default=str))
        sys.exit(0)
    sys.exit(main())
