"""Real MR files from pydicom and pydicom-data, generated series, and the checks every import
path ends with: nothing identifying stored, pixels unchanged, nothing half-written."""

from __future__ import annotations

import io
import json
import queue
import shutil
import socket
import subprocess
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pydicom
import pytest
import requests
from django.conf import settings
from django.core.management import call_command
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset

from cohorts.imaging.dicom.deid import dicom_bytes, identifying_values, remap_uid
from cohorts.imaging.dicom.describe import clean_description
from cohorts.imaging.dicom.synthetic import synthetic_study
from cohorts.imaging.listener import DicomListener
from cohorts.models import DicomImportJob, Instance

# Real MR files no one here wrote, each with a patient id (a file without one is refused).
REAL_MR_FILES = [
    "MR_small.dcm",  # explicit VR little endian, signed 16 bit
    "MR_small_implicit.dcm",
    "MR_small_bigendian.dcm",
    "MR_small_RLE.dcm",
    "MR_small_jp2klossless.dcm",
    "MR_small_jpeg_ls_lossless.dcm",
    "MR2_UNCR.dcm",  # pydicom-data, 1024 x 1024
    "MR2_J2KR.dcm",
    "MR2_J2KI.dcm",  # lossy JPEG 2000: stored as received, never re-encoded
    "MR-SIEMENS-DICOM-WithOverlays.dcm",  # private tags and overlays to remove
]
# Enhanced MR, multi-frame, without a Patient ID: imported onto a pinned patient.
ENHANCED_MR_FILES = ["emri_small.dcm", "emri_small_RLE.dcm", "emri_small_jpeg_ls_lossless.dcm"]


def real_file(name: str) -> Path:
    path = get_testdata_file(name, download=False)
    if path is None:
        pytest.skip(f"{name} is not installed (pydicom or pydicom-data)")
    return Path(path)


def real_files(names: Iterable[str] = REAL_MR_FILES) -> list[tuple[str, bytes]]:
    return [(name, real_file(name).read_bytes()) for name in names]


def synthetic_files(
    patient_id: str = "SRC-0042",
    *,
    name: str = "Testperson^Hilde",
    seed: int = 1,
    slices: int = 4,
    study_date: str | None = None,
) -> list[tuple[str, bytes]]:
    """A generated STIR and T1 series (slices each) with generated identifying values."""
    datasets = synthetic_study(
        patient_id=patient_id,
        patient_name=name,
        birth_date="19580214",
        grades={("rectus-femoris", "L"): (2, 1)},
        slices=slices,
        size=64,
        seed=seed,
    )
    for ds in datasets:
        if study_date:
            ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = study_date
    return [
        (f"{ds.SeriesNumber:03d}/{i:04d}.dcm", dicom_bytes(ds)) for i, ds in enumerate(datasets)
    ]


def parse(data: bytes) -> Dataset:
    return pydicom.dcmread(io.BytesIO(data))


def identifying(files: Iterable[tuple[str, bytes]]) -> set[str]:
    """Every value de-identification must not let through, from the original files.

    Left out, as they identify nobody and turn up by chance: placeholders made only of zeros
    and punctuation ("00000" as a serial number, "-0400" as a time zone, found in kept numbers
    such as "6.000000"), and values contained in a value the profile keeps (institution
    "TOSHIBA" inside manufacturer "TOSHIBA_MEC"), and a Series Description made only of MR
    protocol words, which the import keeps on purpose (cohorts/imaging/dicom/describe.py: the
    profile's Clean Descriptors option; a word outside that vocabulary is still not stored).
    """
    values: set[str] = set()
    kept: set[str] = set()
    for _name, data in files:
        ds = parse(data)
        found = identifying_values(ds)
        values |= found
        kept |= {
            str(e.value)
            for e in ds.iterall()
            if e.VR not in ("SQ", "OB", "OW", "UN") and str(e.value) not in found
        }
        kept.add(clean_description(str(ds.get("SeriesDescription", "") or "")))
    return {v for v in values if set(v) - set("0-+.:^ ") and not any(v in text for text in kept)}


def stored_bytes(media_root: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in Path(media_root).rglob("*") if p.is_file()}


def database_dump() -> str:
    out = io.StringIO()
    call_command("dumpdata", "cohorts", "scoring", stdout=out)
    return out.getvalue()


