"""DICOM ingest throughput: our import pipeline against Orthanc on the same files.

    python bench/ingest.py [--n 2000] [--rounds 5]

Generates N MR instances of ~128 KB (256 x 256, 16 bit, explicit VR little endian; several
patients, a STIR and a T1 series each) carrying identifying values, a nested sequence and a
private tag, so de-identification does its full work. Then, in the same run:

- ours: `dicom_import` (read, validate, de-identify, write the pseudonymized file, index in
  Postgres) in one process, one file after another, into a throwaway Postgres database
  (bench/support/postgres.py) cloned from a migrated template, with MEDIA_ROOT in a temp
  folder;
- Orthanc (Debian package, started here on loopback with a temp storage folder and its
  default built-in index): POST /instances of the same files, one request after another over
  one keep-alive HTTP connection.

Both sides are sequential, and both are warmed up with the same few files first. The machine
may be shared, so the two sides take turns for --rounds rounds (each round on a fresh
database / a fresh Orthanc) and each side's best round counts. Our peak RSS growth during the
import (VmHWM reset just before it) is measured for N/4 and for N, each in a fresh process,
to show that memory does not grow with N. Target (issue 3): ours/Orthanc >= 1.5.

Then the same files over DICOM (issue 21), both sides fed by DCMTK's storescu, one association:
- ours: `manage.py dicom_listener` (each instance checked, staged and fsynced before Success,
  then the association's import job), timed from the start of the send until the job is done,
  so the import is included;
- Orthanc's own C-STORE SCP, timed until storescu is done (Orthanc stores before it answers).
The listener's peak RSS growth over the send (VmHWM reset after a warm-up send) is reported.
Target: ours/Orthanc >= 1.0, and growth under 200 MB for a 300 MB send.
The last line is `RESULT name=ingest ratio=R ours_per_s=X orthanc_per_s=Y rss_growth_mb=Z
cstore_ratio=C cstore_ours_per_s=A cstore_orthanc_per_s=B listener_growth_mb=M`.
Everything started is stopped, the databases dropped and the temp folder deleted at the end.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.support.env import in_project_python, setup_django

in_project_python()

import argparse  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import secrets  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import requests  # noqa: E402

from bench.support.measure import memory_mb  # noqa: E402
from bench.support.stack import Stack, free_port  # noqa: E402

ORTHANC = os.environ.get("BENCH_ORTHANC", "Orthanc")
STORESCU = os.environ.get("BENCH_STORESCU", "storescu")
TARGET_RATIO = 1.5
CSTORE_TARGET_RATIO = 1.0
LISTENER_AE = "IIMBENCH"
SIZE = 256
PATIENTS_PER_1000 = 4
WARMUP_FILES = 6


# -- the files ---------------------------------------------------------------------------------


def generate(folder: Path, n: int, *, warmup: bool = False) -> list[Path]:
    """N MR images of several patients (STIR and T1 series), written as Part-10 files."""
    from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7 if warmup else 1)
    # A few noise images reused: neither side looks at pixel values beyond decoding them.
    pool = [rng.integers(0, 4096, (SIZE, SIZE), dtype=np.uint16).tobytes() for _ in range(8)]
    patients = max(1, round(n * PATIENTS_PER_1000 / 1000))
    per_series = -(-n // (patients * 2))
    paths: list[Path] = []
    prefix = "warmup" if warmup else "bench"
    for p in range(patients):
        patient_id = f"{prefix.upper()}-{p:04d}-{secrets.token_hex(3)}"
        study_uid = generate_uid()
        for s, (sequence, tr, te, ti) in enumerate((("STIR", 5000, 70, 150), ("T1", 550, 12, 0))):
            series_uid, frame_uid = generate_uid(), generate_uid()
            for i in range(per_series):
                if len(paths) == n:
                    return paths
                meta = FileMetaDataset()
                meta.MediaStorageSOPClassUID = MRImageStorage
                meta.TransferSyntaxUID = ExplicitVRLittleEndian
                ds = FileDataset("", {}, file_meta=meta, preamble=b"\0" * 128)
                ds.SpecificCharacterSet = "ISO_IR 100"
                ds.SOPClassUID = MRImageStorage
                ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID = generate_uid()
                ds.Modality = "MR"
                ds.PatientName = f"Benchmark^Person{p:04d}"
                ds.PatientID = patient_id
                ds.PatientBirthDate = f"19{50 + p % 40:02d}0{1 + p % 9}15"
                ds.PatientSex = "FM"[p % 2]
                ds.PatientAge = f"{40 + p % 40:03d}Y"
                ds.StudyDate = ds.SeriesDate = ds.ContentDate = "20230314"
                ds.StudyTime = ds.SeriesTime = ds.ContentTime = "101500"
                ds.AccessionNumber = f"ACC{p:07d}"
                ds.StudyID = f"{p + 1}"
                ds.InstitutionName = "Bench University Hospital"
                ds.InstitutionAddress = "1 Benchmark Street, Testville"
                ds.ReferringPhysicianName = "Referrer^Rita"
                ds.OperatorsName = "Operator^Otto"
                ds.StationName = "MRBENCH01"
                ds.DeviceSerialNumber = "SN-000123"
                ds.Manufacturer = "iim-scoring"
                ds.ManufacturerModelName = "Bench 1.5T"
                ds.MagneticFieldStrength = "1.5"
                ds.StudyInstanceUID = study_uid
                ds.SeriesInstanceUID = series_uid
                ds.FrameOfReferenceUID = frame_uid
                ds.SeriesNumber = s + 1
                ds.SeriesDescription = ds.ProtocolName = f"{sequence}_TRA_WB"
                ds.InstanceNumber = i + 1
                ds.ScanningSequence = "IR" if ti else "SE"
                ds.SequenceVariant = ["SK", "SP"]
                ds.RepetitionTime, ds.EchoTime = f"{tr:.1f}", f"{te:.1f}"
                if ti:
                    ds.InversionTime = f"{ti:.1f}"
                ds.SliceThickness = "6.0"
                ds.ImagePositionPatient = ["-240.0", "-240.0", f"{i * 6.0:.1f}"]
                ds.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
                ds.SliceLocation = f"{i * 6.0:.1f}"
                ds.PixelSpacing = ["1.875", "1.875"]
                ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
                ds.Rows = ds.Columns = SIZE
                ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
                ds.WindowCenter, ds.WindowWidth = "700", "1400"
                request = Dataset()
                request.RequestedProcedureID = ds.AccessionNumber
                request.RequestedProcedureDescription = f"Myositis work-up {ds.PatientName}"
                ds.RequestAttributesSequence = [request]
                block = ds.private_block(0x0029, "BENCH PRIVATE", create=True)
                block.add_new(0x10, "LO", f"{ds.PatientName} {patient_id}")
                ds.PixelData = pool[(p + s + i) % len(pool)]
                ds["PixelData"].VR = "OW"
                path = folder / f"{prefix}-{len(paths):06d}.dcm"
                ds.save_as(path, enforce_file_format=True)
                paths.append(path)
    return paths


# -- ours: one child process per run, Django on the bench database -----------------------------


def _reset_peak_rss() -> None:
    """Start VmHWM (the peak RSS) afresh at the current RSS (Linux >= 4.0)."""
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")


def child_ingest(folder: Path, limit: int) -> dict:
    """Runs in a fresh process (DATABASE_URL and MEDIA_ROOT from the bench): warm up, import."""
    setup_django()
    from cohorts.imaging.ingest import dicom_import
    from cohorts.services import cohort_create

    files = sorted(folder.glob("bench-*.dcm"))[:limit]
    warm = sorted((folder / "warmup").glob("warmup-*.dcm"))
    cohort = cohort_create(slug="bench-ingest", title="Ingest bench (synthetic)", actor=None)
    dicom_import(cohort=cohort, files=((p.name, p.read_bytes()) for p in warm), actor=None)
    gc.collect()
    _reset_peak_rss()
    before = memory_mb("VmRSS")
    started = time.perf_counter()
    report = dicom_import(
        cohort=cohort, files=((p.name, p.read_bytes()) for p in files), actor=None
    )
    seconds = time.perf_counter() - started
    peak = memory_mb("VmHWM")
    if report.count("imported") != len(files):
        problems = {f.reason for f in report.files if f.status != "imported"}
        raise RuntimeError(f"our import did not take every file: {problems}")
    return {"n": len(files), "seconds": seconds, "rss_before_mb": before, "peak_mb": peak}


def run_ours(stack: Stack, template: str, folder: Path, limit: int, label: str) -> dict:
    name = f"{template}_{label}"
    media = stack.tmp / f"media-{label}"
    result = stack.run_json(
        [sys.executable, __file__, "--child", str(folder), "--limit", str(limit)],
        f"our import ({label})",
        env={
            **stack.env,
            "DATABASE_URL": stack.postgres.create(name, template=template),
            "MEDIA_ROOT": str(media),
        },
        timeout=3600,
    )
    stored = sum(1 for _ in media.rglob("*.dcm"))
    if stored != limit + WARMUP_FILES:
        raise RuntimeError(f"expected {limit + WARMUP_FILES} stored files, found {stored}")
    stack.postgres.drop(name)  # a round's disk back before the next one
    shutil.rmtree(media, ignore_errors=True)
    return result


# -- Orthanc -----------------------------------------------------------------------------------


def start_orthanc(stack: Stack, label: str) -> tuple[str, str, tuple[str, str], str, int]:
    """Orthanc on loopback with its storage in the temp folder: its name in the stack, base URL,
    credentials, version and DICOM port."""
    binary = shutil.which(ORTHANC)
    if binary is None:
        raise RuntimeError("Orthanc is not installed (Debian package orthanc)")
    auth = ("bench", secrets.token_hex(8))
    port, dicom_port = free_port(), free_port()
    config = {
        "Name": "iim-ingest-bench",
        "HttpPort": port,
        "DicomPort": dicom_port,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": True,
        "RegisteredUsers": {auth[0]: auth[1]},
        "StorageDirectory": str(stack.tmp / f"orthanc-{label}" / "storage"),
        "IndexDirectory": str(stack.tmp / f"orthanc-{label}" / "index"),
    }
    config_path = stack.tmp / f"orthanc-{label}.json"
    config_path.write_text(json.dumps(config))
    name = f"orthanc-{label}"
    stack.start(name, [binary, str(config_path)])
    base = f"http://127.0.0.1:{port}"
    answer: list[requests.Response] = []

    def answers() -> bool:
        try:
            answer[:] = [requests.get(f"{base}/system", auth=auth, timeout=2)]
        except requests.ConnectionError:
            return False
        return answer[0].ok

    stack.wait_for(answers, f"starting {name}", 30)
    return name, base, auth, answer[0].json().get("Version", "?"), dicom_port


def run_orthanc(base: str, auth: tuple[str, str], files: list[Path], warm: list[Path]) -> float:
    """Seconds for POST /instances of `files`, one after another on one connection."""
    with requests.Session() as session:
        session.auth = auth
        for path in warm:
            session.post(f"{base}/instances", data=path.read_bytes(), timeout=60).raise_for_status()
        started = time.perf_counter()
        for path in files:
            response = session.post(f"{base}/instances", data=path.read_bytes(), timeout=60)
            response.raise_for_status()
        seconds = time.perf_counter() - started
        stats = session.get(f"{base}/statistics", timeout=10).json()
    if int(stats["CountInstances"]) != len(files) + len(warm):
        raise RuntimeError(f"Orthanc holds {stats['CountInstances']} instances, not {len(files)}")
    return seconds


def orthanc_instances(base: str, auth: tuple[str, str]) -> int:
    reply = requests.get(f"{base}/statistics", auth=auth, timeout=10)
    return int(reply.json()["CountInstances"])


# -- over DICOM: storescu to our listener and to Orthanc -----------------------------------------


def storescu(port: int, called: str, paths: list[Path] | Path) -> float:
    """Seconds for one storescu association sending `paths` (or every file of a folder)."""
    files = ["+sd", str(paths)] if isinstance(paths, Path) else [str(p) for p in paths]
    started = time.perf_counter()
    done = subprocess.run(
        [STORESCU, "-aec", called, "127.0.0.1", str(port), *files],
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"storescu failed:\n{done.stderr[-3000:]}")
    return time.perf_counter() - started


def child_cohort() -> dict:
    """Runs in a fresh process on the listener's database: the cohort it imports into."""
    setup_django()
    from cohorts.services import cohort_create

    cohort = cohort_create(slug="bench-ingest", title="Ingest bench (synthetic)", actor=None)
    return {"slug": cohort.slug}


