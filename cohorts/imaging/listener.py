"""DICOM C-STORE receiver: MR images pushed by a scanner or a PACS enter the same import.

Durability first (DESIGN.md, "DICOM network, durability first"): each C-STORE is checked with
the import's own gate (`check_importable`) and then staged, fsynced, in a local folder of its
association's import job before Success is answered. A failure is answered per instance with
its reason in the Error Comment and kept for the job's report; good instances never wait on
bad ones. When the association ends the job's staged instances are imported by this process's
import thread, one job at a time (so two jobs never race to create a patient); a listener
that was killed finds its unfinished jobs when it starts again and imports them. Memory is one
instance at a time: pynetdicom writes each received data set to a file as it arrives.

Only configured senders are accepted (cohorts.imaging.senders), the listener binds to loopback
unless told otherwise, TLS is used when a certificate is configured, and every association is
logged with who called, what was received and how it ended — never a patient's identifiers.
"""

from __future__ import annotations

import logging
import queue
import secrets
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, OperationalError, close_old_connections, connections
from pydicom.dataset import Dataset
from pydicom.pixels import get_decoder
from pydicom.uid import UID
from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, _config, evt
from pynetdicom.association import Association
from pynetdicom.events import Event
from pynetdicom.sop_class import (
    EnhancedMRColorImageStorage,
    EnhancedMRImageStorage,
    MRImageStorage,
    Verification,
)
from pynetdicom.transport import ThreadedAssociationServer

from cohorts.imaging.dicom.deid import remap_uid
from cohorts.imaging.dicom.validate import NO_PIXEL_DATA, NOT_MR, DicomRejected
from cohorts.imaging.ingest import (
    STUDY_IN_OTHER_COHORT,
    STUDY_IN_OTHER_COHORT_MESSAGE,
    check_importable,
)
from cohorts.imaging.jobs import (
    import_job_run,
    receipt_job_close,
    receipt_job_create,
    receipt_jobs_unfinished,
    receipt_refusals_record,
)
from cohorts.imaging.senders import sender_allowed, study_in_other_cohort
from cohorts.imaging.staging import stage_instance, staged_instances, staging_folder_create
from cohorts.models import Cohort, DicomImportJob

logger = logging.getLogger(__name__)

MR_STORAGE_CLASSES = (MRImageStorage, EnhancedMRImageStorage, EnhancedMRColorImageStorage)
# C-STORE statuses (PS3.4 Table B.2-1). A study of another cohort is answered "cannot
# understand" with the reason in the comment: PS3.7's "not authorised" (0x0124) is no C-STORE
# status, and storescu, for one, takes it for a success.
STATUS_SUCCESS = 0x0000
STATUS_OUT_OF_RESOURCES = 0xA700  # refused: our own failure (disk, database); send again
STATUS_NOT_MATCHING_SOP_CLASS = 0xA900  # error: data set does not match SOP class
STATUS_CANNOT_UNDERSTAND = 0xC000  # error: cannot understand (cut off, undecodable, ...)
_STATUS_FOR_REASON = {
    NOT_MR: STATUS_NOT_MATCHING_SOP_CLASS,
    NO_PIXEL_DATA: STATUS_NOT_MATCHING_SOP_CLASS,
}
ERROR_COMMENT_MAX = 64  # Error Comment is an LO
NOT_STAGED = "The instance could not be stored here ({error}); send it again."
_DATABASE_RETRY_S = 5
# A-ASSOCIATE-RJ: rejected permanent, by the service user, calling AE title not recognised;
# or rejected transient, by the service provider (presentation), temporary congestion.
_REJECT_UNKNOWN_SENDER = (0x01, 0x01, 0x03)
_REJECT_BUSY = (0x02, 0x03, 0x01)


