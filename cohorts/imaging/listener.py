"""DICOM C-STORE receiver: MR images pushed by a scanner or a PACS enter the same import.

Each association is one batch. Every C-STORE is checked at once with the import's own gate
(`check_importable`), so a file the import would reject gets a failure status the sender
sees; the received bytes stay in memory (the originals are never written to disk) until the
association ends, released or aborted, and then the batch goes through `dicom_import` once
(all-or-nothing per series, idempotent, de-identified). Batches are imported one at a time,
so two associations never race to create the same patient.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import close_old_connections, connections
from pydicom.pixels import get_decoder
from pydicom.uid import UID
from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, evt
from pynetdicom.association import Association
from pynetdicom.events import Event
from pynetdicom.sop_class import (
    EnhancedMRColorImageStorage,
    EnhancedMRImageStorage,
    MRImageStorage,
    Verification,
)
from pynetdicom.transport import ThreadedAssociationServer

from cohorts.imaging.dicom.validate import NO_PIXEL_DATA, NOT_MR, DicomRejected
from cohorts.imaging.ingest import ImportReport, check_importable, dicom_import
from cohorts.models import Cohort

logger = logging.getLogger(__name__)

MR_STORAGE_CLASSES = (MRImageStorage, EnhancedMRImageStorage, EnhancedMRColorImageStorage)
STATUS_SUCCESS = 0x0000
STATUS_OUT_OF_RESOURCES = 0xA700  # Refused: out of resources (our own failure)
STATUS_NOT_MATCHING_SOP_CLASS = 0xA900  # Error: data set does not match SOP class
STATUS_CANNOT_UNDERSTAND = 0xC000  # Error: cannot understand (cut off, undecodable, ...)
_STATUS_FOR_REASON = {
    NOT_MR: STATUS_NOT_MATCHING_SOP_CLASS,
    NO_PIXEL_DATA: STATUS_NOT_MATCHING_SOP_CLASS,
}


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


@dataclass
class _Batch:
    calling_ae: str
    files: list[tuple[str, bytes]] = field(default_factory=list)
    rejected: int = 0


class DicomListener:
    """A C-STORE SCP importing into one cohort; `on_batch` hears every finished batch."""

    def __init__(
        self,
        *,
        cohort: Cohort,
        ae_title: str,
        port: int,
        host: str = "0.0.0.0",  # noqa: S104 - scanners on the network are the point
        on_batch: Callable[[ImportReport], None] | None = None,
    ) -> None:
        self.cohort_id = cohort.pk
        self.address = (host, port)
        self.on_batch = on_batch
        self._batches: dict[int, _Batch] = {}
        self._batches_lock = threading.Lock()
        self._import_lock = threading.Lock()
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
            (evt.EVT_C_STORE, self._on_store),
            (evt.EVT_RELEASED, self._on_end),
            (evt.EVT_ABORTED, self._on_end),
        ]

    def start(self) -> None:
        """Listen in background threads (tests, embedding)."""
        self._server = self.ae.start_server(self.address, block=False, evt_handlers=self.handlers)

    def serve_forever(self) -> None:
        self.ae.start_server(self.address, block=True, evt_handlers=self.handlers)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server = None
        self.ae.shutdown()

    # -- events, each on the association's own thread ---------------------------------------

    def _batch(self, assoc: Association) -> _Batch:
        with self._batches_lock:
            return self._batches.setdefault(
                id(assoc), _Batch(calling_ae=assoc.requestor.ae_title.strip())
            )

    def _on_store(self, event: Event) -> int:
        batch = self._batch(event.assoc)
        name = f"{batch.calling_ae or 'peer'} #{len(batch.files) + 1}"
        try:
            payload = event.encoded_dataset()
        except Exception:  # a malformed message: the sender must hear it
            logger.exception("dicom listener: could not read a C-STORE from %s", name)
            return STATUS_CANNOT_UNDERSTAND
        # Kept even when rejected: its series must then be left out whole by the import.
        batch.files.append((name, payload))
        try:
            check_importable(payload, name=name)
        except DicomRejected as exc:
            batch.rejected += 1
            logger.warning("dicom listener: rejected %s: %s", name, exc.message)
            return _STATUS_FOR_REASON.get(exc.reason_code, STATUS_CANNOT_UNDERSTAND)
        except MemoryError:
            return STATUS_OUT_OF_RESOURCES
        return STATUS_SUCCESS

    def _on_end(self, event: Event) -> None:
        with self._batches_lock:
            batch = self._batches.pop(id(event.assoc), None)
        if batch is None or not batch.files:
            return
        try:
            with self._import_lock:
                close_old_connections()
                cohort = Cohort.objects.get(pk=self.cohort_id)
                report = dicom_import(cohort=cohort, files=batch.files, actor=None)
            logger.info(
                "dicom listener: %s sent %d files into %s: %s",
                batch.calling_ae,
                len(batch.files),
                cohort.slug,
                report.summary(),
            )
            if self.on_batch is not None:
                self.on_batch(report)
        except Exception:
            logger.exception(
                "dicom listener: the import of a batch from %s failed", batch.calling_ae
            )
        finally:
            batch.files.clear()
            connections.close_all()  # this thread's connections: the thread ends here
