"""Pull MR studies from a PACS over DICOMweb (QIDO-RS to find, WADO-RS to fetch) into a cohort.

Whole instances are fetched as `application/dicom` in the PACS's own transfer syntax
(`transfer-syntax=*`): no transcoding on the PACS, lossless as stored, and our import decodes
every syntax it accepts. Each series is fetched whole into a temporary folder before its
files go into `dicom_import`, so memory stays flat and a series the PACS fails to deliver is
skipped whole and reported (never stored in part) while the other series are imported. Only a
failed search stores nothing.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import requests
from dicomweb_client.api import DICOMwebClient
from django.contrib.auth.models import AbstractBaseUser

from cohorts.imaging.dicom.deid import dicom_bytes
from cohorts.imaging.ingest import FileReport, ImportReport, dicom_import
from cohorts.models import Cohort

# dicomweb-client logs every request at INFO with the source UIDs in it: keep those out of logs.
logging.getLogger("dicomweb_client").setLevel(logging.WARNING)

MR = "MR"
AS_STORED = (("application/dicom", "*"),)  # the PACS's transfer syntax, untouched
_TIMEOUT_S = (10, 300)
_QIDO_PAGE = 500  # connect, read: a large series can take a while to start streaming


SERIES_UNAVAILABLE = "series_unavailable"
SERIES_FAILED = (
    "The PACS did not deliver this series ({error}); it was skipped whole and the other "
    "series were imported. Pull it again later."
)
# What fetching a series raises when the PACS fails it: an HTTP error or a broken connection
# (requests), or a reply that is not the multipart of DICOM files asked for.
SERIES_FETCH_ERRORS = (requests.RequestException, ValueError, OSError)


class DicomwebPullFailed(Exception):
    """The PACS could not be searched or read; nothing of the pull was stored."""


def _session(auth: tuple[str, str] | requests.auth.AuthBase | None) -> requests.Session:
    session = requests.Session()
    session.auth = auth
    return session


def mr_series_of(
    client: DICOMwebClient,
    *,
    study_uid: str | None = None,
    search_filters: Mapping[str, Any] | None = None,
) -> list[tuple[str, str, int | None]]:
    """(study UID, series UID, number of instances or None) of every MR series to pull."""
    study_uids = [study_uid] if study_uid else []
    if not study_uid:
        filters = {"ModalitiesInStudy": MR, **(search_filters or {})}
        study_uids = list(_paged(client.search_for_studies, "0020000D", search_filters=filters))
    found = []
    for study in study_uids:
        for series_uid, series in _paged(
            client.search_for_series, "0020000E", study, search_filters={"Modality": MR}
        ).items():
            count = _value(series, "00201209")
            found.append((study, series_uid, int(count) if count else None))
    return found


def _paged(search: Callable[..., list], key: str, *args: Any, **kwargs: Any) -> dict[str, dict]:
    """Every QIDO match by its UID, page by page. dicomweb-client's own `get_remaining` asks
    until an empty page comes back, which never happens with a server that ignores `offset`
    (Orthanc 1.10 does): stop at a short page or at a page with nothing new."""
    found: dict[str, dict] = {}
    while True:
        page = search(*args, limit=_QIDO_PAGE, offset=len(found), **kwargs)
        fresh = {_value(match, key): match for match in page if _value(match, key)}
        fresh = {uid: match for uid, match in fresh.items() if uid not in found}
        found.update(fresh)
        if len(page) < _QIDO_PAGE or not fresh:
            return found


def _value(attributes: Mapping[str, dict], tag: str) -> str:
    values = attributes.get(tag, {}).get("Value") or [""]
    return str(values[0])


def dicomweb_pull(
    *,
    cohort: Cohort,
    url: str,
    actor: AbstractBaseUser | None,
    study_uid: str | None = None,
    search_filters: Mapping[str, Any] | None = None,
    auth: tuple[str, str] | requests.auth.AuthBase | None = None,
    progress: Callable[[FileReport], None] | None = None,
    on_fetched: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import the MR series of one study (`study_uid`) or of every study matching the QIDO
    `search_filters` (e.g. {"StudyDate": "20240101-20241231"}) from the DICOMweb service at
    `url`; `on_fetched` hears the running count of instances received."""
    client = DICOMwebClient(url=url.rstrip("/"), session=_session(auth), timeout=_TIMEOUT_S)
    try:
        series = mr_series_of(client, study_uid=study_uid, search_filters=search_filters)
    except requests.RequestException as exc:
        raise DicomwebPullFailed(f"The DICOMweb service at {url} failed: {exc}") from exc
    failed: list[FileReport] = []
    report = dicom_import(
        cohort=cohort,
        files=_instances(client, series, on_fetched, failed),
        actor=actor,
        progress=progress,
    )
    report.files.extend(failed)
    return report


def _instances(
    client: DICOMwebClient,
    series: list[tuple[str, str, int | None]],
    on_fetched: Callable[[int], None] | None,
    failed: list[FileReport],
) -> Iterator[tuple[str, bytes]]:
    """(name, Part-10 bytes) per instance of every series fetched whole; a series that fails
    goes to `failed` instead. Names carry no source UID (they reach reports)."""
    fetched = 0
    for number, (study_uid, series_uid, _count) in enumerate(series, start=1):
        with tempfile.TemporaryDirectory(prefix="iim-dicomweb-") as folder:
            try:
                count = 0
                instances = client.iter_series(study_uid, series_uid, media_types=AS_STORED)
                for count, dataset in enumerate(instances, start=1):
                    Path(folder, f"{count:06d}.dcm").write_bytes(dicom_bytes(dataset))
                    fetched += 1
                    if on_fetched is not None:
                        on_fetched(fetched)
            except SERIES_FETCH_ERRORS as exc:
                reason = SERIES_FAILED.format(error=f"{type(exc).__name__}: {exc}"[:300])
                failed.append(
                    FileReport(
                        name=f"series {number}",
                        status="rejected",
                        reason=reason,
                        reason_code=SERIES_UNAVAILABLE,
                    )
                )
                continue
            for index in range(1, count + 1):
                path = Path(folder, f"{index:06d}.dcm")
                yield f"series {number} instance {index}", path.read_bytes()