def decodable_transfer_syntaxes() -> list[str]:
    """The transfer syntaxes pynetdicom can receive and this machine can decode, uncompressed
    first; offering only these lets a sender fall back to one we read."""
    usable = []
    for syntax in ALL_TRANSFER_SYNTAXES:
        try:
            if get_decoder(UID(syntax)).is_available:
                usable.append(syntax)
        except NotImplementedError:
            continue
    return usable


def store_status(code: int, comment: str = "") -> Dataset:
    """A C-STORE response status with its reason in the Error Comment."""
    status = Dataset()
    status.Status = code
    if comment:
        status.ErrorComment = comment.replace("\\", "/")[:ERROR_COMMENT_MAX]
    return status


def status_for_rejection(exc: DicomRejected) -> int:
    """The C-STORE failure status for an instance the import's gate refused."""
    return _STATUS_FOR_REASON.get(exc.reason_code, STATUS_CANNOT_UNDERSTAND)


def listener_ssl_context() -> ssl.SSLContext | None:
    """TLS from settings: certificate and key; a CA file also requires client certificates."""
    if not settings.DICOM_LISTENER_TLS_CERT:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(settings.DICOM_LISTENER_TLS_CERT, settings.DICOM_LISTENER_TLS_KEY)
    if settings.DICOM_LISTENER_TLS_CA:
        context.load_verify_locations(settings.DICOM_LISTENER_TLS_CA)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def received_bytes(event: Event) -> bytes:
    """The received instance as a Part-10 file: read from the file pynetdicom wrote it to as
    it arrived (chunked receiving), else from memory."""
    try:
        path = event.dataset_path
    except AttributeError:
        path = None
    return Path(path).read_bytes() if path else event.encoded_dataset()


@dataclass
class _Receipt:
    """What one association has sent so far."""

    calling_ae: str
    address: str
    job_id: int | None = None
    folder: Path | None = None
    received: int = 0
    staged: int = 0
    refused: list[dict[str, str]] = field(default_factory=list)
    foreign_studies: dict[str, bool] = field(default_factory=dict)