def _jobs_done(database_url: str) -> int:
    import psycopg

    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM cohorts_dicomimportjob WHERE status IN ('done', 'failed')"
        ).fetchone()
    return int(row[0])


def run_ours_cstore(
    stack: Stack, template: str, folder: Path, warm: list[Path], n: int, label: str
) -> dict:
    """Our listener: seconds from the start of the send until its import job is done, and the
    listener's peak RSS growth over the send."""
    name = f"{template}_cstore_{label}"
    media = stack.tmp / f"media-cstore-{label}"
    database_url = stack.postgres.create(name, template=template)
    env = {
        **stack.env,
        "DATABASE_URL": database_url,
        "MEDIA_ROOT": str(media),
        "DICOM_LISTENER_CALLING_AETS": "STORESCU",
        "DICOM_LISTENER_STAGING_DIR": str(stack.tmp / f"staging-{label}"),
    }
    env.pop("CELERY_BROKER_URL", None)
    stack.run_json([sys.executable, __file__, "--child-cohort"], "the bench cohort", env=env)
    port = free_port()
    process_name = f"listener-{label}"
    command = ["manage.py", "dicom_listener", "--cohort", "bench-ingest"]
    process = stack.start(
        process_name,
        [sys.executable, *command, "--ae-title", LISTENER_AE, "--port", str(port)],
        env=env,
    )
    stack.wait_for(lambda: "Listening as" in stack.log(process_name), "the listener", 60)
    storescu(port, LISTENER_AE, warm)
    stack.wait_for(lambda: _jobs_done(database_url) == 1, "the warm-up import", 300)
    with open(f"/proc/{process.pid}/clear_refs", "w") as handle:
        handle.write("5")  # the peak RSS starts afresh at the current RSS
    before = memory_mb("VmRSS", process.pid)
    started = time.perf_counter()
    storescu(port, LISTENER_AE, folder)
    stack.wait_for(lambda: _jobs_done(database_url) == 2, "the listener's import", 3600)
    seconds = time.perf_counter() - started
    growth = memory_mb("VmHWM", process.pid) - before
    stack.stop_process(process_name)
    stored = sum(1 for _ in media.rglob("*.dcm"))
    if stored != n + len(warm):
        raise RuntimeError(f"the listener stored {stored} files, not {n + len(warm)}")
    stack.postgres.drop(name)
    shutil.rmtree(media, ignore_errors=True)
    return {"seconds": seconds, "growth_mb": growth}


