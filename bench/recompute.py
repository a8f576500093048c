"""Analytics recompute on a 10,000-patient cohort: full, bare pandas, one change, memory.

    python bench/recompute.py [--patients 10000] [--seed 7] [--changes 5] [--keep-db]

Builds a throwaway Postgres database (bench/support/postgres.py) with one synthetic cohort
(bench/support/synthetic_cohort.py: one submitted whole-body read per patient, 60 muscles x 2
sides x 2 sequences = 2.4 M grades) and measures, each in its own process:

(a) full: `cohort_analyses_recompute(force=True)` with no stored scores: grades read from
    Postgres, every read scored and stored (ReadScores), every analysis computed and stored;
(b) bare: the same computation in pandas alone, the limit: the 2.4 M-row grade frame and the
    patients already in memory, `stats.score_reads` for the three scopes (unified = max, STIR,
    T1), then the same analyses (`analyses_from_frames`, without its result reuse) on the
    resulting frames; no database. Best of --bare-repeats;
(c) one grade change -> fresh results: a submitted read amended through
    `scoring.services.read_amend` (one cell), then what the worker runs, timed from the save to
    the fresh result being readable in the database: through a real Celery worker (solo pool)
    on Redis, with the debounce of settings.ANALYTICS_DEBOUNCE_SECONDS and with none, and
    in-process (cohort_analyses_recompute called right after the commit). Each change raises
    one muscle's unified grade, and the stored patient total is checked to have moved. The
    worker is timed from its warm-up (analytics.tasks.warm_analytics) on; the warm-up's time
    and the worker's first task are reported apart;
(d) peak memory: the RSS high-water mark (getrusage ru_maxrss) of the process that ran (a).

Targets (issue 5): full <= 3 x bare and <= 30 s; one change -> fresh <= 2 s; peak <= 1.5 GB.
The last line is
`RESULT name=recompute ratio=R full_s=X bare_s=Y change_to_fresh_s=Z peak_rss_mb=M` with
ratio = bare / full (larger is better) and change_to_fresh_s the median through the worker
with the configured debounce. Everything started is stopped, and the database dropped.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.support.env import in_project_python, setup_django

in_project_python()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import secrets  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402

from bench.support.broker import bench_redis  # noqa: E402
from bench.support.measure import memory_mb  # noqa: E402
from bench.support.stack import Stack, last_json  # noqa: E402

TARGET_RATIO = 1 / 3  # full <= 3 x bare
TARGET_FULL_S = 30.0
TARGET_CHANGE_S = 2.0
TARGET_PEAK_MB = 1536.0


# -- children: each measurement runs in a process of its own, on the bench database ----------


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux


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
    stages: dict[str, float] = {}

    def timed(name, function):
        def wrapper(*args, **kwargs):
            began = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                stages[name] = stages.get(name, 0.0) + time.perf_counter() - began

        return wrapper

    # Diagnostics only: the same functions, wrapped with a clock.
    recompute.cohort_read_scores_refresh = timed(
        "grades -> read scores stored", recompute.cohort_read_scores_refresh
    )
    recompute.compute_analyses = timed("analyses computed", recompute.compute_analyses)
    rss_before = memory_mb("VmRSS")
    began = time.perf_counter()
    cpu = time.process_time()
    outcome = recompute.cohort_analyses_recompute(cohort_id=cohort_id, force=True)
    full_s = time.perf_counter() - began
    cpu_s = time.process_time() - cpu
    stored = ReadScores.objects.filter(read__study__patient__cohort_id=cohort_id).count()
    stages["the rest (fingerprint, results stored)"] = full_s - sum(stages.values())
    return {
        "outcome": outcome,
        "full_s": full_s,
        "cpu_s": cpu_s,
        "stages": stages,
        "read_scores": stored,
        "rss_before_mb": rss_before,
        "peak_rss_mb": _peak_rss_mb(),
    }


def child_bare(cohort_id: int, repeats: int) -> dict:
    """(b): score_reads for the three scopes + the same analyses, on frames in memory."""
    setup_django()
    from analytics import analyses, frames, recompute, stats
    from cohorts.models import Cohort
    from scoring.models import Read

    cohort = Cohort.objects.get(pk=cohort_id)
    read_ids = list(
        Read.objects.filter(study__patient__cohort=cohort)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    protocol = Read.objects.filter(pk=read_ids[0]).select_related("protocol").get().protocol
    grades = frames.grades_frame(read_ids=read_ids)  # loaded before the clock starts
    atlas = frames.atlas_frame(protocol)
    parameters = recompute.analysis_parameters()
    patients = analyses.filter_patients(frames.patients_frame(cohort), parameters)
    runs = []
    for _ in range(repeats):
        began = time.perf_counter()
        per_scope = {
            scope: stats.score_reads(
                grades,
                atlas,
                combine=sequence or protocol.sequence_combine,
                sides=protocol.side_combine,
            )
            for scope, sequence in recompute.SCOPES.items()
        }
        scored = time.perf_counter()
        analyses.analyses_from_frames(
            patients, analyses.score_frames_from_reads(per_scope), parameters, reuse=False
        )
        done = time.perf_counter()
        runs.append(
            {"bare_s": done - began, "score_s": scored - began, "analyses_s": done - scored}
        )
    best = min(runs, key=lambda run: run["bare_s"])
    return {
        **best,
        "runs": [run["bare_s"] for run in runs],
        "grade_rows": len(grades),
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
    ANALYTICS_DEBOUNCE_SECONDS from this process's environment); this process polls.
    mode "direct": the queueing is left out and cohort_analyses_recompute runs here right after
    the commit, as the worker's task would (no broker, no debounce)."""
    setup_django()
    from django.conf import settings
    from django.utils import timezone

    from analytics import recompute, services

    requests: list = []
    if mode == "direct":
        # Bench only: keep the saved change from reaching a broker; the recompute below is what
        # the queued task would have run.
        def _queue(cohort_id, countdown=None) -> bool:
            requests.append(cohort_id)
            return True

        services._queue = _queue
    changes = _plan_changes(cohort_id, n + 1, offset)
    if len(changes) < n + 1:
        raise RuntimeError(f"found only {len(changes)} reads to change")
    out = []
    for index, change in enumerate(changes):
        since = timezone.now()
        began = time.perf_counter()
        _amend(change, None)
        if mode == "direct":
            committed = time.perf_counter()
            assert requests, "the change asked for no recomputation"
            outcome = recompute.cohort_analyses_recompute(cohort_id=cohort_id)
            if outcome != "done":
                raise RuntimeError(f"the recompute answered {outcome!r}")
        else:
            committed = time.perf_counter()
            deadline = began + 120
            while not _fresh_since(cohort_id, since):
                if time.perf_counter() > deadline:
                    raise RuntimeError("no fresh results within 120 s")
                time.sleep(0.01)
        fresh = time.perf_counter()
        total = _stored_total(cohort_id, change.pseudonym)
        moved = total is not None and abs(total - (change.before + 1.0)) < 1e-9
        out.append(
            {
                "save_to_fresh_s": fresh - began,
                "commit_to_fresh_s": fresh - committed,
                "first": index == 0,
                "checked": moved,
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


def summarize(label: str, result: dict) -> tuple[float, float | None]:
    """Print one change series; returns (median of the warm changes, the first change)."""
    warm = [c["save_to_fresh_s"] for c in result["changes"] if not c["first"]]
    first = next((c["save_to_fresh_s"] for c in result["changes"] if c["first"]), None)
    checked = all(c["checked"] for c in result["changes"])
    median = statistics.median(warm)
    print(
        f"  {label:<52} median {median:6.2f} s  max {max(warm):6.2f} s  "
        f"(n={len(warm)}; first {first:.2f} s; totals checked: {'yes' if checked else 'NO'})"
    )
    return median, first


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--changes", type=int, default=5, help="timed changes per mode")
    parser.add_argument("--bare-repeats", type=int, default=3)
    parser.add_argument("--keep-db", action="store_true", help="leave the database for a look")
    args = parser.parse_args()

    with Stack("recompute") as stack:
        redis_url = bench_redis(stack, db=11)
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
        for stage, seconds in full["stages"].items():
            print(f"      {stage:<40} {seconds:7.2f} s")
        print(
            f"  full recompute {full['full_s']:.2f} s wall, {full['cpu_s']:.2f} s CPU "
            f"({full['outcome']}, {full['read_scores']} read scores stored)"
        )

        print(f"(b) bare pandas on frames in memory (best of {args.bare_repeats})...", flush=True)
        bare = run_child(stack, ["bare", str(cohort_id), str(args.bare_repeats)], "bare")
        print(
            f"  bare {bare['bare_s']:.2f} s (score_reads x3 {bare['score_s']:.2f} s + analyses "
            f"{bare['analyses_s']:.2f} s) on {bare['grade_rows']} grade rows; runs "
            + ", ".join(f"{r:.2f}" for r in bare["runs"])
        )

        print("(c) one grade change -> fresh results...", flush=True)
        direct = run_child(
            stack, ["changes", str(cohort_id), str(args.changes), "0", "direct"], "direct changes"
        )
        direct_median, _ = summarize("in-process, no broker, no debounce", direct)
        worker_medians = {}
        if redis_url:
            queue = f"bench-recompute-{tag}"
            worker_env = {
                **stack.env,
                "CELERY_BROKER_URL": redis_url,
                "CELERY_RESULT_BACKEND": redis_url,
                "CELERY_QUEUE": queue,
            }
            stack.start_celery_worker("worker", queues=queue, env=worker_env)
            began = time.monotonic()
            warmed = "analytics warm-up finished"
            stack.wait_for(lambda: warmed in stack.log("worker"), "warming up", 300)
            warm_s = time.monotonic() - began
            from_settings = run_child(
                stack,
                ["changes", str(cohort_id), str(args.changes), str(args.changes + 1), "worker"],
                "changes through the worker",
                env=worker_env,
            )
            debounce = from_settings["debounce_s"]
            worker_medians["debounce"], first = summarize(
                f"Celery worker on Redis, debounce {debounce:g} s", from_settings
            )
            no_debounce = run_child(
                stack,
                ["changes", str(cohort_id), str(args.changes), str(2 * args.changes + 2), "worker"],
                "changes through the worker without debounce",
                env={**worker_env, "ANALYTICS_DEBOUNCE_SECONDS": "0"},
            )
            worker_medians["none"], _ = summarize(
                "Celery worker on Redis, debounce 0 s", no_debounce
            )
            stack.stop_processes()
            change_s = worker_medians["debounce"]
            print(
                f"  the worker warmed up in {warm_s:.2f} s after its start (read scores and "
                f"analyses loaded); its first task then took {first:.2f} s"
            )
        else:
            print(
                "  no Redis (see the note above): the worker path is not measured; the figure "
                "is the in-process one"
            )
            change_s = direct_median

        ratio = bare["bare_s"] / full["full_s"]
        peak = full["peak_rss_mb"]
        verdict = {
            "ratio": ratio >= TARGET_RATIO,
            "full": full["full_s"] <= TARGET_FULL_S,
            "change": change_s <= TARGET_CHANGE_S,
            "peak": peak <= TARGET_PEAK_MB,
        }
        print(
            f"(d) peak RSS of the full recompute process {peak:.0f} MB "
            f"({full['rss_before_mb']:.0f} MB before it started)"
        )
        print(
            f"targets: full {full['full_s']:.1f} s = {full['full_s'] / bare['bare_s']:.2f} x bare "
            f"(<= 3 x: {'met' if verdict['ratio'] else 'MISSED'}; <= {TARGET_FULL_S:.0f} s: "
            f"{'met' if verdict['full'] else 'MISSED'}); change -> fresh {change_s:.2f} s "
            f"(<= {TARGET_CHANGE_S:.0f} s: {'met' if verdict['change'] else 'MISSED'}); peak "
            f"{peak:.0f} MB (<= {TARGET_PEAK_MB:.0f} MB: {'met' if verdict['peak'] else 'MISSED'})"
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
