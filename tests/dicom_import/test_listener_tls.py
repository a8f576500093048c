"""The listener over TLS (certificate and key from settings): a TLS association stores and is
imported; a plain association to the TLS port never gets established. The certificate is made
by the test with the openssl program."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from cohorts.imaging.listener import listener_ssl_context
from cohorts.models import DicomImportJob, Instance
from tests.dicom_import.conftest import (
    finished_job,
    on_disk,
    require_program,
    storescu,
    synthetic_files,
)

pytestmark = [pytest.mark.external, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key (PEM)."""
    openssl = require_program("openssl", "openssl")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
        + ["-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"]
        + ["-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


@pytest.fixture
def tls_listener(start_listener, cohort, certificate, settings):
    cert, key = certificate
    settings.DICOM_LISTENER_TLS_CERT, settings.DICOM_LISTENER_TLS_KEY = str(cert), str(key)
    return start_listener(cohort, ssl_context=listener_ssl_context())


def test_a_tls_association_is_accepted_and_imported(tls_listener, certificate, tmp_path):
    cert, key = certificate
    files = synthetic_files(slices=2)
    # storescu's TLS needs a key and certificate of its own; the listener's trusts it.
    tls = ["+tls", str(key), str(cert), "+cf", str(cert)]
    sent = storescu(tls_listener.port, on_disk(tmp_path, files), *tls)
    assert sent.returncode == 0, sent.stderr
    assert finished_job(tls_listener).imported == len(files) == Instance.objects.count()


def test_a_plain_association_to_the_tls_port_fails(tls_listener, tmp_path):
    sent = storescu(tls_listener.port, on_disk(tmp_path, synthetic_files(slices=1)))
    assert sent.returncode != 0 and "Association Request Failed" in sent.stderr
    assert not DicomImportJob.objects.exists() and not Instance.objects.exists()


def test_tls_is_off_unless_a_certificate_is_configured(settings):
    settings.DICOM_LISTENER_TLS_CERT = settings.DICOM_LISTENER_TLS_KEY = ""
    assert listener_ssl_context() is None