def run_orthanc_cstore(stack: Stack, folder: Path, warm: list[Path], n: int, label: str) -> float:
    """Seconds for storescu to send the files to Orthanc's own C-STORE SCP."""
    orthanc, base, auth, _version, dicom_port = start_orthanc(stack, f"cstore-{label}")
    storescu(dicom_port, "ORTHANC", warm)
    seconds = storescu(dicom_port, "ORTHANC", folder)
    if orthanc_instances(base, auth) != n + len(warm):
        raise RuntimeError(f"Orthanc holds {orthanc_instances(base, auth)} instances, not {n}")
    stack.stop_process(orthanc)
    shutil.rmtree(stack.tmp / f"orthanc-cstore-{label}", ignore_errors=True)
    return seconds


# -- main --------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="instances to ingest (default 2000)")
    parser.add_argument(
        "--rounds", type=int, default=5, help="alternating rounds; the best counts (default 5)"
    )
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child-cohort", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--limit", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child_ingest(args.child, args.limit)))
        return 0
    if args.child_cohort:
        print(json.dumps(child_cohort()))
        return 0
    if shutil.which(STORESCU) is None:
        parser.error(f"{STORESCU} is not installed (Debian package dcmtk)")
    if args.n < 8 or args.rounds < 1:
        parser.error("--n must be at least 8 and --rounds at least 1")

    with Stack("ingest") as stack:
        folder = stack.tmp / "files"
        print(f"generating {args.n} MR instances ...", flush=True)
        files = generate(folder, args.n)
        warm = generate(folder / "warmup", WARMUP_FILES, warmup=True)
        size_kb = sum(p.stat().st_size for p in files) / len(files) / 1024

        template = f"iim_bench_ingest_{secrets.token_hex(4)}"
        stack.migrated_database(template)

        print("ours: N/4 (memory) ...", flush=True)
        quarter = run_ours(stack, template, folder, args.n // 4, "quarter")
        ours_rounds: list[dict] = []
        orthanc_rounds: list[float] = []
        cstore_ours: list[dict] = []
        cstore_orthanc: list[float] = []
        version = "?"
        for number in range(1, args.rounds + 1):
            ours_rounds.append(run_ours(stack, template, folder, args.n, f"round{number}"))
            orthanc, base, auth, version, _port = start_orthanc(stack, f"round{number}")
            orthanc_rounds.append(run_orthanc(base, auth, files, warm))
            stack.stop_process(orthanc)
            shutil.rmtree(stack.tmp / f"orthanc-round{number}", ignore_errors=True)
            ours_round, orthanc_round = (
                args.n / ours_rounds[-1]["seconds"],
                args.n / orthanc_rounds[-1],
            )
            print(
                f"round {number}: ours {ours_round:.1f}/s, orthanc {orthanc_round:.1f}/s "
                f"(ratio {ours_round / orthanc_round:.2f})",
                flush=True,
            )
            label = f"round{number}"
            cstore_ours.append(run_ours_cstore(stack, template, folder, warm, args.n, label))
            cstore_orthanc.append(run_orthanc_cstore(stack, folder, warm, args.n, label))
            ours_round = args.n / cstore_ours[-1]["seconds"]
            orthanc_round = args.n / cstore_orthanc[-1]
            print(
                f"round {number} C-STORE: ours {ours_round:.1f}/s, orthanc "
                f"{orthanc_round:.1f}/s (ratio {ours_round / orthanc_round:.2f}), listener "
                f"growth {cstore_ours[-1]['growth_mb']:.1f} MB",
                flush=True,
            )

    ours = min(ours_rounds, key=lambda r: r["seconds"])
    orthanc_seconds = min(orthanc_rounds)
    ours_rate = args.n / ours["seconds"]
    orthanc_rate = args.n / orthanc_seconds
    ratio = ours_rate / orthanc_rate
    full_growth = max(r["peak_mb"] - r["rss_before_mb"] for r in ours_rounds)
    growth = {quarter["n"]: quarter["peak_mb"] - quarter["rss_before_mb"], args.n: full_growth}
    patients = max(1, round(args.n * PATIENTS_PER_1000 / 1000))
    print()
    print(
        f"{args.n} MR instances of {size_kb:.1f} KB ({SIZE}x{SIZE} 16-bit, explicit VR little "
        f"endian), {patients} patients x 2 series; both sides sequential (one process; one "
        f"HTTP client, keep-alive), warmed up with the same 6 files; best of {args.rounds} "
        "alternating rounds"
    )
    print(
        f"ours:    {ours_rate:8.1f} instances/s ({ours['seconds']:.2f} s; read + validate + "
        "de-identify + store + index in Postgres)"
    )
    print(
        f"orthanc: {orthanc_rate:8.1f} instances/s ({orthanc_seconds:.2f} s; POST /instances, "
        f"Orthanc {version}, default built-in index)"
    )
    print(f"ratio ours/orthanc: {ratio:.2f} (target >= {TARGET_RATIO})")
    print(
        "our peak RSS growth during the import (largest over the rounds): "
        + ", ".join(f"N={n}: {mb:.1f} MB" for n, mb in sorted(growth.items()))
    )
    cstore_ours_rate = args.n / min(r["seconds"] for r in cstore_ours)
    cstore_orthanc_rate = args.n / min(cstore_orthanc)
    cstore_ratio = cstore_ours_rate / cstore_orthanc_rate
    listener_growth = max(r["growth_mb"] for r in cstore_ours)
    sent_mb = args.n * size_kb / 1024
    print(
        f"C-STORE, one storescu association each, best of {args.rounds} rounds:\n"
        f"ours:    {cstore_ours_rate:8.1f} instances/s (send, check, stage and fsync, then "
        "the import job, to its end)\n"
        f"orthanc: {cstore_orthanc_rate:8.1f} instances/s (Orthanc's C-STORE SCP)\n"
        f"ratio ours/orthanc: {cstore_ratio:.2f} (target >= {CSTORE_TARGET_RATIO})\n"
        f"listener peak RSS growth over a {sent_mb:.0f} MB send (largest over the rounds): "
        f"{listener_growth:.1f} MB"
    )
    print(
        f"RESULT name=ingest ratio={ratio:.3f} ours_per_s={ours_rate:.1f} "
        f"orthanc_per_s={orthanc_rate:.1f} rss_growth_mb={growth[args.n]:.1f} "
        f"cstore_ratio={cstore_ratio:.3f} cstore_ours_per_s={cstore_ours_rate:.1f} "
        f"cstore_orthanc_per_s={cstore_orthanc_rate:.1f} listener_growth_mb={listener_growth:.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