class DicomListener:
    """A C-STORE SCP importing into one cohort; `on_job_done` hears every finished job id."""

    def __init__(
        self,
        *,
        cohort: Cohort,
        ae_title: str,
        port: int,
        host: str | None = None,
        staging_root: Path | None = None,
        ssl_context: ssl.SSLContext | None = None,
        on_job_done: Callable[[int], None] | None = None,
    ) -> None:
        self.cohort_id = cohort.pk
        self.address = (host or settings.DICOM_LISTENER_HOST, port)
        # One folder per listener (AE title and port), so a restart resumes only its own jobs.
        root = Path(staging_root or settings.DICOM_LISTENER_STAGING_DIR)
        self.staging_root = root.resolve() / f"{ae_title}-{port}"
        self.ssl_context = ssl_context
        self.on_job_done = on_job_done
        self._receipts: dict[int, _Receipt] = {}
        self._receipts_lock = threading.Lock()
        self._jobs: queue.Queue[int | None] = queue.Queue()
        self._importer: threading.Thread | None = None
        self._uid_secret = settings.DICOM_UID_SECRET.encode()
        # Each received data set goes to a file as it arrives, not into memory.
        _config.STORE_RECV_CHUNKED_DATASET = True
        self.ae = AE(ae_title=ae_title)
        self.ae.require_called_aet = True  # a sender addressing another AE title is refused
        syntaxes = decodable_transfer_syntaxes()
        for sop_class in MR_STORAGE_CLASSES:
            self.ae.add_supported_context(sop_class, syntaxes)
        self.ae.add_supported_context(Verification)  # C-ECHO, to test the connection
        self._server: ThreadedAssociationServer | None = None

    @property
    def handlers(self) -> list[tuple]:
        return [
            (evt.EVT_REQUESTED, self._on_requested),
            (evt.EVT_C_STORE, self._on_store),
            (evt.EVT_RELEASED, self._on_end),
            (evt.EVT_ABORTED, self._on_end),
        ]

    @property
    def bound_address(self) -> tuple[str, int] | None:
        """The (host, port) the running server's socket is bound to."""
        return self._server.server_address[:2] if self._server is not None else None

    def start(self) -> None:
        """Resume unfinished jobs, then listen in background threads (tests, embedding)."""
        self._start_importer()
        self._server = self.ae.start_server(
            self.address, block=False, evt_handlers=self.handlers, ssl_context=self.ssl_context
        )

    def serve_forever(self) -> None:
        self._start_importer()
        self.ae.start_server(
            self.address, block=True, evt_handlers=self.handlers, ssl_context=self.ssl_context
        )

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server = None
        self.ae.shutdown()
        if self._importer is not None:
            self._jobs.put(None)
            self._importer.join(timeout=300)
            self._importer = None

    # -- the import thread ------------------------------------------------------------------

    def _start_importer(self) -> None:
        cohort = Cohort.objects.get(pk=self.cohort_id)
        for job in receipt_jobs_unfinished(cohort=cohort, staging_root=str(self.staging_root)):
            if job.status == DicomImportJob.Status.RECEIVING:  # its association died with us
                names = staged_instances(Path(job.staging_dir))
                receipt_job_close(job_id=job.pk, names=names, calling_ae=job.calling_ae)
            logger.info("dicom listener: resuming import job %s", job.pk)
            self._jobs.put(job.pk)
        connections.close_all()
        self._importer = threading.Thread(
            target=self._import_jobs, name="dicom-import", daemon=True
        )
        self._importer.start()

    def _import_jobs(self) -> None:
        while (job_id := self._jobs.get()) is not None:
            try:
                close_old_connections()
                # The same token on every run: a restarted listener takes its job over.
                status = import_job_run(job_id=job_id, claim_token=f"listener-{job_id}")
                logger.info("dicom listener: import job %s %s", job_id, status)
            except OperationalError:  # the database went away: try the job again later
                logger.exception("dicom listener: import job %s waits for the database", job_id)
                connections.close_all()
                time.sleep(_DATABASE_RETRY_S)
                self._jobs.put(job_id)
                continue
            except Exception:  # the job stays unfinished; the next start resumes it
                logger.exception("dicom listener: import job %s stopped", job_id)
            if self.on_job_done is not None:
                self.on_job_done(job_id)
        connections.close_all()

    # -- events, each on the association's own thread ---------------------------------------

    def _on_requested(self, event: Event) -> None:
        """Refuse a sender that is not configured, before anything is negotiated."""
        requestor = event.assoc.requestor  # its AE title is set only once negotiated
        calling_ae = str(requestor.primitive.calling_ae_title).strip()
        address = str(requestor.address)
        reject, why = _REJECT_UNKNOWN_SENDER, "not a configured sender"
        try:
            if sender_allowed(cohort_id=self.cohort_id, calling_ae=calling_ae, address=address):
                return
        except DatabaseError:  # closed, not open, when the senders cannot be read
            logger.exception("dicom listener: could not read the allowed senders")
            reject, why = _REJECT_BUSY, "the allowed senders could not be read"
        finally:
            connections.close_all()  # a refused association's thread ends here
        logger.warning(
            "dicom listener: association from %r at %s refused: %s", calling_ae, address, why
        )
        event.assoc.acse.send_reject(*reject)
        event.assoc.kill()  # as pynetdicom's own rejection does: waits until the reply is sent

    def _receipt(self, assoc: Association) -> _Receipt:
        with self._receipts_lock:
            receipt = self._receipts.get(id(assoc))
            if receipt is None:
                requestor = assoc.requestor
                receipt = self._receipts[id(assoc)] = _Receipt(
                    calling_ae=requestor.ae_title.strip(), address=str(requestor.address)
                )
                logger.info(
                    "dicom listener: association from %r at %s accepted",
                    receipt.calling_ae,
                    receipt.address,
                )
            return receipt

    def _job_folder(self, receipt: _Receipt) -> Path:
        """The association's job and staging folder, made at its first instance."""
        if receipt.folder is None:
            folder = staging_folder_create(self.staging_root, secrets.token_hex(12))
            job = receipt_job_create(
                cohort=Cohort.objects.get(pk=self.cohort_id),
                calling_ae=receipt.calling_ae,
                peer_address=receipt.address,
                staging_dir=str(folder),
            )
            receipt.job_id, receipt.folder = job.pk, folder
        return receipt.folder

    def _on_store(self, event: Event) -> Dataset:
        receipt = self._receipt(event.assoc)
        receipt.received += 1
        number = receipt.received
        name = f"{receipt.calling_ae or 'sender'} #{number}"
        try:
            payload = received_bytes(event)
            self._check(receipt, payload, name)
        except DicomRejected as exc:
            return self._refuse(receipt, name, status_for_rejection(exc), exc.message)
        except (OSError, DatabaseError, MemoryError) as exc:
            message = NOT_STAGED.format(error=type(exc).__name__)
            return self._refuse(receipt, name, STATUS_OUT_OF_RESOURCES, message)
        try:
            stage_instance(self._job_folder(receipt), number, payload)
        except (OSError, DatabaseError) as exc:  # a full disk, the database away: not taken
            logger.exception("dicom listener: could not stage %s", name)
            message = NOT_STAGED.format(error=type(exc).__name__)
            return self._refuse(receipt, name, STATUS_OUT_OF_RESOURCES, message)
        receipt.staged += 1
        return store_status(STATUS_SUCCESS)

    def _check(self, receipt: _Receipt, payload: bytes, name: str) -> None:
        """The import's gate, and a study of another cohort refused (raise DicomRejected)."""
        ds = check_importable(payload, name=name)
        study_uid = remap_uid(str(ds.StudyInstanceUID), self._uid_secret)
        if study_uid not in receipt.foreign_studies:
            receipt.foreign_studies[study_uid] = study_in_other_cohort(
                cohort_id=self.cohort_id, study_uid=study_uid
            )
        if receipt.foreign_studies[study_uid]:
            raise DicomRejected(STUDY_IN_OTHER_COHORT, STUDY_IN_OTHER_COHORT_MESSAGE, filename=name)

    def _refuse(self, receipt: _Receipt, name: str, code: int, message: str) -> Dataset:
        logger.warning("dicom listener: refused %s (0x%04X): %s", name, code, message)
        receipt.refused.append({"name": name, "status": "rejected", "reason": message})
        try:
            self._job_folder(receipt)
            receipt_refusals_record(job_id=receipt.job_id, refused=receipt.refused)
        except (OSError, DatabaseError):
            logger.exception("dicom listener: could not record the refusal of %s", name)
        return store_status(code, message)

    def _on_end(self, event: Event) -> None:
        with self._receipts_lock:
            receipt = self._receipts.pop(id(event.assoc), None)
        if receipt is None:
            return
        ended = "released" if event.event is evt.EVT_RELEASED else "aborted"
        logger.info(
            "dicom listener: association from %r at %s %s: %d instances received, %d staged, "
            "%d refused (import job %s)",
            receipt.calling_ae,
            receipt.address,
            ended,
            receipt.received,
            receipt.staged,
            len(receipt.refused),
            receipt.job_id,
        )
        if receipt.job_id is None or receipt.folder is None:
            connections.close_all()
            return
        try:
            names = staged_instances(receipt.folder)
            receipt_job_close(job_id=receipt.job_id, names=names, calling_ae=receipt.calling_ae)
            self._jobs.put(receipt.job_id)
        except DatabaseError:  # left receiving: the next start of the listener imports it
            logger.exception("dicom listener: could not close import job %s", receipt.job_id)
        finally:
            connections.close_all()  # this thread's connections: the thread ends here
