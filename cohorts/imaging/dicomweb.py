"""Pull MR studies from a PACS over DICOMweb (QIDO-RS to find, WADO-RS to fetch) into a cohort.

Whole instances are fetched as `application/dicom` in the PACS's own transfer syntax
(`transfer-syntax=*`): no transcoding on the PACS, lossless as stored, and our import decodes
every syntax it accepts. Instances stream one at a time into `dicom_import`, so memory stays
flat; a failure of the PACS mid-way stores nothing of the pull (the import has not written yet).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
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
        return dicom_import(
            cohort=cohort,
            files=_instances(client, series, on_fetched),
            actor=actor,
            progress=progress,
        )
    except requests.RequestException as exc:
        raise DicomwebPullFailed(f"The DICOMweb service at {url} failed: {exc}") from exc


def _instances(
    client: DICOMwebClient,
    series: list[tuple[str, str, int | None]],
    on_fetched: Callable[[int], None] | None,
) -> Iterator[tuple[str, bytes]]:
    """(name, Part-10 bytes) per instance; names carry no source UID (they reach reports)."""
    fetched = 0
    for number, (study_uid, series_uid, _count) in enumerate(series, start=1):
        instances = client.iter_series(study_uid, series_uid, media_types=AS_STORED)
        for index, dataset in enumerate(instances, start=1):
            fetched += 1
            if on_fetched is not None:
                on_fetched(fetched)
            yield f"series {number} instance {index}", dicom_bytes(dataset)
