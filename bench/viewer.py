"""The read page's viewer in Chromium: first slice, whole study cached, scrolling; vs. a client.

The limit is fetching the same images with a plain HTTP client.

    python bench/viewer.py [--rounds 3] [--stations 4] [--slices 56] [--overlap 4]
                           [--window 1600x1000] [--screenshot /tmp/iim-bench-viewer.png]
                           [--js-profile] [--bundle DIR] [--headed]

The bench starts what it needs and removes it at the end (bench/support/stack.py):
- a throwaway Postgres database (BENCH_POSTGRES_URL, the machine's server, or the embedded
  one), migrated; Redis database 9 of the machine's server (BENCH_REDIS_URL, or a private
  redis-server) as the cache (CACHE_URL), as docker-compose has it;
- one patient's whole-body study, generated here: per role (STIR: IR, TI 160 ms at 1.5 T; T1:
  SE, TR 550, TE 12) 4 overlapping axial stations of 56 slices, 256 x 256, 16 bit,
  MONOCHROME2, explicit VR little endian, imported through `dicom_import` (the real
  pipeline: check, de-identification, classification, storage); the stack composition cuts
  the overlaps, leaving >= 200 slices per stack; a radiologist with a read of the study on the
  "whole-body-iim" protocol (`read_assign`);
- the static files collected with production storage (hashed names, as the Dockerfile does)
  from the built bundle in static/reader/ (`npm run build` first when it is missing);
- gunicorn as docker-compose runs it (DJANGO_ENV=production with throwaway secrets, 4 sync
  workers, --timeout 120, access log on stdout, with the request time added to its format)
  on a free loopback port; SECURE_SSL_REDIRECT is off (in production TLS ends in front of it).

Per round, the two sides take turns (the machine is shared; each side's best round counts):
- the browser: Debian's Chromium through Playwright (software WebGL), a fresh context with
  an empty cache, signed in through the login form, opens the read page and measures, from
  navigation start (performance.timeOrigin):
  first_slice: `document.body.dataset.viewerReady` becoming "1" (both viewports rendered their
  first image), seen by a MutationObserver installed before the page's scripts; the first
  CORNERSTONE_IMAGE_RENDERED of each viewport is shown beside it;
  whole_study: every image of both stacks decoded and in the viewer's cache
  (iimViewer.cacheStatus(), polled every 50 ms), and no earlier than the responseEnd of the
  last image (Resource Timing entries of every imageId's URL, `wadouri:` stripped);
  scrolling (first round only, after whole_study): the STIR stack from its first slice to
  its last with iimViewer.scrollBy("stir", 1), one step per animation frame (a continuous
  wheel), T1 following by position; slices drawn per second = changes of the shown slice
  that were rendered (CORNERSTONE_STACK_NEW_IMAGE then CORNERSTONE_IMAGE_RENDERED on the
  viewport element), per viewport; the slower viewport counts;
- the limit: the same image URLs fetched with http.client from 6 threads (Chromium's
  connections per host over HTTP/1.1) with the browser's session cookie.
ratio = limit time / whole_study time (1.0: the viewer fetches as fast as a plain client).

After the rounds, one more browser round, not counted: right after the first slice, a jump to
the last slice of the stack (as a reader's jump to a region level while the prefetch runs),
timed until drawn; with --js-profile, the page's main thread is sampled in that round.

Where the time goes: the page's own timeline (document, bundle, first image request, first
image, first render); gunicorn's own time per image request (access log) in both phases; the
requests the browser kept on the wire; the CPU of gunicorn, Postgres (our database's
backends) and Chromium (from /proc, this run's processes only; Chromium also by process type
and thread, loading and scrolling apart); whether scrolling fetched anything again; and the
server's per-image cost, in a child process: the steps of the blinded copy (file read,
pydicom parse, blinding, UID remap, re-encoding), then the whole view through Django's test
client (queries, and a cProfile split: session, user, role and read lookup, image lookup,
blinded copy).

Targets (issue 20): first slice <= 1 s, whole study cached <= 5 s, ratio >= 0.5, scrolling
>= 30 slices/s; printed, not asserted. A screenshot of the page after loading is saved under
/tmp (--screenshot). The last line is `RESULT name=viewer ratio=R first_slice_ms=X
whole_study_s=Y limit_s=Z scroll_slices_per_s=S slices=N` (N: images of both stacks).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.support.env import REPO, in_project_python, setup_django

in_project_python()

import argparse  # noqa: E402
import http.client  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import secrets  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from urllib.parse import urlparse  # noqa: E402

from bench.support.broker import bench_redis  # noqa: E402
from bench.support.measure import CLOCK_TICKS, machine_busy, percentile  # noqa: E402
from bench.support.stack import Stack  # noqa: E402

PASSWORD = "bench-" + secrets.token_hex(8)
CHROMIUM = os.environ.get("BENCH_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
]
CONNECTIONS_PER_HOST = 6  # Chromium, HTTP/1.1
WINDOW = [{"width": 1600, "height": 1000}]  # --window
GUNICORN_WORKERS = 4  # docker-compose.yml, service web
LOG_FORMAT = "BENCH %(m)s %(U)s %(s)s %(D)s %(B)s"
TARGET_FIRST_MS = 1000.0
TARGET_WHOLE_S = 5.0
TARGET_RATIO = 0.5
TARGET_SCROLL = 30.0
SIZE = 256
SPACING_MM = 6.0

# -- the study -------------------------------------------------------------------------------

ROLES = (
    # role, description, scanning sequence, TR, TE, TI
    ("STIR", "STIR_TRA_WB", "IR", 4500.0, 70.0, 160.0),
    ("T1", "T1_TSE_TRA_WB", "SE", 550.0, 12.0, None),
)


def _slice_pixels(rng, role: str, k: int, total: int):
    """A plausible axial cross-section k of `total` (head to foot): trunk or two legs, a fat
    ring, muscle, bone, a few bright (oedema-like) spots on STIR, noise and a coil profile."""
    import numpy as np

    y, x = np.ogrid[:SIZE, :SIZE]
    fat, muscle, oedema = (1400, 520, 560) if role == "T1" else (140, 380, 1300)
    img = np.zeros((SIZE, SIZE), dtype=np.float32)
    t = k / max(1, total - 1)
    if t < 0.5:  # trunk: one body
        bodies = [(128, 128, 100 - 20 * abs(t - 0.3), 70)]
    else:  # legs, thinner towards the feet
        r = 48 - 30 * (t - 0.5)
        bodies = [(128 - 52, 128, r, r), (128 + 52, 128, r, r)]
    for cx, cy, rx, ry in bodies:
        d = ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2
        img[d <= 1] = fat
        img[d <= 0.72] = muscle
        bone = ((x - cx) / (rx * 0.18)) ** 2 + ((y - cy) / (ry * 0.18)) ** 2
        img[bone <= 1] = 60
        for spot in range(3):
            sx = cx + rx * 0.45 * np.cos(spot * 2.1 + t * 9)
            sy = cy + ry * 0.45 * np.sin(spot * 2.1 + t * 9)
            sd = ((x - sx) / (rx * 0.12)) ** 2 + ((y - sy) / (ry * 0.12)) ** 2
            img[sd <= 1] = oedema
    coil = 1.0 - 0.25 * (((x - 128) / 180.0) ** 2 + ((y - 128) / 180.0) ** 2)
    img = img * coil + rng.normal(0, 25, (SIZE, SIZE))
    return np.clip(img, 0, 4095).astype(np.uint16)


def generate_study(stations: int, slices: int, overlap: int, seed: int = 20) -> list:
    """(name, Part-10 bytes) of one patient's study: per role `stations` axial series of
    `slices` slices each, neighbours sharing `overlap` slice positions."""
    from io import BytesIO

    import numpy as np
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

    rng = np.random.default_rng(seed)
    study_uid, frame_uid = generate_uid(), generate_uid()
    step = slices - overlap
    total = step * (stations - 1) + slices
    top = 800.0  # mm, the head end of the first station
    files = []
    for r, (role, description, scanning, tr, te, ti) in enumerate(ROLES):
        for s in range(stations):
            series_uid = generate_uid()
            for i in range(slices):
                k = s * step + i  # the slice's place from head to foot
                z = top - k * SPACING_MM
                meta = FileMetaDataset()
                meta.MediaStorageSOPClassUID = MRImageStorage
                meta.TransferSyntaxUID = ExplicitVRLittleEndian
                ds = FileDataset("", {}, file_meta=meta, preamble=b"\0" * 128)
                ds.SpecificCharacterSet = "ISO_IR 100"
                ds.SOPClassUID = MRImageStorage
                ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID = generate_uid()
                ds.Modality = "MR"
                ds.PatientName = "Viewerbench^Vera"
                ds.PatientID = "VIEWER-BENCH-0001"
                ds.PatientBirthDate = "19680412"
                ds.PatientSex = "F"
                ds.PatientAge = "056Y"
                ds.StudyDate = ds.SeriesDate = ds.ContentDate = "20240611"
                ds.StudyTime = ds.SeriesTime = ds.ContentTime = "083000"
                ds.AccessionNumber = "ACC0000001"
                ds.StudyID = "1"
                ds.StudyDescription = "WB MRI myositis"
                ds.InstitutionName = "Bench University Hospital"
                ds.ReferringPhysicianName = "Referrer^Rita"
                ds.Manufacturer = "iim-scoring"
                ds.ManufacturerModelName = "Bench 1.5T"
                ds.MagneticFieldStrength = "1.5"
                ds.StudyInstanceUID = study_uid
                ds.SeriesInstanceUID = series_uid
                ds.FrameOfReferenceUID = frame_uid
                ds.SeriesNumber = r * 100 + s + 1
                ds.SeriesDescription = ds.ProtocolName = f"{description}_ST{s + 1}"
                ds.InstanceNumber = i + 1
                ds.ScanningSequence = scanning
                ds.SequenceVariant = ["SK", "SP"]
                ds.ScanOptions = "IR" if ti else ""
                ds.RepetitionTime, ds.EchoTime = f"{tr:.1f}", f"{te:.1f}"
                if ti:
                    ds.InversionTime = f"{ti:.1f}"
                ds.SliceThickness = ds.SpacingBetweenSlices = f"{SPACING_MM:.1f}"
                ds.ImagePositionPatient = ["-240.0", "-240.0", f"{z:.1f}"]
                ds.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
                ds.SliceLocation = f"{z:.1f}"
                ds.PixelSpacing = ["1.875", "1.875"]
                ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
                ds.Rows = ds.Columns = SIZE
                ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
                ds.WindowCenter, ds.WindowWidth = (
                    ("700", "1400") if role == "T1" else ("600", "1200")
                )
                ds.PixelData = _slice_pixels(rng, role, k, total).tobytes()
                ds["PixelData"].VR = "OW"
                buffer = BytesIO()
                ds.save_as(buffer, enforce_file_format=True)
                files.append((f"{role}-{s + 1}-{i + 1:03d}.dcm", buffer.getvalue()))
    return files


def child_setup(stations: int, slices: int, overlap: int, password: str) -> dict:
    """In a child with the bench's environment: the study imported, a radiologist, a read."""
    setup_django()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from cohorts.imaging.ingest import dicom_import
    from cohorts.models import ImagingStudy, Series
    from cohorts.roles import RADIOLOGIST, ensure_roles
    from cohorts.services import cohort_create
    from scoring.models import ScoringProtocol
    from scoring.services import read_assign

    ensure_roles()
    began = time.perf_counter()
    files = generate_study(stations, slices, overlap)
    generated = time.perf_counter()
    cohort = cohort_create(
        slug="bench-viewer", title="Viewer bench (synthetic)", actor=None, is_synthetic=True
    )
    report = dicom_import(cohort=cohort, files=files, actor=None)
    imported = time.perf_counter()
    if report.count("imported") != len(files):
        problems = {f.reason for f in report.files if f.status != "imported"}
        raise RuntimeError(f"the import did not take every file: {problems}")
    study = ImagingStudy.objects.get(patient__cohort=cohort)
    roles = sorted(
        {(s.sequence, s.orientation, s.role_source) for s in Series.objects.filter(study=study)}
    )
    user = get_user_model().objects.create_user(username="bench-viewer-reader", password=password)
    user.groups.add(Group.objects.get(name=RADIOLOGIST))
    protocol = ScoringProtocol.objects.get(slug="whole-body-iim")
    read = read_assign(study=study, protocol=protocol, reader=user, actor=None)
    return {
        "username": user.username,
        "read": read.token,
        "files": len(files),
        "bytes": sum(len(b) for _, b in files),
        "series_roles": roles,
        "generate_s": generated - began,
        "import_s": imported - generated,
    }


