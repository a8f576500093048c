"""The bench's own Python, and the environment of the Django processes a bench starts.

    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from bench.support.env import in_project_python  # noqa: E402

    in_project_python()  # before any import of the project's packages

`in_project_python` runs the script again under the project's virtualenv (.venv) when a bare
python started it, and stops with a clear message when the project's packages cannot be had.
`django_env` is the environment of every child a bench starts (manage.py, gunicorn, Celery
workers, the bench's own data builders): the shell's environment without its CELERY_* and
DJANGO_* variables, Django's settings, DEBUG off, logging at WARNING. `setup_django` is the
first call of such a child. Standard library only: this module runs before the virtualenv does.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VENV = REPO / ".venv"


def in_project_python() -> None:
    """Run the script again under the project's virtualenv when started by a bare python;
    exit with a message when the project's packages are missing."""
    venv_python = VENV / "bin" / "python"
    if venv_python.exists() and Path(sys.prefix).resolve() != VENV.resolve():
        os.execv(str(venv_python), [str(venv_python), *sys.argv])
    missing = [name for name in ("django", "psycopg") if importlib.util.find_spec(name) is None]
    if missing:
        sys.exit(
            f"bench/{Path(sys.argv[0]).name} needs the project's packages "
            f"({', '.join(missing)} missing); run ./run.sh test once."
        )


def django_env(*, media_root: Path, database_url: str | None = None) -> dict[str, str]:
    """The environment of a Django child process of the bench (add DATABASE_URL, the broker
    and queues as the bench needs them)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CELERY_", "DJANGO_"))}
    env |= {
        "DJANGO_SETTINGS_MODULE": "iim_scoring.settings",
        "DEBUG": "false",  # DEBUG keeps every query in memory: not what production runs
        "LOG_LEVEL": "WARNING",
        "MEDIA_ROOT": str(media_root),
        "PYTHONPATH": str(REPO),
    }
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def setup_django() -> None:
    """In a child process the bench started (django_env's environment): Django, ready."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "iim_scoring.settings")
    import django

    django.setup()
