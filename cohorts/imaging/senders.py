"""Who may send to a cohort's listener, and which studies a cohort may not take.

Senders: a calling AE title listed in DICOM_LISTENER_CALLING_AETS (from an address in
DICOM_LISTENER_PEER_ADDRESSES when that list is not empty), or a DicomSender row of the cohort
(from its address, when it names one). Nothing listed: nobody may send.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Q

from cohorts.audit import audit_record
from cohorts.models import Cohort, DicomSender, ImagingStudy


def _address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(value.split("%")[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped  # a dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d
    return address


def address_in(value: str, networks: Iterable[str]) -> bool:
    """Whether `value` lies in one of `networks` (addresses or CIDR networks)."""
    address = _address(value)
    if address is None:
        return False
    return any(address in ipaddress.ip_network(network, strict=False) for network in networks)


def sender_allowed(*, cohort_id: int, calling_ae: str, address: str) -> bool:
    """Whether the listener of cohort `cohort_id` accepts an association from `calling_ae` at
    `address` (see the module doc)."""
    title = calling_ae.strip()
    if title in settings.DICOM_LISTENER_CALLING_AETS:
        networks = settings.DICOM_LISTENER_PEER_ADDRESSES
        if not networks or address_in(address, networks):
            return True
    from_anywhere_or_here = Q(address__isnull=True)
    peer = _address(address)
    if peer is not None:
        from_anywhere_or_here |= Q(address=str(peer))
    return DicomSender.objects.filter(
        from_anywhere_or_here, cohort_id=cohort_id, ae_title=title
    ).exists()


def study_in_other_cohort(*, cohort_id: int, study_uid: str) -> bool:
    """Whether the study with this pseudonymized UID was imported into another cohort: a study
    belongs to one cohort (README, "A study sent for a second cohort")."""
    return (
        ImagingStudy.objects.filter(study_uid=study_uid)
        .exclude(patient__cohort_id=cohort_id)
        .exists()
    )


def dicom_sender_create(
    *, cohort: Cohort, actor: AbstractBaseUser, ae_title: str, address: str | None, description: str
) -> DicomSender:
    """Allow a modality or PACS to send to the cohort's listener (from `address`, or any)."""
    sender = DicomSender(
        cohort=cohort, ae_title=ae_title.strip(), address=address or None, description=description
    )
    sender.full_clean()
    with transaction.atomic():
        sender.save()
        audit_record(
            actor=actor,
            action="dicom.sender.create",
            target=sender,
            cohort=cohort,
            new={"ae_title": sender.ae_title, "address": sender.address},
        )
    return sender