# What an image request does, by the function that does it (cumulative time under cProfile).
PROFILE_PARTS = {
    "read_copy (parse, blind, remap, encode)": ("scoring/blinding.py", "read_copy"),
    "read_get_for_reader (role check, read query)": ("scoring/selectors.py", "read_get_for_reader"),
    "read_instance_get (token map, instance query)": ("scoring/selectors.py", "read_instance_get"),
    "session load": ("sessions/backends/db.py", "load"),
    "session save (every request: BEGIN, UPDATE, COMMIT)": ("sessions/backends/db.py", "save"),
    "user load": ("contrib/auth/__init__.py", "get_user"),
}


def _header_only_copy(data: bytes, read) -> bytes:
    """read_copy's answer, parsing and re-encoding only what precedes the pixel data (a
    proposal measured here; falls back to read_copy when the layout is not the simple one)."""
    import io

    import pydicom

    from cohorts.imaging.dicom.blind import blind_dataset
    from cohorts.imaging.dicom.deid import dicom_bytes, remap_uid
    from scoring.blinding import REMAPPED_UIDS, _read_key, read_copy

    ds = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)
    at = data.rfind(b"\xe0\x7f\x10\x00")  # (7FE0,0010) Pixel Data, explicit VR little endian
    if at < 0 or ds.file_meta.TransferSyntaxUID != pydicom.uid.ExplicitVRLittleEndian:
        return read_copy(data, read=read)
    blind_dataset(ds, blind_label=read.blind_label)
    key = _read_key(read, "uid")
    for keyword in REMAPPED_UIDS:
        if keyword in ds:
            setattr(ds, keyword, remap_uid(str(getattr(ds, keyword)), key))
    if "SOPInstanceUID" in ds:
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    return dicom_bytes(ds) + data[at:]


