"""Where the real services are for tests, and how a test that needs one skips or fails.

Under REQUIRE_SERVICES=1 (CI) a missing service fails the test; otherwise it skips with a
reason that names the service, so a laptop run says clearly what it did not exercise.
"""

from __future__ import annotations

import os
import shutil
import socket
from urllib.parse import urlparse

import pytest

REDIS_URL = os.environ.get("IIM_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
CHROMIUM = os.environ.get("IIM_TEST_CHROMIUM", "/usr/bin/chromium")


def services_required() -> bool:
    return os.environ.get("REQUIRE_SERVICES", "") not in ("", "0", "false", "no")


def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection(
            (parsed.hostname or "127.0.0.1", parsed.port or default_port), timeout=1
        ):
            return True
    except OSError:
        return False


def need(condition: bool, what: str) -> None:
    """Skip (or fail under REQUIRE_SERVICES=1) when `what` is not available."""
    if condition:
        return
    message = f"needs {what}"
    if services_required():
        pytest.fail(f"{message}, and REQUIRE_SERVICES=1 says it must be there", pytrace=False)
    pytest.skip(message)


def postgres_server_url(name: str = "postgres") -> str:
    """Database `name` on the server the suite runs on (the embedded server, or the one
    DATABASE_URL names), for tests that create databases of their own."""
    from django.db import connection

    from iim_scoring.db.embedded import url_of

    return url_of(connection.settings_dict, name=name)


def database_url() -> str:
    """The suite's own database, for processes the tests start (workers, commands)."""
    from django.db import connection

    from iim_scoring.db.embedded import url_of

    return url_of(connection.settings_dict)


def need_redis() -> str:
    need(_reachable(REDIS_URL, 6379), f"Redis at {REDIS_URL}")
    return REDIS_URL


def need_program(name: str, package: str) -> str:
    path = shutil.which(name)
    need(path is not None, f"the program {name} (Debian package {package})")
    return path


def need_chromium() -> str:
    need(os.path.exists(CHROMIUM), f"Chromium at {CHROMIUM} (Debian package chromium)")
    return CHROMIUM