# Pixel bytes are the original's, unchanged (a test says so); short values such as "00000"
# or "-0400" turn up in them by chance, so only values this long are looked for there.
PIXEL_NEEDLE_MIN = 8


def _split_pixels(data: bytes) -> tuple[bytes, bytes]:
    """(every byte but the pixel data's value, the pixel data's value) of a stored file."""
    try:
        pixels = parse(data).get("PixelData") or b""
    except Exception:  # not DICOM: every byte is "header"
        return data, b""
    return data.replace(pixels, b"", 1) if pixels else data, pixels


def assert_nothing_identifying_stored(originals: Iterable[tuple[str, bytes]]) -> None:
    """No original identifying value in any byte under MEDIA_ROOT or in the database dump."""
    values = identifying(originals)
    assert values, "the originals should carry identifying values to look for"
    files = {path: _split_pixels(data) for path, data in stored_bytes(settings.MEDIA_ROOT).items()}
    assert files, "the import stored no file"
    dump = database_dump()
    for value in sorted(values):
        assert value not in dump, f"{value!r} is in the database"
        needle = value.encode("latin-1", "replace")
        for path, (header, pixels) in files.items():
            assert needle not in header, f"{value!r} is in {path}"
            if len(needle) >= PIXEL_NEEDLE_MIN:
                assert needle not in pixels, f"{value!r} is in the pixel data of {path}"


def stored_instance(original: bytes) -> Instance:
    sop = str(parse(original).SOPInstanceUID)
    return Instance.objects.get(sop_instance_uid=remap_uid(sop, settings.DICOM_UID_SECRET.encode()))


# Stored as Explicit VR Little Endian: the viewer's parser reads neither (frames.py).
TRANSCODED_ON_IMPORT = {"1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.2"}


def assert_pixels_unchanged(original: bytes, *, same_encoding: bool = True) -> None:
    """The stored files decode to the very pixels of the original (a multi-frame original is
    stored as one image per frame, in frame order), and keep its encoding unless a sender
    transcoded it on the way (`same_encoding=False`) or the viewer cannot read it (Deflated,
    Big Endian: stored as Explicit VR Little Endian)."""
    before = parse(original)
    frames = int(before.get("NumberOfFrames") or 1)
    if frames > 1:
        series_uid = remap_uid(str(before.SeriesInstanceUID), settings.DICOM_UID_SECRET.encode())
        instances = list(
            Instance.objects.filter(series__series_uid=series_uid).order_by("instance_number")
        )
        assert len(instances) == frames
        expected = list(before.pixel_array)
    else:
        instances, expected = [stored_instance(original)], [before.pixel_array]
    syntax = str(before.file_meta.TransferSyntaxUID)
    for instance, pixels in zip(instances, expected, strict=True):
        with instance.file.open("rb") as handle:
            stored = parse(handle.read())
        assert np.array_equal(stored.pixel_array, pixels)
        if same_encoding:
            expected_syntax = "1.2.840.10008.1.2.1" if syntax in TRANSCODED_ON_IMPORT else syntax
            assert stored.file_meta.TransferSyntaxUID == expected_syntax


