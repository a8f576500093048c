"""Query/retrieve from a hospital PACS: C-ECHO to test it, C-FIND to search studies, C-GET (or
C-MOVE to a storage SCP of ours that runs only while the retrieval does) to bring the chosen
studies into a cohort as an import job (the upload's page and report).

What the coordinator types to search (patient id, accession number) travels to the PACS and
back to the page and nowhere else: not into the database, the audit trail or the logs. The
studies picked wait in the job's `uploads` (their UIDs, which the import remaps) until the job
ends, as uploaded files do. Retrieved instances are checked as they arrive (a bad one is
refused with its reason and reported), kept in a temporary folder, and then go through the
same `dicom_import` as every other path; a study the PACS fails is reported and the others
are imported.
"""

from __future__ import annotations

import datetime as dt
import logging
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Final

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from pydicom.dataset import Dataset
from pynetdicom import AE, _config, build_role, evt
from pynetdicom.association import Association
from pynetdicom.events import Event
from pynetdicom.sop_class import (
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
    Verification,
)

from cohorts.audit import audit_record
from cohorts.imaging.dicom.validate import DicomRejected
from cohorts.imaging.ingest import check_importable
from cohorts.imaging.listener import (
    MR_STORAGE_CLASSES,
    STATUS_OUT_OF_RESOURCES,
    STATUS_SUCCESS,
    decodable_transfer_syntaxes,
    received_bytes,
    status_for_rejection,
    store_status,
)
from cohorts.models import Cohort, DicomImportJob, PacsPeer

logger = logging.getLogger(__name__)

PACS_UNREACHABLE: Final = "The PACS {peer} did not accept an association ({detail})."
PACS_FIND_FAILED: Final = "The PACS {peer} answered the search with status 0x{status:04X}."
STUDY_NOT_RETRIEVED: Final = (
    "The PACS did not send this study ({detail}); the other studies were imported. "
    "Retrieve it again later."
)
STUDY_PARTLY_RETRIEVED: Final = (
    "The PACS could not send {failed} of this study's instances; the ones it sent were imported."
)
NO_STUDIES: Final = "Choose at least one study to retrieve."
_TIMEOUT_S = 30
_PENDING = (0xFF00, 0xFF01)
_MOVE_DESTINATION = threading.Lock()


class PacsUnavailable(Exception):
    """The PACS could not be reached or refused the request; the message says which."""


@dataclass(frozen=True)
class StudyMatch:
    """One study a C-FIND found: what the coordinator needs to pick it, no patient field."""

    study_uid: str
    study_date: str
    description: str
    modalities: str
    series: int | None
    instances: int | None


def pacs_peer_create(
    *,
    cohort: Cohort,
    actor: AbstractBaseUser,
    name: str,
    ae_title: str,
    host: str,
    port: int,
    retrieve_method: str = PacsPeer.RetrieveMethod.GET,
) -> PacsPeer:
    """Add a PACS the cohort's coordinator may search and retrieve from."""
    peer = PacsPeer(
        cohort=cohort,
        name=name,
        ae_title=ae_title.strip(),
        host=host,
        port=port,
        retrieve_method=retrieve_method,
    )
    peer.full_clean()
    with transaction.atomic():
        peer.save()
        audit_record(
            actor=actor,
            action="pacs.create",
            target=peer,
            cohort=cohort,
            new={
                "name": name,
                "ae_title": peer.ae_title,
                "host": host,
                "port": port,
                "retrieve_method": retrieve_method,
            },
        )
    return peer


def _client_ae(*contexts: str) -> AE:
    ae = AE(ae_title=settings.DICOM_LISTENER_AE_TITLE)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = _TIMEOUT_S
    for context in contexts:
        ae.add_requested_context(context)
    return ae


def _associate(ae: AE, peer: PacsPeer, **options: object) -> Association:
    try:
        assoc = ae.associate(peer.host, peer.port, ae_title=peer.ae_title, **options)
    except OSError as exc:  # a host name that does not resolve
        raise PacsUnavailable(PACS_UNREACHABLE.format(peer=peer.name, detail=exc)) from exc
    if not assoc.is_established:
        detail = "rejected" if assoc.is_rejected else "no answer or aborted"
        raise PacsUnavailable(PACS_UNREACHABLE.format(peer=peer.name, detail=detail))
    return assoc


def pacs_echo(*, peer: PacsPeer) -> None:
    """C-ECHO the PACS; raises PacsUnavailable with the reason when it does not answer."""
    assoc = _associate(_client_ae(Verification), peer)
    try:
        status = assoc.send_c_echo()
    finally:
        assoc.release()
    if status is None or status.get("Status") != STATUS_SUCCESS:
        code = None if status is None else status.get("Status")
        raise PacsUnavailable(PACS_UNREACHABLE.format(peer=peer.name, detail=f"echo {code}"))