def _query_kind(sql: str) -> str:
    """ "SELECT scoring_read", "UPDATE django_session", ...: a query's verb and first table."""
    import re

    table = re.search(r'(?:FROM|UPDATE|INTO)\s+"(\w+)"', sql)
    return f"{sql.split()[0]} {table.group(1) if table else '?'}"


def child_server_profile(read_token: str, n: int) -> dict:
    """In a child with the bench's environment: what the image view spends per image, step by
    step (the steps of scoring.blinding.read_copy), then the whole view through Django's test
    client (middleware, session, permission checks, queries), profiled, over `n` images; and
    two changes measured in this process only (not in the app's code)."""
    setup_django()
    from cohorts.models import Instance
    from scoring.models import Read

    read = Read.objects.select_related("reader").get(token=read_token)
    instances = list(Instance.objects.filter(series__study_id=read.study_id).order_by("pk")[:n])
    return {"n": len(instances)} | _copy_steps(read, instances) | _view_profile(read, instances)


def _copy_steps(read, instances: list) -> dict:
    """read_copy's steps, timed one by one; and the header-only copy (a proposal)."""
    import io

    import pydicom

    from cohorts.imaging.dicom.blind import blind_dataset
    from cohorts.imaging.dicom.deid import dicom_bytes, remap_uid
    from scoring.blinding import REMAPPED_UIDS, _read_key, read_copy

    steps = {k: 0.0 for k in ("open_read", "dcmread", "blind", "remap", "encode", "read_copy")}
    size_in = size_out = 0
    header_only = 0.0
    same = 0
    for instance in instances:
        t0 = time.perf_counter()
        with instance.file.open("rb") as handle:
            data = handle.read()
        t1 = time.perf_counter()
        ds = pydicom.dcmread(io.BytesIO(data))
        t2 = time.perf_counter()
        blind_dataset(ds, blind_label=read.blind_label)
        t3 = time.perf_counter()
        key = _read_key(read, "uid")
        for keyword in REMAPPED_UIDS:
            if keyword in ds:
                setattr(ds, keyword, remap_uid(str(getattr(ds, keyword)), key))
        t4 = time.perf_counter()
        out = dicom_bytes(ds)
        t5 = time.perf_counter()
        copy = read_copy(data, read=read)
        t6 = time.perf_counter()
        spent = (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5)
        for name, seconds in zip(steps, spent, strict=True):
            steps[name] += seconds
        size_in += len(data)
        size_out += len(out)
        # What if the copy parsed and re-encoded only the header and copied the pixel data
        # element's bytes as they are (checked: the same bytes as read_copy's).
        t7 = time.perf_counter()
        same += _header_only_copy(data, read) == copy
        header_only += time.perf_counter() - t7
    count = max(1, len(instances))
    return {
        "steps_ms": {k: v / count * 1000 for k, v in steps.items()},
        "kb_in": size_in / count / 1024,
        "kb_out": size_out / count / 1024,
        "header_only_ms": header_only / count * 1000,
        "header_only_same": same,
    }


def _view_profile(read, instances: list) -> dict:
    """The image view through Django's test client: time, queries, a cProfile split; and the
    same without the session save on each request (settings of this process only)."""
    import cProfile
    import io
    import pstats
    from collections import Counter

    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, override_settings
    from django.urls import reverse

    from scoring.blinding import image_token

    count = max(1, len(instances))
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(read.reader)
    paths = [
        reverse("scoring:read-image", args=[read.token, image_token(read=read, instance_id=i.pk)])
        for i in instances
    ]
    assert client.get(paths[0]).status_code == 200  # warm: imports, the token map cached

    def get_all() -> float:
        began = time.perf_counter()
        for path in paths:
            response = client.get(path)
            if response.status_code != 200:
                raise RuntimeError(f"{path}: HTTP {response.status_code}")
        return time.perf_counter() - began

    # With and without the session save, in turn (the machine is shared): the best of three.
    with_save, without_save = [], []
    for _ in range(3):
        with_save.append(get_all())
        with (
            override_settings(SESSION_SAVE_EVERY_REQUEST=False),
            CaptureQueriesContext(connection) as fewer,
        ):
            without_save.append(get_all())
    request_s, no_save_s = min(with_save), min(without_save)
    profiler = cProfile.Profile()
    with CaptureQueriesContext(connection) as queries:
        profiler.enable()
        get_all()
        profiler.disable()
    kinds = Counter(_query_kind(q["sql"]) for q in queries.captured_queries)
    stats = pstats.Stats(profiler, stream=io.StringIO())
    total = sum(tt for (_cc, _nc, tt, _ct, _callers) in stats.stats.values())
    parts: dict[str, float] = {}
    for (filename, _line, function), (_cc, _nc, _tt, cumtime, _callers) in stats.stats.items():
        for label, (where, name) in PROFILE_PARTS.items():
            if function == name and where in filename:
                parts[label] = parts.get(label, 0.0) + cumtime
    top = [f"whole request {total / count * 1000:.2f} ms under the profiler"] + [
        f"{label} {seconds / count * 1000:.2f} ms ({seconds / total * 100:.0f} %)"
        for label, seconds in parts.items()
    ]
    return {
        "request_ms": request_s / count * 1000,
        "queries": len(queries.captured_queries) / count,
        "queries_text": ", ".join(f"{k} x{v / count:.1f}" for k, v in kinds.most_common(8)),
        "no_session_save_ms": no_save_s / count * 1000,
        "no_session_save_queries": len(fewer.captured_queries) / count,
        "top": top,
    }


# -- the browser -----------------------------------------------------------------------------