def assert_nothing_written() -> None:
    from cohorts.models import ImagingStudy, Series

    assert not Instance.objects.exists()
    assert not Series.objects.exists()
    assert not ImagingStudy.objects.exists()
    assert not stored_bytes(settings.MEDIA_ROOT), "a file was left under MEDIA_ROOT"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def require_program(name: str, package: str) -> str:
    """The path of a program the test cannot do without: missing, the test fails (CI
    installs dcmtk, orthanc and openssl; a run without them must not pass quietly)."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"needs the program {name} (Debian package {package})", pytrace=False)
    return path


# -- the C-STORE listener, fed by storescu ---------------------------------------------------

AE_TITLE = "IIMTEST"
STORESCU = "STORESCU"  # storescu's own calling AE title


@pytest.fixture
def start_listener(tmp_path, settings) -> Iterator:
    """Start a listener for a cohort; stopped at the end. Senders: STORESCU, globally."""
    require_program("storescu", "dcmtk")
    settings.DICOM_LISTENER_CALLING_AETS = [STORESCU]
    started: list[DicomListener] = []

    def start(cohort, **options) -> SimpleNamespace:
        jobs: queue.Queue = queue.Queue()
        port = free_port()
        server = DicomListener(
            cohort=cohort,
            ae_title=AE_TITLE,
            port=port,
            staging_root=tmp_path / "staging",
            on_job_done=jobs.put,
            **options,
        )
        server.start()
        started.append(server)
        return SimpleNamespace(port=port, jobs=jobs, server=server)

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def listener(start_listener, cohort) -> SimpleNamespace:
    return start_listener(cohort)


def finished_job(listener: SimpleNamespace) -> DicomImportJob:
    return DicomImportJob.objects.get(pk=listener.jobs.get(timeout=60))


def storescu(
    port: int, paths: list[Path], *options: str, called: str = AE_TITLE
) -> subprocess.CompletedProcess:
    command = ["storescu", "-v", *options, "-aec", called, "127.0.0.1", str(port)]
    return subprocess.run(
        [*command, *map(str, paths)], capture_output=True, text=True, timeout=120, check=False
    )


def on_disk(tmp_path: Path, files: list[tuple[str, bytes]]) -> list[Path]:
    paths = []
    for name, data in files:
        path = tmp_path / name.replace("/", "-")
        path.write_bytes(data)
        paths.append(path)
    return paths


# -- Orthanc as the hospital's PACS (DICOMweb and DICOM) --------------------------------------

ORTHANC_PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")
ORTHANC_AUTH = ("iim-test", "orthanc-test-password")
ORTHANC_AET = "IIMTESTPACS"


@pytest.fixture
def orthanc(tmp_path) -> Iterator[SimpleNamespace]:
    """A real Orthanc on loopback with its own storage: DICOMweb at `url`, DICOM at
    `dicom_port` as ORTHANC_AET; `upload(files)` stores files in it; `modalities` (set before
    first use by `start(modalities=...)`) are the DICOM peers it may answer and move to."""
    binary = require_program("Orthanc", "orthanc")
    if not ORTHANC_PLUGIN.exists():
        pytest.fail(f"needs {ORTHANC_PLUGIN} (Debian package orthanc-dicomweb)", pytrace=False)
    http_port, dicom_port = free_port(), free_port()
    storage = tmp_path / "orthanc-storage"
    started: list[subprocess.Popen] = []

    def start(modalities: dict[str, list] | None = None) -> SimpleNamespace:
        config = {
            "Name": "iim-test-pacs",
            "HttpPort": http_port,
            "DicomPort": dicom_port,
            "DicomAet": ORTHANC_AET,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": True,
            "RegisteredUsers": {ORTHANC_AUTH[0]: ORTHANC_AUTH[1]},
            "StorageDirectory": str(storage),
            "MaximumStorageCacheSize": 0,  # read files from disk: a test may lose one
            "IndexDirectory": str(tmp_path / "orthanc-index"),
            "Plugins": [str(ORTHANC_PLUGIN)],
            "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
            "DicomModalities": modalities or {},
        }
        config_path = tmp_path / "orthanc.json"
        config_path.write_text(json.dumps(config))
        with (tmp_path / "orthanc.log").open("w") as log:
            process = subprocess.Popen(
                [binary, str(config_path)], stdout=log, stderr=subprocess.STDOUT
            )
        started.append(process)
        base = f"http://127.0.0.1:{http_port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"{base}/system", auth=ORTHANC_AUTH, timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail((tmp_path / "orthanc.log").read_text()[-2000:], pytrace=False)
            time.sleep(0.2)

        def upload(files: list[tuple[str, bytes]]) -> None:
            for _name, data in files:
                requests.post(
                    f"{base}/instances", data=data, auth=ORTHANC_AUTH, timeout=30
                ).raise_for_status()

        def rest(path: str) -> object:
            reply = requests.get(f"{base}{path}", auth=ORTHANC_AUTH, timeout=30)
            reply.raise_for_status()
            return reply.json()

        return SimpleNamespace(
            url=f"{base}/dicom-web",
            base=base,
            dicom_port=dicom_port,
            aet=ORTHANC_AET,
            storage=storage,
            upload=upload,
            rest=rest,
        )

    yield SimpleNamespace(start=start)
    for process in started:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
