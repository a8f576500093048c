"""Grades export throughput and server memory against Postgres COPY of the same rows.

    python bench/export.py [--patients 10000] [--keep] [--reuse]

A throwaway Postgres database (bench/support/postgres.py) gets a synthetic cohort
(bench/support/synthetic_cohort.py): 10,000 patients with one submitted whole-body read each,
60 muscles x 2 sides x 2 sequences = 2.4 M grades, plus a STIR and a T1 series per study so
every grade maps to a series. It is written straight into the tables (benchmark setup only: no
services, no audit rows). gunicorn (one sync worker, as docker-compose runs it) then serves the
real endpoint GET /api/v1/cohorts/<slug>/export/grades/ (CSV, streamed) to a statistician's
token, and the same rows are pulled with `COPY (<equivalent SELECT>) TO STDOUT WITH CSV`
through psycopg in the same run. The server worker's memory is read from /proc before and after
(peak).

Targets (issue 7): export rate >= 50 % of the COPY rate; server memory growth <= 200 MB.
The last line is `RESULT name=export ratio=R export_rows_per_s=X copy_rows_per_s=Y
rss_growth_mb=Z`. Everything started is stopped and the database dropped at the end (unless
--keep; --reuse takes a database a --keep run left behind).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.support.env import in_project_python

in_project_python()

import argparse  # noqa: E402
import hashlib  # noqa: E402
import os  # noqa: E402
import time  # noqa: E402

import psycopg  # noqa: E402
import requests  # noqa: E402

from bench.support.measure import memory_mb  # noqa: E402
from bench.support.stack import Stack  # noqa: E402

DB_NAME = "iim_bench_export"
SLUG = "bench-export"
STATISTICIAN = "bench-statistician"
TARGET_RATIO = 0.5
TARGET_RSS_MB = 200.0

# The export's rows and order, in SQL: the series of a grade is its study's series of the
# grade's sequence with the most images (first imported on a tie); order by patient, timepoint,
# study, reader, kind, protocol, read, then atlas order, side, sequence. Text order is "C"
# (code point), as the export sorts in Python.
COPY_SQL = """
COPY (
  WITH chosen AS (
    SELECT DISTINCT ON (s.study_id, s.sequence) s.study_id, s.sequence, s.series_uid
    FROM cohorts_series s
    JOIN cohorts_imagingstudy st ON st.id = s.study_id
    JOIN cohorts_patient p ON p.id = st.patient_id
    LEFT JOIN (SELECT series_id, count(*) AS n FROM cohorts_instance GROUP BY series_id) i
      ON i.series_id = s.id
    WHERE p.cohort_id = {cohort} AND s.sequence IN ('STIR', 'T1')
    ORDER BY s.study_id, s.sequence, coalesce(i.n, 0) DESC, s.id
  )
  SELECT p.pseudonym, p.subtype, site.code AS site, st.timepoint, st.study_uid AS study,
         ch.series_uid AS series, u.username AS reader, r.status AS read_status,
         r.kind AS read_kind, reg.slug AS region, grp.slug AS "group", m.slug AS muscle,
         g.side, g.sequence, g.value AS grade
  FROM scoring_grade g
  JOIN scoring_read r ON r.id = g.read_id
  JOIN scoring_scoringprotocol pr ON pr.id = r.protocol_id
  JOIN cohorts_imagingstudy st ON st.id = r.study_id
  JOIN cohorts_patient p ON p.id = st.patient_id
  LEFT JOIN cohorts_site site ON site.id = p.site_id
  JOIN auth_user u ON u.id = r.reader_id
  JOIN scoring_muscle m ON m.id = g.muscle_id
  JOIN scoring_functionalgroup grp ON grp.id = m.group_id
  JOIN scoring_region reg ON reg.id = grp.region_id
  LEFT JOIN chosen ch ON ch.study_id = st.id AND ch.sequence = g.sequence
  WHERE p.cohort_id = {cohort} AND r.status = 'submitted'
  ORDER BY p.pseudonym COLLATE "C", st.timepoint, st.study_uid COLLATE "C",
           u.username COLLATE "C",
           array_position(ARRAY['primary', 'second', 'consensus', 'reread'], r.kind::text),
           pr.slug COLLATE "C", r.id, reg."order", grp."order", m."order", m.id,
           g.side COLLATE "C", g.sequence COLLATE "C"
) TO STDOUT WITH (FORMAT csv, HEADER true)
"""


def log(message: str) -> None:
    print(message, flush=True)


def build(stack: Stack, patients: int) -> None:
    """Create and migrate the database, then fill it (in a child process: Django's settings
    are read once, from this environment)."""
    stack.migrated_database(DB_NAME)
    fill = [sys.executable, str(Path(__file__).resolve()), "--fill", "--patients", str(patients)]
    print(stack.run(fill, "filling the database", timeout=3600).stdout, end="", flush=True)


def fill(patients: int) -> None:
    """Child process: the synthetic cohort, its series, a statistician with a token, and a tiny
    second cohort to warm the server up with."""
    from bench.support.synthetic_cohort import build_cohort

    url = os.environ["DATABASE_URL"]
    cohort_id = build_cohort(url, n_patients=patients, seed=7, slug=SLUG, log=log)
    build_cohort(url, n_patients=2, seed=8, slug=f"{SLUG}-warmup")
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.db import connection
    from rest_framework.authtoken.models import Token

    from cohorts.models import Cohort, CohortMembership, ImagingStudy, Series
    from cohorts.roles import STATISTICIAN as STATISTICIAN_ROLE

    # Benchmark setup, past the services on purpose: two series per study (as a DICOM import
    # would leave them), so the export maps every grade to a series.
    studies = ImagingStudy.objects.filter(patient__cohort__slug__startswith=SLUG)
    series = [
        Series(
            study_id=study_id,
            series_uid=f"{uid}.{number}",
            series_number=number,
            sequence=sequence,
            sequence_detected=sequence,
            description=f"{sequence} (synthetic)",
        )
        for study_id, uid in studies.values_list("pk", "study_uid")
        for number, sequence in ((1, "STIR"), (2, "T1"))
    ]
    Series.objects.bulk_create(series, batch_size=5000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE cohorts_series")
    user = get_user_model().objects.create_user(username=STATISTICIAN, password=None)
    user.groups.add(Group.objects.get(name=STATISTICIAN_ROLE))
    for cohort in Cohort.objects.filter(slug__startswith=SLUG):
        CohortMembership.objects.create(cohort=cohort, user=user)
    Token.objects.create(user=user)
    log(f"  cohort {cohort_id}: {len(series)} series, statistician {STATISTICIAN} with a token")


def worker_pid(master: int) -> int:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    if not children:
        raise RuntimeError("gunicorn has no worker")
    return int(children[0])


def stream(url: str, token: str) -> tuple[int, int, float, str]:
    """GET the export, reading it as a client would; returns rows, bytes, seconds, sha256."""
    started = time.perf_counter()
    rows = size = 0
    digest = hashlib.sha256()
    with requests.get(
        url, headers={"Authorization": f"Token {token}"}, stream=True, timeout=900
    ) as r:
        r.raise_for_status()
        for chunk in r.iter_content(chunk_size=1 << 20):
            digest.update(chunk)
            rows += chunk.count(b"\n")
            size += len(chunk)
    return rows - 1, size, time.perf_counter() - started, digest.hexdigest()


def copy_rows(env_url: str, sql: str) -> tuple[int, int, float, str]:
    """Pull `COPY (...) TO STDOUT` through psycopg; returns rows, bytes, seconds, sha256."""
    started = time.perf_counter()
    rows = size = 0
    digest = hashlib.sha256()
    with psycopg.connect(env_url) as conn, conn.cursor() as cursor, cursor.copy(sql) as copy:
        for data in copy:
            chunk = bytes(data)
            digest.update(chunk)
            rows += chunk.count(b"\n")
            size += len(chunk)
    return rows - 1, size, time.perf_counter() - started, digest.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--keep", action="store_true", help="leave the database for --reuse")
    parser.add_argument("--reuse", action="store_true", help="use a database a --keep run left")
    parser.add_argument("--fill", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fill:
        fill(args.patients)
        return

    with Stack("export") as stack:
        url = stack.postgres.database_url(DB_NAME)
        stack.env |= {"DATABASE_URL": url, "CONN_MAX_AGE": "0"}
        if not (args.reuse and stack.postgres.exists(DB_NAME)):
            stack.postgres.drop(DB_NAME)
            log(f"building {args.patients} patients x 240 grades in {DB_NAME} ...")
            build(stack, args.patients)
        if args.keep:
            stack.postgres.keep(DB_NAME)
        else:
            stack.postgres.drop_at_end(DB_NAME)
        with psycopg.connect(url) as conn:
            cohort_id, n_grades = conn.execute(
                "SELECT c.id, count(g.id) FROM cohorts_cohort c"
                " JOIN cohorts_patient p ON p.cohort_id = c.id"
                " JOIN cohorts_imagingstudy st ON st.patient_id = p.id"
                " JOIN scoring_read r ON r.study_id = st.id"
                " JOIN scoring_grade g ON g.read_id = r.id WHERE c.slug = %s GROUP BY c.id",
                (SLUG,),
            ).fetchone()
            token = conn.execute(
                "SELECT t.key FROM authtoken_token t JOIN auth_user u ON u.id = t.user_id"
                " WHERE u.username = %s",
                (STATISTICIAN,),
            ).fetchone()[0]
        log(f"cohort {SLUG}: {n_grades} grades")

        base = stack.start_gunicorn(workers=1, options=["--timeout", "900"])
        worker = worker_pid(stack.process("gunicorn").pid)
        # Warm up: the same code path on a two-patient cohort, then the full codebook.
        stream(f"{base}/api/v1/cohorts/{SLUG}-warmup/export/grades/", token)
        stream(f"{base}/api/v1/cohorts/{SLUG}/export/codebook/", token)
        rss_before = memory_mb("VmRSS", worker)

        rows, size, seconds, export_sha = stream(
            f"{base}/api/v1/cohorts/{SLUG}/export/grades/", token
        )
        peak = memory_mb("VmHWM", worker)
        rss_after = memory_mb("VmRSS", worker)
        export_rate = rows / seconds
        log(f"export  : {rows} rows, {size / 1e6:.1f} MB in {seconds:.2f} s")
        log(f"          {export_rate:,.0f} rows/s through gunicorn")

        copy_sql = COPY_SQL.format(cohort=int(cohort_id))
        copy_n, copy_size, copy_seconds, copy_sha = copy_rows(url, copy_sql)
        copy_rate = copy_n / copy_seconds
        log(f"COPY    : {copy_n} rows, {copy_size / 1e6:.1f} MB in {copy_seconds:.2f} s")
        log(f"          {copy_rate:,.0f} rows/s through psycopg")
        if rows != copy_n or rows != n_grades:
            raise SystemExit(f"row counts differ: export {rows}, COPY {copy_n}, grades {n_grades}")
        same = "identical bytes" if export_sha == copy_sha else "different bytes"
        log(f"export and COPY output: {same} (sha256 {export_sha[:16]}, {copy_sha[:16]})")
        # For scale only (not the reference): the same rows without the ORDER BY.
        unordered = copy_sql[: copy_sql.index("  ORDER BY p.pseudonym")] + ") TO STDOUT WITH CSV"
        n_unordered, _size, unordered_seconds, _sha = copy_rows(url, unordered)
        log(f"(COPY without ORDER BY: {n_unordered / unordered_seconds:,.0f} rows/s)")

        growth_mb = max(0, peak - rss_before)
        ratio = export_rate / copy_rate
        log(
            f"server worker memory: {rss_before:.0f} MB before, peak {peak:.0f} MB,"
            f" {rss_after:.0f} MB after: growth {growth_mb:.1f} MB"
            f" (target <= {TARGET_RSS_MB:.0f})"
        )
        log(f"ratio export/COPY: {ratio:.2f} (target >= {TARGET_RATIO})")
        print(
            f"RESULT name=export ratio={ratio:.3f} export_rows_per_s={export_rate:.0f}"
            f" copy_rows_per_s={copy_rate:.0f} rss_growth_mb={growth_mb:.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