# Installed before the page's own scripts: when the viewer says it is ready, each viewport's
# first render, and (while `scrolling`) the slices drawn per viewport.
INIT_SCRIPT = """
(() => {
  performance.setResourceTimingBufferSize(100000);
  const b = window.__bench = {ready: null, error: null, firstRender: {}, scrolling: false,
                              drawn: {}, newIndex: {}, renderedIndex: {}, renders: {},
                              loadRenders: {}};
  new MutationObserver(() => {
    const body = document.body;
    if (!body) return;
    if (b.ready === null && body.dataset.viewerReady === '1') b.ready = performance.now();
    if (b.error === null && body.dataset.viewerError) b.error = body.dataset.viewerError;
  }).observe(document, {attributes: true, subtree: true,
                        attributeFilter: ['data-viewer-ready', 'data-viewer-error']});
  const key = (evt) => (evt.target && evt.target.id || '').replace(/^viewport-/, '');
  document.addEventListener('CORNERSTONE_STACK_NEW_IMAGE', (evt) => {
    b.newIndex[key(evt)] = evt.detail && evt.detail.imageIdIndex;
  }, true);
  document.addEventListener('CORNERSTONE_IMAGE_RENDERED', (evt) => {
    const k = key(evt);
    if (!(k in b.firstRender)) b.firstRender[k] = performance.now();
    if (!b.scrolling) {
      b.loadRenders[k] = (b.loadRenders[k] || 0) + 1;
      return;
    }
    b.renders[k] = (b.renders[k] || 0) + 1;
    if (b.newIndex[k] !== b.renderedIndex[k]) {
      b.renderedIndex[k] = b.newIndex[k];
      b.drawn[k] = (b.drawn[k] || 0) + 1;
    }
  }, true);
})();
"""

# Resource Timing of the images: how many of `urls` were fetched, and when.
FETCHED_JS = """
(urls) => {
  const wanted = new Set(urls);
  const seen = new Map();
  for (const e of performance.getEntriesByType('resource')) {
    if (wanted.has(e.name) && !seen.has(e.name)) seen.set(e.name, e);
  }
  const entries = [...seen.values()];
  return {
    count: entries.length,
    entries: entries.map((e) => [e.startTime, e.responseEnd, e.transferSize,
                                 e.initiatorType, e.nextHopProtocol, e.requestStart]),
  };
}
"""

# Where the first slice's time goes: the page, its scripts, the first images (ms from
# navigation start).
LOAD_JS = """
() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const out = {document_response_end: nav.responseEnd,
               dom_content_loaded: nav.domContentLoadedEventEnd};
  const images = [];
  for (const e of performance.getEntriesByType('resource')) {
    const name = e.name.split('/').pop();
    if (e.name.includes('/images/')) images.push(e);
    else if (/\\.(js|wasm|css)$/.test(name)) {
      out[name.replace(/\\.[0-9a-f]{12}\\./, '.')] = [Math.round(e.startTime),
                                                     Math.round(e.responseEnd), e.transferSize];
    }
  }
  images.sort((a, b) => a.responseEnd - b.responseEnd);
  out.first_image_request = images.length ? Math.min(...images.map((e) => e.startTime)) : null;
  out.first_image_end = images.length ? images[0].responseEnd : null;
  out.second_image_end = images.length > 1 ? images[1].responseEnd : null;
  return out;
}
"""

# A jump to the far end of the stack right after the first slice, while the prefetch is
# running (as a reader's jump to a region level): ms until the slice is drawn in both.
JUMP_JS = """
async (key) => {
  const v = window.iimViewer;
  const last = v.state()[key].count - 1;
  const t0 = performance.now();
  await v.setSlice(key, last);
  await new Promise((resolve) => requestAnimationFrame(resolve));
  const fetched = performance.getEntriesByType('resource')
    .filter((e) => e.name.includes('/images/') && e.responseEnd > 0).length;
  return {ms: performance.now() - t0, at: t0, fetched_before: fetched};
}
"""

# Idle frame rate of the page (nothing scrolled): what rAF pacing alone allows.
FRAMES_JS = """
async () => {
  const frame = () => new Promise((resolve) => requestAnimationFrame(resolve));
  await frame();
  const t0 = performance.now();
  for (let i = 0; i < 60; i++) await frame();
  return 60 / ((performance.now() - t0) / 1000);
}
"""

SCROLL_JS = """
async (key) => {
  const v = window.iimViewer;
  const b = window.__bench;
  const frame = () => new Promise((resolve) => requestAnimationFrame(resolve));
  const n = v.state()[key].count;
  await v.setSlice(key, 0);
  await frame(); await frame();
  b.drawn = {}; b.renders = {}; b.renderedIndex = {...b.newIndex};
  b.scrolling = true;
  const t0 = performance.now();
  let inScroll = 0;
  const slow = [];
  const stepMs = [];
  for (let i = 1; i < n; i++) {
    const s0 = performance.now();
    await v.scrollBy(key, 1);
    const s1 = performance.now();
    inScroll += s1 - s0;
    if (s1 - s0 > 100) slow.push([i, Math.round(s1 - s0)]);
    await frame();
    stepMs.push(performance.now() - s0);
  }
  await frame();
  const t1 = performance.now();
  stepMs.sort((a, b) => a - b);
  b.scrolling = false;
  const state = v.state();
  return {steps: n - 1, ms: t1 - t0, in_scroll_ms: inScroll, slow: slow.slice(0, 10),
          step_p50: stepMs[Math.floor(stepMs.length / 2)],
          step_p95: stepMs[Math.floor(stepMs.length * 0.95)],
          drawn: b.drawn, renders: b.renders,
          shown: Object.fromEntries(Object.entries(state).map(([k, s]) => [k, s.shownIndex])),
          counts: Object.fromEntries(Object.entries(state).map(([k, s]) => [k, s.count]))};
}
"""


def js_profile_summary(profile: dict, top: int = 14) -> list[str]:
    """The functions the main thread spent most time in (self time), from a V8 CPU profile."""
    nodes = {n["id"]: n for n in profile["nodes"]}
    self_us: dict[int, float] = {}
    samples, deltas = profile.get("samples", []), profile.get("timeDeltas", [])
    for i, node_id in enumerate(samples):
        # timeDeltas[i + 1] is the time from sample i to the next one: spent in node i.
        if i + 1 < len(deltas):
            self_us[node_id] = self_us.get(node_id, 0.0) + deltas[i + 1]
    by_name: dict[str, float] = {}
    for node_id, us in self_us.items():
        frame = nodes[node_id]["callFrame"]
        where = frame.get("url", "").rsplit("/", 1)[-1]
        where = re.sub(r"\.[0-9a-f]{12}\.", ".", where)
        name = f"{frame.get('functionName') or '(anonymous)'} {where}".strip()
        by_name[name] = by_name.get(name, 0.0) + us
    total = sum(by_name.values()) or 1.0
    busy = total - by_name.get("(idle)", 0.0)
    rows = sorted(by_name.items(), key=lambda kv: -kv[1])
    return [f"sampled {total / 1000:.0f} ms, not idle {busy / 1000:.0f} ms"] + [
        f"{us / 1000:7.1f} ms  {name}" for name, us in rows[:top] if name != "(idle)"
    ]


