"""A patient's right of access and right to erasure (GDPR Art. 15 and 17), for coordinators.

`patient_record` gathers everything stored about one patient; `patient_erase` removes it all
(images, clinical data, studies, reads, grades, stored scores), empties the values of the audit
events about those rows, and records the erasure itself as an audit event. Erasure lives in
scoring because reads and grades are scoring's; analytics is told through its one door.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import transaction
from django.forms.models import model_to_dict

from analytics.services import results_forget_patient
from cohorts.audit import audit_record, audit_redact_erased
from cohorts.models import AuditEvent, ClinicalAssessment, ImagingStudy, Instance, Patient, Series

from .models import Grade, Read

ERASURE_REASON_REQUIRED = "Give the reason of the erasure (e.g. the request's reference)."
ERASURE_CONFIRMATION_MISMATCH = "Type the patient's pseudonym exactly to confirm the erasure."


@dataclass(frozen=True)
class ErasureSummary:
    pseudonym: str
    assessments: int
    studies: int
    series: int
    instances: int
    files: int
    reads: int
    grades: int
    audit_events_redacted: int


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v if isinstance(v, str | int | float | bool | list | dict | None) else str(v))
            for k, v in row.items()}  # fmt: skip


def patient_record(*, patient: Patient) -> dict[str, Any]:
    """Everything stored about one patient, as plain JSON (Art. 15 access, Art. 20 portability).

    The source patient id is not stored, so it cannot be exported; its keyed hash is left out
    too (it identifies nobody without the pepper, and the pepper is not for export)."""
    studies = list(ImagingStudy.objects.filter(patient=patient).order_by("timepoint", "pk"))
    reads = list(Read.objects.filter(study__patient=patient).select_related("reader", "protocol"))
    patient_row = model_to_dict(patient, exclude=["source_key", "cohort", "site"])
    return {
        "cohort": patient.cohort.slug,
        "site": patient.site.code if patient.site else None,
        "patient": _jsonable(patient_row),
        "clinical_assessments": [
            _jsonable(model_to_dict(a, exclude=["patient"]))
            for a in ClinicalAssessment.objects.filter(patient=patient).order_by("timepoint")
        ],
        "imaging_studies": [
            {
                **_jsonable(model_to_dict(study, exclude=["patient"])),
                "series": [
                    {
                        **_jsonable(model_to_dict(series, exclude=["study"])),
                        "instances": series.instances.count(),
                    }
                    for series in Series.objects.filter(study=study).order_by("pk")
                ],
            }
            for study in studies
        ],
        "reads": [
            {
                "study_uid": read.study.study_uid,
                "reader": read.reader.username,
                "protocol": read.protocol.slug,
                "kind": read.kind,
                "status": read.status,
                "grades": [
                    {"muscle": muscle, "side": side, "sequence": sequence, "grade": value}
                    for muscle, side, sequence, value in Grade.objects.filter(read=read)
                    .order_by("muscle__group__region__order", "muscle__order", "side", "sequence")
                    .values_list("muscle__slug", "side", "sequence", "value")
                ],
            }
            for read in reads
        ],
        "audit_events": [
            {
                "at": event.at.isoformat(),
                "actor": event.actor.username if event.actor else None,
                "action": event.action,
                "target": f"{event.target_type}#{event.target_id}",
                "old": event.old,
                "new": event.new,
                "reason": event.reason,
            }
            for event in AuditEvent.objects.filter(_patient_targets_q(patient)).select_related(
                "actor"
            )
        ],
    }


def _patient_targets(patient: Patient) -> dict[str, list[str]]:
    """The audit target ids of every row that belongs to the patient."""
    studies = ImagingStudy.objects.filter(patient=patient)
    reads = Read.objects.filter(study__in=studies)

    def ids(queryset) -> list[str]:
        return [str(pk) for pk in queryset.values_list("pk", flat=True)]

    return {
        "cohorts.patient": [str(patient.pk)],
        "cohorts.clinicalassessment": ids(ClinicalAssessment.objects.filter(patient=patient)),
        "cohorts.imagingstudy": ids(studies),
        "cohorts.series": ids(Series.objects.filter(study__in=studies)),
        "scoring.read": ids(reads),
        "scoring.grade": ids(Grade.objects.filter(read__in=reads)),
    }


def _patient_targets_q(patient: Patient):
    from django.db.models import Q

    query = Q(pk__in=[])
    for target_type, ids in _patient_targets(patient).items():
        if ids:
            query |= Q(target_type=target_type, target_id__in=ids)
    return query


@transaction.atomic
def patient_erase(
    *, patient: Patient, actor: AbstractBaseUser, reason: str, confirmation: str
) -> ErasureSummary:
    """Erase one patient and everything stored about them; refuses without a reason or when
    `confirmation` is not the pseudonym. Image files are deleted once the rows are gone for
    good (after commit), so a failed erasure leaves everything as it was."""
    if not reason.strip():
        raise ValidationError({"reason": ERASURE_REASON_REQUIRED})
    if confirmation.strip() != patient.pseudonym:
        raise ValidationError({"confirmation": ERASURE_CONFIRMATION_MISMATCH})
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    cohort = patient.cohort
    targets = _patient_targets(patient)
    studies = ImagingStudy.objects.filter(patient=patient)
    reads = Read.objects.filter(study__in=studies)
    instances = Instance.objects.filter(series__study__in=studies)
    files = [name for name in instances.values_list("file", flat=True) if name]
    counts = {
        "assessments": ClinicalAssessment.objects.filter(patient=patient).count(),
        "studies": studies.count(),
        "series": Series.objects.filter(study__in=studies).count(),
        "instances": instances.count(),
        "reads": reads.count(),
        "grades": Grade.objects.filter(read__in=reads).count(),
    }
    redacted = audit_redact_erased(targets=targets)
    # Analytics first (its read scores point at the reads), then children before parents:
    # every foreign key here protects its parent.
    patient_id = patient.pk
    results_forget_patient(
        cohort_id=cohort.pk,
        patient_id=patient_id,
        read_ids=list(reads.values_list("pk", flat=True)),
    )
    Grade.objects.filter(read__in=reads).delete()
    reads.filter(rereads__isnull=False).delete()  # re-reads point at the reads they repeat
    reads.delete()
    instances.delete()
    Series.objects.filter(study__in=studies).delete()
    studies.delete()
    ClinicalAssessment.objects.filter(patient=patient).delete()
    pseudonym = patient.pseudonym
    patient.delete()
    summary = ErasureSummary(
        pseudonym=pseudonym, files=len(files), audit_events_redacted=redacted, **counts
    )
    audit_record(
        actor=actor,
        action="patient.erase",
        target=Patient(pk=patient_id),
        cohort=cohort,
        old=None,
        new=asdict(summary),
        reason=reason.strip(),
    )
    transaction.on_commit(lambda: _delete_files(files))
    return summary


def _delete_files(names: list[str]) -> None:
    for name in names:
        default_storage.delete(name)