def _date_range(date_from: dt.date | None, date_to: dt.date | None) -> str:
    if date_from is None and date_to is None:
        return ""
    start = date_from.strftime("%Y%m%d") if date_from else ""
    end = date_to.strftime("%Y%m%d") if date_to else ""
    return f"{start}-{end}"


def _count(value: object) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def pacs_find_studies(
    *,
    peer: PacsPeer,
    patient_id: str = "",
    accession_number: str = "",
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> list[StudyMatch]:
    """The MR studies of the PACS matching the search (C-FIND, study level)."""
    query = Dataset()
    query.QueryRetrieveLevel = "STUDY"
    query.PatientID = patient_id.strip()
    query.AccessionNumber = accession_number.strip()
    query.StudyDate = _date_range(date_from, date_to)
    query.ModalitiesInStudy = "MR"
    for keyword in ("StudyInstanceUID", "StudyDescription"):
        setattr(query, keyword, "")
    query.NumberOfStudyRelatedSeries = None
    query.NumberOfStudyRelatedInstances = None
    assoc = _associate(_client_ae(StudyRootQueryRetrieveInformationModelFind), peer)
    matches = []
    try:
        for status, found in assoc.send_c_find(query, StudyRootQueryRetrieveInformationModelFind):
            code = status.get("Status") if status else None
            if code in _PENDING and found is not None:
                modalities = found.get("ModalitiesInStudy", "")
                if not isinstance(modalities, str):
                    modalities = "\\".join(modalities)
                if modalities and "MR" not in modalities.split("\\"):
                    continue  # a PACS that ignores the modality key
                matches.append(
                    StudyMatch(
                        study_uid=str(found.get("StudyInstanceUID", "")),
                        study_date=str(found.get("StudyDate", "")),
                        description=str(found.get("StudyDescription", "")),
                        modalities=modalities,
                        series=_count(found.get("NumberOfStudyRelatedSeries")),
                        instances=_count(found.get("NumberOfStudyRelatedInstances")),
                    )
                )
            elif code != STATUS_SUCCESS:
                raise PacsUnavailable(PACS_FIND_FAILED.format(peer=peer.name, status=code or 0))
    finally:
        assoc.release()
    return [match for match in matches if match.study_uid]


def retrieve_job_create(
    *, cohort: Cohort, actor: AbstractBaseUser, peer: PacsPeer, studies: list[tuple[str, int]]
) -> DicomImportJob:
    """Queue the retrieval of (study UID, expected instances) from `peer` into `cohort`."""
    if not studies:
        raise ValidationError(NO_STUDIES)
    uploads = [
        {"name": f"study {number}", "study_uid": uid, "instances": instances}
        for number, (uid, instances) in enumerate(studies, start=1)
    ]
    from cohorts.imaging.jobs import import_job_queue  # jobs runs this module's retrievals

    with transaction.atomic():
        job = DicomImportJob.objects.create(
            cohort=cohort,
            created_by=actor,
            source=DicomImportJob.Source.RETRIEVE,
            pacs_peer=peer,
            uploads=uploads,
            files_total=sum(instances for _uid, instances in studies),
        )
        # Who retrieved how many studies from which PACS; never a UID or a searched value.
        audit_record(
            actor=actor,
            action="pacs.retrieve",
            target=job,
            cohort=cohort,
            new={"pacs": peer.name, "studies": len(uploads)},
        )
        transaction.on_commit(partial(import_job_queue, job.pk))
    return job


class _Retrieval:
    """The C-STORE sub-operations of one study's C-GET or C-MOVE: each instance checked and
    kept in `folder` (a C-MOVE's may come on several associations, hence the lock)."""

    def __init__(self, folder: Path, number: int) -> None:
        self.folder, self.number = folder, number
        self.received = 0
        self.kept: list[tuple[str, Path]] = []  # (name, file) of the instances kept
        self.refused: list[dict[str, str]] = []
        self._lock = threading.Lock()

    def on_store(self, event: Event) -> Dataset:
        with self._lock:
            self.received += 1
            received = self.received
        name = f"study {self.number} instance {received}"
        try:
            payload = received_bytes(event)
            check_importable(payload, name=name)
            path = self.folder / f"{self.number:04d}-{received:06d}.dcm"
            path.write_bytes(payload)
        except DicomRejected as exc:
            return self._refuse(name, status_for_rejection(exc), exc.message)
        except OSError as exc:
            reason = f"Could not keep the instance ({type(exc).__name__})."
            return self._refuse(name, STATUS_OUT_OF_RESOURCES, reason)
        with self._lock:
            self.kept.append((name, path))
        return store_status(STATUS_SUCCESS)

    def _refuse(self, name: str, code: int, reason: str) -> Dataset:
        with self._lock:
            self.refused.append({"name": name, "status": "rejected", "reason": reason})
        return store_status(code, reason)


def _study_query(study_uid: str) -> Dataset:
    query = Dataset()
    query.QueryRetrieveLevel = "STUDY"
    query.StudyInstanceUID = study_uid
    return query


def _final_status(responses: Iterator[tuple[Dataset, Dataset | None]]) -> Dataset | None:
    """The last, non-pending status of a C-GET or C-MOVE."""
    final = None
    for status, _identifier in responses:
        if status is not None and status.get("Status") not in _PENDING:
            final = status
    return final


def _get_study(peer: PacsPeer, study_uid: str, retrieval: _Retrieval) -> str:
    """C-GET one study into `retrieval`; returns what went wrong ("" when nothing did)."""
    _config.STORE_RECV_CHUNKED_DATASET = True  # each instance to a file as it arrives
    ae = _client_ae(StudyRootQueryRetrieveInformationModelGet)
    roles = []
    for sop_class in MR_STORAGE_CLASSES:
        for syntax in decodable_transfer_syntaxes():  # as stored: no transcoding on the PACS
            ae.add_requested_context(sop_class, syntax)
        roles.append(build_role(sop_class, scp_role=True))
    try:
        assoc = _associate(
            ae, peer, ext_neg=roles, evt_handlers=[(evt.EVT_C_STORE, retrieval.on_store)]
        )
    except PacsUnavailable as exc:
        return str(exc)
    try:
        model = StudyRootQueryRetrieveInformationModelGet
        final = _final_status(assoc.send_c_get(_study_query(study_uid), model))
    finally:
        assoc.release()
    return _outcome(final, retrieval)


def _move_study(peer: PacsPeer, study_uid: str, retrieval: _Retrieval) -> str:
    """C-MOVE one study to our own short-lived storage SCP (DICOM_RETRIEVE_*), which takes
    the PACS's instances into `retrieval`; returns what went wrong ("" when nothing did)."""
    _config.STORE_RECV_CHUNKED_DATASET = True
    scp = AE(ae_title=settings.DICOM_RETRIEVE_AE_TITLE)
    scp.require_calling_aet = [peer.ae_title]  # only the PACS asked may deliver
    for sop_class in MR_STORAGE_CLASSES:
        scp.add_supported_context(sop_class, decodable_transfer_syntaxes())
    address = (settings.DICOM_RETRIEVE_HOST, settings.DICOM_RETRIEVE_PORT)
    with _MOVE_DESTINATION:  # one C-MOVE destination port: one retrieval at a time here
        try:
            server = scp.start_server(
                address, block=False, evt_handlers=[(evt.EVT_C_STORE, retrieval.on_store)]
            )
        except OSError as exc:
            return f"the retrieve port {address[1]} is not free ({exc}); retrieve again later"
        try:
            assoc = _associate(_client_ae(StudyRootQueryRetrieveInformationModelMove), peer)
            try:
                model = StudyRootQueryRetrieveInformationModelMove
                responses = assoc.send_c_move(
                    _study_query(study_uid), settings.DICOM_RETRIEVE_AE_TITLE, model
                )
                final = _final_status(responses)
            finally:
                assoc.release()
        except PacsUnavailable as exc:
            return str(exc)
        finally:
            server.shutdown()
    return _outcome(final, retrieval)


def _outcome(final: Dataset | None, retrieval: _Retrieval) -> str:
    """What went wrong in a C-GET or C-MOVE, from its final status ("" when nothing did)."""
    code = final.get("Status") if final is not None else None
    if code is None:
        return "the association ended before the PACS answered"
    failed = int(final.get("NumberOfFailedSuboperations") or 0)
    if code != STATUS_SUCCESS and not retrieval.kept:
        return f"status 0x{code:04X}"
    if failed > len(retrieval.refused):
        return STUDY_PARTLY_RETRIEVED.format(failed=failed - len(retrieval.refused))
    return ""


def retrieved_files(job: DicomImportJob) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) of every instance the job's studies bring, study by study; a study
    that fails, or an instance refused on arrival, goes into the job's report instead."""
    peer = job.pacs_peer
    refused: list[dict[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="iim-retrieve-") as folder:
        for number, study in enumerate(job.uploads, start=1):
            retrieval = _Retrieval(Path(folder), number)
            if peer is None:
                problem = "the PACS was removed"
            elif peer.retrieve_method == PacsPeer.RetrieveMethod.MOVE:
                problem = _move_study(peer, study["study_uid"], retrieval)
            else:
                problem = _get_study(peer, study["study_uid"], retrieval)
            refused += retrieval.refused
            if problem:
                logger.warning("retrieve job %s: study %s: %s", job.pk, number, problem)
                reason = problem
                if not retrieval.kept:
                    reason = STUDY_NOT_RETRIEVED.format(detail=problem)
                refused.append({"name": study["name"], "status": "rejected", "reason": reason})
            DicomImportJob.objects.filter(pk=job.pk).update(report=refused)
            for name, path in retrieval.kept:
                yield name, path.read_bytes()
                path.unlink()