# Every image of every stack decoded and in Cornerstone's cache: performance.now(), else null.
CACHED_JS = """() => {
  const status = window.iimViewer.cacheStatus();
  const all = Object.values(status).every((s) => s.loaded === s.count);
  return all ? performance.now() : null;
}"""
STATUS_JS = "() => window.iimViewer.cacheStatus()"


def _wait_fetched(page, urls: list[str], deadline: float) -> dict:
    """Resource Timing of `urls` once every one of them was fetched."""
    while True:
        fetched = page.evaluate(FETCHED_JS, urls)
        if fetched["count"] >= len(urls) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    if fetched["count"] < len(urls):
        raise RuntimeError(f"only {fetched['count']} of {len(urls)} images were fetched")
    return fetched


def _wait_cached(page, deadline: float) -> float:
    """performance.now() when every image was decoded and in the viewer's cache (fetched is
    not yet usable), polled every 50 ms."""
    while time.monotonic() <= deadline:
        cached_ms = page.evaluate(CACHED_JS)
        if cached_ms is not None:
            return cached_ms
        time.sleep(0.05)
    raise RuntimeError(f"not every image was in the viewer's cache: {page.evaluate(STATUS_JS)}")


def browser_round(
    browser,
    base: str,
    data: dict,
    *,
    scroll: bool,
    shot: str | None,
    on_fetched=None,
    profile_js: bool = False,
    jump_far: bool = False,
) -> dict:
    """One fresh context: sign in, open the read page, time it; see the module doc.
    `on_fetched()` is called as soon as every image was seen fetched; its answer is kept.
    Chromium's CPU by thread is taken before the page, then, and after the scrolling."""
    context = browser.new_context(viewport=WINDOW[0])
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.add_init_script(INIT_SCRIPT)
        page.goto(f"{base}/accounts/login/")
        page.fill("input[name=username]", data["username"])
        page.fill("input[name=password]", PASSWORD)
        with page.expect_navigation():
            page.click("form button[type=submit]")
        cookies = {c["name"]: c["value"] for c in context.cookies()}
        if "sessionid" not in cookies:
            raise RuntimeError(f"Chromium did not keep a session cookie: {sorted(cookies)}")
        read_url = f"{base}/reading/reads/{data['read']}/"
        threads = [chromium_threads()]
        cdp = None
        if profile_js:
            # The page's main thread sampled (V8's profiler) from navigation to the last image.
            cdp = context.new_cdp_session(page)
            cdp.send("Profiler.enable")
            cdp.send("Profiler.setSamplingInterval", {"interval": 500})
            cdp.send("Profiler.start")
        page.goto(read_url, wait_until="commit")
        page.wait_for_function(
            "() => window.__bench && (window.__bench.ready !== null || window.__bench.error)",
            timeout=120_000,
            polling=50,
        )
        bench = page.evaluate("() => window.__bench")
        if bench["error"]:
            raise RuntimeError(f"the viewer reported: {bench['error']}")
        jump = page.evaluate(JUMP_JS, "stir") if jump_far else None
        config = page.evaluate(
            "() => JSON.parse(document.getElementById('reader-config').textContent)"
        )
        stacks = {s["key"]: s["imageIds"] for s in config["series"]}
        urls = [base + i.removeprefix("wadouri:") for ids in stacks.values() for i in ids]
        urls = list(dict.fromkeys(urls))
        deadline = time.monotonic() + 180
        fetched = _wait_fetched(page, urls, deadline)
        cached_ms = _wait_cached(page, deadline)
        at_fetched = on_fetched() if on_fetched else None
        threads.append(chromium_threads())
        js_profile = js_profile_summary(cdp.send("Profiler.stop")["profile"]) if cdp else None
        load = page.evaluate(LOAD_JS)
        entries = fetched["entries"]
        starts = sorted(e[0] for e in entries)
        ends = sorted(e[1] for e in entries)
        # How many image requests were open at once (from Resource Timing).
        events = sorted([(s, 1) for s in starts] + [(e, -1) for e in ends])
        open_now = peak = 0
        for _, delta in events:
            open_now += delta
            peak = max(peak, open_now)
        durations = [e[1] - e[0] for e in entries]
        # Requests on the wire (from requestStart, i.e. not queued in the browser), on average
        # over the span of the fetch: what the server saw at once.
        sent = [e for e in entries if e[5] > 0]
        span = max(e[1] for e in sent) - min(e[5] for e in sent) if sent else 0.0
        in_flight = sum(e[1] - e[5] for e in sent) / span if span else 0.0
        load_renders = page.evaluate("() => window.__bench.loadRenders")
        out = {
            "first_slice_ms": bench["ready"],
            "first_render_ms": bench["firstRender"],
            "whole_study_s": max(ends[-1], cached_ms) / 1000,
            "last_fetched_s": ends[-1] / 1000,
            "first_image_request_ms": starts[0],
            "images": len(urls),
            "stacks": {k: len(v) for k, v in stacks.items()},
            "peak_open": peak,
            "in_flight": in_flight,
            "load_renders": load_renders,
            "request_ms_p50": percentile(durations, 50),
            "request_ms_p95": percentile(durations, 95),
            "initiator": sorted({e[3] for e in entries}),
            "protocol": sorted({e[4] for e in entries}),
            "cookies": cookies,
            "urls": urls,
            "page_errors": errors,
            "at_fetched": at_fetched,
            "threads": threads,
            "js_profile": js_profile,
            "jump": jump,
            "load": load,
        }
        if shot:
            page.wait_for_timeout(300)
            page.screenshot(path=shot)
            out["screenshot"] = shot
        if scroll:
            count_images = "() => performance.getEntriesByType('resource')" + (
                ".filter((e) => e.name.includes('/images/')).length"
            )
            before = page.evaluate(count_images)
            out["idle_fps"] = page.evaluate(FRAMES_JS)
            out["scroll"] = page.evaluate(SCROLL_JS, "stir")
            threads.append(chromium_threads())
            out["scroll"]["refetched"] = page.evaluate(count_images) - before
            errors_after = page.evaluate("() => document.body.dataset.viewerError || ''")
            if errors_after:
                raise RuntimeError(f"the viewer reported while scrolling: {errors_after}")
        return out
    finally:
        context.close()


# -- the limit: a plain HTTP client ----------------------------------------------------------


def fetch_all(base: str, urls: list[str], cookies: dict[str, str], connections: int) -> dict:
    """Every URL once, from `connections` threads, each with its own connection (re-opened
    when the server closes it, as gunicorn's sync workers do after each response)."""
    parsed = urlparse(base)
    cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
    paths = [urlparse(u).path for u in urls]
    lock = threading.Lock()
    next_index = [0]
    failures: list[str] = []
    total_bytes = [0]

    def work() -> None:
        conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=60)
        got = 0
        while True:
            with lock:
                if next_index[0] >= len(paths):
                    break
                path = paths[next_index[0]]
                next_index[0] += 1
            try:
                conn.request("GET", path, headers={"Cookie": cookie})
                response = conn.getresponse()
                body = response.read()
                if response.will_close:
                    conn.close()
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                failures.append(f"{path}: {exc}")
                continue
            if response.status != 200:
                failures.append(f"{path}: HTTP {response.status}")
            got += len(body)
        conn.close()
        with lock:
            total_bytes[0] += got

    threads = [threading.Thread(target=work, daemon=True) for _ in range(connections)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - began
    if failures:
        raise RuntimeError(f"{len(failures)} image requests failed, e.g. {failures[:3]}")
    return {"seconds": seconds, "bytes": total_bytes[0]}


# -- where the CPU goes (Linux /proc) --------------------------------------------------------


def _descendants_cpu(db_name: str) -> dict[str, tuple[str, float]]:
    """CPU seconds so far, per process: this process's descendants as gunicorn (its master
    and workers), chromium (every process of the browser) or other (Playwright's driver);
    the Postgres backends of our database; this process (the plain client, Playwright's
    Python side). Keyed by pid, so that a process ending between two snapshots does not
    take its past CPU with it (see _cpu_delta)."""
    procs = {}
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else []:
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        procs[int(entry.name)] = (int(fields[1]), cmdline, int(fields[11]) + int(fields[12]))
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in procs.items():
        children.setdefault(ppid, []).append(pid)
    out: dict[str, tuple[str, float]] = {}
    for pid, (_ppid, cmdline, ticks) in procs.items():
        if cmdline.startswith("postgres:") and f" {db_name} " in cmdline:
            out[str(pid)] = ("postgres", ticks / CLOCK_TICKS)

    def walk(pid: int, part: str | None) -> None:
        for child in children.get(pid, []):
            _, cmdline, ticks = procs[child]
            mine = part
            if mine is None:
                if "gunicorn" in cmdline:
                    mine = "gunicorn"
                elif "chrom" in cmdline:
                    mine = "chromium"
            out[str(child)] = (mine or "other children", ticks / CLOCK_TICKS)
            walk(child, mine)

    walk(os.getpid(), None)
    times = os.times()
    out["self"] = ("bench (client)", times.user + times.system)
    return out


def chromium_threads() -> dict[str, tuple[str, float]]:
    """CPU seconds so far of the threads of this run's Chromium, keyed by thread, labelled
    by process type and thread name ("renderer/CrRendererMain", "gpu-process/...")."""
    import re

    out: dict[str, tuple[str, float]] = {}
    for pid in _chromium_pids():
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        kind = re.search(r"--type=([\w-]+)", cmdline)
        sub = re.search(r"--utility-sub-type=[\w.]*?(\w+)\.mojom", cmdline)
        label = (kind.group(1) if kind else "browser") + (f":{sub.group(1)}" if sub else "")
        for task in Path(f"/proc/{pid}/task").glob("*"):
            try:
                name = (task / "comm").read_text().strip()
                stat = (task / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2 :].split()
            name = re.sub(r"\d+$", "", name).strip() or "?"
            seconds = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
            out[f"{pid}/{task.name}"] = (f"{label}/{name}", seconds)
    return out


def _chromium_pids() -> list[int]:
    """This process's descendants that are Chromium's."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat[stat.rindex(")") + 2 :].split()[1])
    mine, found = {os.getpid()}, []
    changed = True
    while changed:
        changed = False
        for pid, ppid in parents.items():
            if ppid in mine and pid not in mine:
                mine.add(pid)
                changed = True
    for pid in mine:
        try:
            exe = os.readlink(f"/proc/{pid}/exe")
        except OSError:
            continue
        if "chrom" in exe:
            found.append(pid)
    return found


def _cpu_delta(
    before: dict[str, tuple[str, float]], after: dict[str, tuple[str, float]]
) -> dict[str, float]:
    """CPU seconds between two snapshots, summed by label: what each process (thread) now
    alive used since the first (all of it if it is new); one that ended in between is lost."""
    out: dict[str, float] = {}
    for key, (label, seconds) in after.items():
        used = seconds - before.get(key, (label, 0.0))[1]
        out[label] = out.get(label, 0.0) + max(0.0, used)
    return out


# -- gunicorn's access log -------------------------------------------------------------------


def image_request_times(log: str, since: int) -> list[float]:
    """Server ms of the image requests logged after offset `since` of the access log."""
    out = []
    for line in log[since:].splitlines():
        parts = line.split()
        if len(parts) >= 6 and parts[0] == "BENCH" and "/images/" in parts[2] and parts[3] == "200":
            out.append(int(parts[4]) / 1000)
    return out


# -- the run ---------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="browser/limit alternations")
    parser.add_argument("--stations", type=int, default=4)
    parser.add_argument("--slices", type=int, default=56, help="slices per station")
    parser.add_argument("--overlap", type=int, default=4, help="slices shared by neighbours")
    parser.add_argument("--profile-images", type=int, default=60)
    parser.add_argument("--screenshot", default="/tmp/iim-bench-viewer.png", help="'' for none")
    parser.add_argument("--headed", action="store_true", help="a visible browser window")
    parser.add_argument(
        "--bundle",
        default="",
        help="a folder with another build of static/reader/ (vite build --outDir DIR) served "
        "instead of the repository's: to try a viewer change without building into the repo",
    )
    parser.add_argument(
        "--js-profile",
        action="store_true",
        help="after the rounds, one more browser round with the page's main thread sampled "
        "(not counted: the profiler slows it down), and where its time goes",
    )
    parser.add_argument(
        "--window", default="1600x1000", help="browser window WxH (a reading workstation)"
    )
    return parser.parse_args()


def ensure_bundle(stack: Stack) -> None:
    """static/reader/ built (npm run build when it is missing)."""
    if (REPO / "static" / "reader" / "reader.js").is_file():
        return
    if shutil.which("npm") is None:
        raise SystemExit("static/reader/ is not built and npm is missing: run ./run.sh test once.")
    print("building the viewer (npm run build)...", flush=True)
    if not (REPO / "node_modules").is_dir():
        stack.run(["npm", "ci", "--no-audit", "--no-fund"], "npm ci", timeout=900)
    stack.run(["npm", "run", "build"], "npm run build", timeout=900)


def use_bundle(static_root: Path, bundle: Path) -> list[str]:
    """Serve the files of `bundle` in place of the collected static/reader/ files of the same
    names (the unhashed and the hashed copies; their compressed copies removed, so whitenoise
    serves the new bytes uncompressed). The names replaced."""
    folder = static_root / "reader"
    replaced = []
    for source in sorted(p for p in bundle.iterdir() if p.is_file()):
        stem, dot, ext = source.name.partition(".")
        pattern = re.compile(rf"{re.escape(stem)}(\.[0-9a-f]{{12}})?{re.escape(dot + ext)}")
        for target in list(folder.iterdir()):
            if pattern.fullmatch(target.name):
                target.write_bytes(source.read_bytes())
                for suffix in (".gz", ".br"):
                    target.with_name(target.name + suffix).unlink(missing_ok=True)
                replaced.append(target.name)
    return replaced


def production_env(stack: Stack, redis_url: str | None) -> None:
    """docker-compose's environment for the web service, with throwaway secrets."""
    stack.env |= {
        "DJANGO_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "PSEUDONYM_PEPPER": secrets.token_urlsafe(32),
        "DICOM_UID_SECRET": secrets.token_urlsafe(32),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        # TLS ends in front of gunicorn in production; here the browser talks plain HTTP.
        "SECURE_SSL_REDIRECT": "false",
        "STATIC_ROOT": str(stack.tmp / "staticfiles"),
    }
    if redis_url:
        stack.env["CACHE_URL"] = redis_url


def summary(values: list[float]) -> str:
    if not values:
        return "n/a"
    return (
        f"n {len(values)}, p50 {percentile(values, 50):.1f}, p95 {percentile(values, 95):.1f}, "
        f"mean {statistics.fmean(values):.1f}"
    )


def main() -> int:
    args = parse_args()
    width, height = (int(v) for v in args.window.lower().split("x"))
    WINDOW[0] = {"width": width, "height": height}
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        print(f"needs Chromium at {CHROMIUM} (BENCH_CHROMIUM)", file=sys.stderr)
        return 2
    with Stack("viewer") as stack:
        ensure_bundle(stack)
        redis_url = bench_redis(stack, db=9)
        production_env(stack, redis_url)
        db_name = f"iim_bench_{secrets.token_hex(4)}"
        print(f"database {db_name}: migrating...", flush=True)
        stack.env["DATABASE_URL"] = stack.migrated_database(db_name)
        stack.run(
            [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"], "collectstatic"
        )
        print(
            f"generating and importing the study ({args.stations} stations x {args.slices} "
            f"slices, overlap {args.overlap}, per role)...",
            flush=True,
        )
        if args.bundle:
            replaced = use_bundle(Path(stack.env["STATIC_ROOT"]), Path(args.bundle))
            print(f"bundle: {len(replaced)} files of {args.bundle} served instead (uncompressed)")
        spec = json.dumps([args.stations, args.slices, args.overlap, PASSWORD])
        data = stack.run_json([sys.executable, __file__, "--setup-data", spec], "setup")
        print(
            f"  {data['files']} files ({data['bytes'] / 2**20:.1f} MB) generated in "
            f"{data['generate_s']:.1f} s, imported in {data['import_s']:.1f} s; series "
            f"{data['series_roles']}"
        )
        base = stack.start_gunicorn(
            workers=GUNICORN_WORKERS,
            options=[
                "--timeout",
                "120",
                "--access-logfile",
                "-",
                "--access-logformat",
                LOG_FORMAT,
            ],
        )
        print(
            f"stack: gunicorn {GUNICORN_WORKERS} sync workers (DJANGO_ENV=production, "
            f"whitenoise), cache {redis_url or 'locmem (no Redis)'}, Postgres {db_name}; "
            f"{os.cpu_count()} CPUs shared by the server, Chromium and the client; "
            f"load average before: {os.getloadavg()[0]:.1f}",
            flush=True,
        )
        browser_runs: list[dict] = []
        limit_runs: list[dict] = []
        server_ms: dict[str, list[float]] = {"browser": [], "limit": []}
        cpu: dict[str, dict[str, float]] = {"browser": {}, "limit": {}}
        busy: dict[str, list[float]] = {"browser": [0.0, 0.0], "limit": [0.0, 0.0]}

        def snapshot() -> tuple[dict[str, float], tuple[float, float]]:
            return _descendants_cpu(db_name), machine_busy()

        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=not args.headed
            )
            try:
                # Warm-up: every gunicorn worker imports its views, the browser its codecs.
                warm = browser_round(browser, base, data, scroll=False, shot=None)
                cookies, urls = warm["cookies"], warm["urls"]
                for r in range(args.rounds):
                    order = ("browser", "limit") if r % 2 == 0 else ("limit", "browser")
                    for side in order:
                        offset = len(stack.log("gunicorn"))
                        before = snapshot()
                        if side == "browser":
                            # The CPU until every image was fetched (not the scrolling after).
                            run = browser_round(
                                browser,
                                base,
                                data,
                                scroll=(r == 0),
                                shot=(args.screenshot or None) if r == 0 else None,
                                on_fetched=snapshot,
                            )
                            browser_runs.append(run)
                            after = run["at_fetched"]
                            print(
                                f"  round {r + 1} browser: first slice "
                                f"{run['first_slice_ms']:.0f} ms, whole study "
                                f"{run['whole_study_s']:.2f} s ({run['images']} images)",
                                flush=True,
                            )
                        else:
                            run = fetch_all(base, urls, cookies, CONNECTIONS_PER_HOST)
                            limit_runs.append(run)
                            after = snapshot()
                            print(
                                f"  round {r + 1} limit: {len(urls)} images in "
                                f"{run['seconds']:.2f} s ({run['bytes'] / 2**20:.1f} MB)",
                                flush=True,
                            )
                        time.sleep(0.5)  # the access log written
                        server_ms[side] += image_request_times(stack.log("gunicorn"), offset)
                        for part, used in _cpu_delta(before[0], after[0]).items():
                            cpu[side][part] = cpu[side].get(part, 0.0) + used
                        busy[side][0] += after[1][0] - before[1][0]
                        busy[side][1] += after[1][1] - before[1][1]
                # Not counted: a jump to the far end while the prefetch runs, and (if asked)
                # the main thread profiled.
                extra = browser_round(
                    browser,
                    base,
                    data,
                    scroll=False,
                    shot=None,
                    profile_js=args.js_profile,
                    jump_far=True,
                )
                browser_runs[0]["jump"] = extra["jump"]
                browser_runs[0]["js_profile"] = extra["js_profile"]
                browser_runs[0]["js_profile_whole_s"] = extra["whole_study_s"]
            finally:
                browser.close()
        profile = stack.run_json(
            [
                sys.executable,
                __file__,
                "--profile",
                json.dumps([data["read"], args.profile_images]),
            ],
            "server profile",
        )
        report(browser_runs, limit_runs, server_ms, cpu, busy, profile)
        return 0


def report(
    browser_runs: list[dict],
    limit_runs: list[dict],
    server_ms: dict[str, list[float]],
    cpu: dict[str, dict[str, float]],
    busy: dict[str, list[float]],
    profile: dict,
) -> None:
    first = min(r["first_slice_ms"] for r in browser_runs)
    whole = min(r["whole_study_s"] for r in browser_runs)
    limit = min(r["seconds"] for r in limit_runs)
    n = browser_runs[0]["images"]
    ratio = limit / whole if whole else 0.0
    scroll = browser_runs[0]["scroll"]
    rates = {k: v / (scroll["ms"] / 1000) for k, v in scroll["drawn"].items()}
    scroll_rate = min(rates.values()) if rates else 0.0
    print(f"stacks: {browser_runs[0]['stacks']} ({n} images)")
    print("browser rounds (ms from navigation start):")
    for i, r in enumerate(browser_runs, 1):
        renders = ", ".join(f"{k} {v:.0f}" for k, v in sorted(r["first_render_ms"].items()))
        print(
            f"  {i}: viewerReady {r['first_slice_ms']:.0f} (first render: {renders}); "
            f"last image fetched {r['whole_study_s'] * 1000:.0f}; image XHR (queued in the "
            f"browser included) p50 {r['request_ms_p50']:.0f} p95 {r['request_ms_p95']:.0f}, "
            f"{r['peak_open']} issued before the first answer ended or at once, "
            f"{r['in_flight']:.1f} on the wire on average; via {r['initiator']} "
            f"{r['protocol']}; renders while loading {r['load_renders']}"
        )
    load = browser_runs[0]["load"]
    print(
        "  first load, round 1: "
        + ", ".join(
            f"{k} {v:.0f}" if isinstance(v, int | float) else f"{k} {v[0]}-{v[1]}"
            for k, v in load.items()
            if v is not None
        )
    )
    if browser_runs[0]["page_errors"]:
        print(f"  page errors: {browser_runs[0]['page_errors'][:3]}")
    print(
        "limit rounds: "
        + ", ".join(f"{r['seconds']:.2f} s" for r in limit_runs)
        + f" ({CONNECTIONS_PER_HOST} connections, http.client)"
    )
    per_step = scroll["in_scroll_ms"] / max(1, scroll["steps"])
    print(
        f"scrolling: {scroll['steps']} steps of stir in {scroll['ms'] / 1000:.2f} s, one per "
        f"animation frame (idle page: {browser_runs[0]['idle_fps']:.0f} frames/s); "
        f"a step (scrollBy + next frame) p50 {scroll['step_p50']:.0f} ms p95 "
        f"{scroll['step_p95']:.0f} ms, of which scrollBy {per_step:.1f} ms; drawn "
        f"{scroll['drawn']}, renders {scroll['renders']}: "
        + ", ".join(f"{k} {v:.1f}/s" for k, v in rates.items())
        + f"; ended at {scroll['shown']} of {scroll['counts']}; images requested again while "
        f"scrolling: {scroll['refetched']} (0: all from the viewer's cache)"
        + (f"; steps over 100 ms: {scroll['slow']}" if scroll["slow"] else "")
    )
    jump = browser_runs[0]["jump"]
    print(
        f"jump to the last slice right after the first one (an extra round, prefetch running, "
        f"{jump['fetched_before']} images fetched when drawn): {jump['ms']:.0f} ms"
    )
    print("gunicorn time per image request (access log, ms):")
    for side in ("browser", "limit"):
        print(f"  during the {side} rounds: {summary(server_ms[side])}")
    steps = ", ".join(f"{k} {v:.2f}" for k, v in profile["steps_ms"].items())
    print(
        f"server cost per image, one process, no concurrency ({profile['n']} images, "
        f"{profile['kb_in']:.0f} KB in, {profile['kb_out']:.0f} KB out), ms: {steps}"
    )
    print(
        f"  the whole view through Django's test client (best of 3): "
        f"{profile['request_ms']:.2f} ms and "
        f"{profile['queries']:.1f} queries per image; {profile['queries_text']}"
    )
    print(
        f"  what if (this process only): no session save per request (best of 3, in turn): "
        f"{profile['no_session_save_ms']:.2f} ms, {profile['no_session_save_queries']:.1f} "
        f"queries per image; blinded copy re-encoding the header only: "
        f"{profile['header_only_ms']:.2f} ms instead of {profile['steps_ms']['read_copy']:.2f} "
        f"(same bytes for {profile['header_only_same']} of {profile['n']} images)"
    )
    print("  where a request's time goes (cProfile, cumulative per image; parts may nest):")
    for line in profile["top"]:
        print(f"    {line}")
    print("CPU seconds per round (this run's processes, /proc; browser: until the last image):")
    for side, rounds in (("browser", len(browser_runs)), ("limit", len(limit_runs))):
        parts = ", ".join(f"{k} {v / rounds:.2f}" for k, v in cpu[side].items())
        used, total = busy[side]
        share = f"; machine {used / total * 100:.0f} % busy" if total else ""
        print(f"  {side:<8} {parts}{share}")
    for phase, (a, b) in (("loading (page to last image)", (0, 1)), ("scrolling", (1, 2))):
        threads = browser_runs[0]["threads"]
        if len(threads) <= b:
            continue
        spent = _cpu_delta(threads[a], threads[b])
        top = sorted(spent.items(), key=lambda kv: -kv[1])[:7]
        print(
            f"  Chromium by thread, {phase}, round 1: {sum(spent.values()):.2f} s: "
            + ", ".join(f"{k} {v:.2f}" for k, v in top if v > 0)
        )
    if browser_runs[0].get("js_profile"):
        print(
            "  page main thread, navigation to last image, in an extra round (V8 sampling "
            f"profiler; that round's whole study {browser_runs[0]['js_profile_whole_s']:.2f} s):"
        )
        for line in browser_runs[0]["js_profile"]:
            print(f"    {line}")
    print(f"load average now {os.getloadavg()[0]:.1f} ({os.cpu_count()} CPUs)")
    for what, value, target, ok in (
        (
            "first slice",
            f"{first:.0f} ms",
            f"<= {TARGET_FIRST_MS:.0f} ms",
            first <= TARGET_FIRST_MS,
        ),
        ("whole study", f"{whole:.2f} s", f"<= {TARGET_WHOLE_S:.0f} s", whole <= TARGET_WHOLE_S),
        ("ratio limit/whole", f"{ratio:.2f}", f">= {TARGET_RATIO}", ratio >= TARGET_RATIO),
        (
            "scrolling",
            f"{scroll_rate:.1f} slices/s",
            f">= {TARGET_SCROLL:.0f}",
            scroll_rate >= TARGET_SCROLL,
        ),
    ):
        print(f"target {what}: {value} (target {target}: {'met' if ok else 'MISSED'})")
    print(
        f"RESULT name=viewer ratio={ratio:.3f} first_slice_ms={first:.0f} "
        f"whole_study_s={whole:.2f} limit_s={limit:.2f} scroll_slices_per_s={scroll_rate:.1f} "
        f"slices={n}"
    )


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--setup-data":
        stations, slices, overlap, password = json.loads(sys.argv[2])
        print(json.dumps(child_setup(stations, slices, overlap, password)))
        sys.exit(0)
    if len(sys.argv) == 3 and sys.argv[1] == "--profile":
        token, count = json.loads(sys.argv[2])
        print(json.dumps(child_server_profile(token, count)))
        sys.exit(0)
    sys.exit(main())
