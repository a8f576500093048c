"""Settings, driven by environment variables (see .env.example).

Three modes:
- embedded default (nothing set): the project's own Postgres server (iim_scoring/db/embedded.py,
  data in EMBEDDED_POSTGRES_DIR), Celery tasks run eagerly in-process, media on local disk,
  DEBUG on;
- services: DATABASE_URL and/or CELERY_BROKER_URL switch to Postgres and Redis with real workers;
- production (DJANGO_ENV=production): refuses to start without a real SECRET_KEY, secrets and
  ALLOWED_HOSTS, and turns on every HTTPS and header protection `check --deploy` asks for.
"""

import ipaddress
from pathlib import Path

import environ
import plotly
from django.core.exceptions import ImproperlyConfigured

from iim_scoring.db import embedded

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DJANGO_ENV = env.str("DJANGO_ENV", default="development")
if DJANGO_ENV not in {"development", "production"}:
    raise ImproperlyConfigured(
        f"DJANGO_ENV must be 'development' or 'production', not {DJANGO_ENV!r}"
    )
PRODUCTION = DJANGO_ENV == "production"

DEV_SECRET_KEY = "django-insecure-iim-scoring-embedded-default-never-use-in-production"
DEV_PEPPER = "iim-scoring-dev-pepper"


def _production_secret(name: str, *, min_length: int) -> str:
    """A secret that production must receive from the environment, long enough to be real."""
    value = env.str(name, default="")
    if not value or value.startswith("django-insecure") or len(value) < min_length:
        raise ImproperlyConfigured(
            f"{name} must be set to a random value of at least {min_length} characters "
            "when DJANGO_ENV=production."
        )
    return value


USING_DATABASE_SERVICE = "DATABASE_URL" in env
USING_BROKER_SERVICE = "CELERY_BROKER_URL" in env
EMBEDDED = not (USING_DATABASE_SERVICE or USING_BROKER_SERVICE)

if PRODUCTION:
    SECRET_KEY = _production_secret("SECRET_KEY", min_length=50)
    # Keys for patient source ids and UID remapping: losing or leaking them breaks pseudonymity.
    PSEUDONYM_PEPPER = _production_secret("PSEUDONYM_PEPPER", min_length=32)
    DICOM_UID_SECRET = _production_secret("DICOM_UID_SECRET", min_length=32)
    DEBUG = False
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[])
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("ALLOWED_HOSTS must list the site's host names in production.")
else:
    SECRET_KEY = env.str("SECRET_KEY", default=DEV_SECRET_KEY)
    PSEUDONYM_PEPPER = env.str("PSEUDONYM_PEPPER", default=DEV_PEPPER)
    DICOM_UID_SECRET = env.str("DICOM_UID_SECRET", default=DEV_PEPPER + "-uids")
    DEBUG = env.bool("DEBUG", default=EMBEDDED)
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])

CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# With DEBUG on, show Django's debug pages for errors instead of the site's own (developers only).
DEBUG_ERROR_PAGES = env.bool("DEBUG_ERROR_PAGES", default=False)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "rules.apps.AutodiscoverRulesConfig",
    "axes",
    "cohorts",
    "scoring",
    "analytics",
    "dashboards",
    "exports",
    "sheets",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # A lost database connection answers 503 "try again", not a 500 page (before sessions).
    "iim_scoring.db_unavailable.DatabaseUnavailableMiddleware",
    # The site's 400/404/500 pages even with DEBUG on (the demo): no URL list to strangers.
    "iim_scoring.api.guards.ErrorPagesMiddleware",
    # A NUL character in the path or query is a 400 here, before any view or query sees it.
    "iim_scoring.api.guards.RefuseNulMiddleware",
    # Django's, but a view may answer without extending the session (iim_scoring/sessions.py).
    "iim_scoring.sessions.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "iim_scoring.urls"
WSGI_APPLICATION = "iim_scoring.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "iim_scoring.context.roles",
            ],
        },
    },
]

# Postgres only. Without DATABASE_URL, the project's own server (started if need be) holds
# its data in EMBEDDED_POSTGRES_DIR; production must name its server.
EMBEDDED_POSTGRES_DIR = Path(env.str("EMBEDDED_POSTGRES_DIR", default="") or BASE_DIR / ".postgres")
if USING_DATABASE_SERVICE:
    DATABASES = {"default": env.db("DATABASE_URL")}
    if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        raise ImproperlyConfigured(
            "DATABASE_URL must name a Postgres database (postgres://user:password@host:port/name)."
        )
elif PRODUCTION:
    raise ImproperlyConfigured("DATABASE_URL must name the Postgres server in production.")
else:
    DATABASES = {"default": embedded.database_settings(EMBEDDED_POSTGRES_DIR)}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
# A restarted Postgres must not leave broken persistent connections behind.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "rules.permissions.ObjectPermissionBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
# Plotly's own bundle, served locally: dashboards must work offline in a hospital network.
STATICFILES_DIRS = [
    BASE_DIR / "static",
    ("plotly", Path(plotly.__file__).resolve().parent / "package_data"),
]
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
# No MEDIA_URL route exists: DICOM files are only ever served by views that check permission.
MEDIA_URL = "/media-not-served/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
WHITENOISE_MIMETYPES = {".wasm": "application/wasm"}

CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

# Celery: eager in-process unless a broker is configured.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="memory://")
CELERY_RESULT_BACKEND = env.str(
    "CELERY_RESULT_BACKEND",
    default=CELERY_BROKER_URL if USING_BROKER_SERVICE else "cache+memory://",
)
CELERY_TASK_ALWAYS_EAGER = not USING_BROKER_SERVICE
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# An unacknowledged task (its worker was killed) is redelivered after this many seconds;
# workers look for such tasks every CELERY_UNACKED_RESTORE_INTERVAL seconds.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=900),
    "unacked_restore_interval": env.int("CELERY_UNACKED_RESTORE_INTERVAL", default=10),
    "unacked_restore_throttle": 1,
}
# Celery beat: catch cohorts left stale by a broker outage or a lost task, and sweep media.
CELERY_BEAT_SCHEDULE = {
    "requeue-stale-cohorts": {"task": "analytics.tasks.requeue_stale", "schedule": 60.0},
    # Image files left without rows by a killed erasure or import (cohorts.imaging.media).
    "sweep-media": {"task": "cohorts.tasks.sweep_media", "schedule": 24 * 3600.0},
}
# Tests give each worker its own queue so nothing left over from another run reaches it.
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_QUEUE", default="celery")
# Cohort recomputations may have a queue of their own (docker-compose's `analytics` workers),
# so DICOM imports never hold them up. Any number of workers may serve it: a per-cohort claim
# keeps one computation per cohort at a time, and nothing is kept in a worker's memory. Unset
# or empty: the default queue.
ANALYTICS_QUEUE = env.str("ANALYTICS_QUEUE", default="") or CELERY_TASK_DEFAULT_QUEUE
CELERY_TASK_ROUTES = {"analytics.tasks.recompute_cohort": {"queue": ANALYTICS_QUEUE}}
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON bounded in depth, size and NUL characters before it is decoded (a 400, never a 500).
    "DEFAULT_PARSER_CLASSES": [
        "iim_scoring.api.parsers.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 100,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "iim_scoring.api.schema.ApiSchema",
    "EXCEPTION_HANDLER": "iim_scoring.api.errors.api_exception_handler",
}
# The schema lists the reading endpoints: in production only signed-in users read it and its docs.
API_DOCS_REQUIRE_LOGIN = env.bool("API_DOCS_REQUIRE_LOGIN", default=PRODUCTION)
SPECTACULAR_SETTINGS = {
    "SERVE_PERMISSIONS": ["iim_scoring.api.permissions.DocsReadable"],
    "TITLE": "iim-scoring API",
    "DESCRIPTION": "Muscle MRI scoring in idiopathic inflammatory myopathies.",
    "VERSION": "1.0.0",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Choice sets that share a field name get names of their own (else `check` warns).
    "ENUM_NAME_OVERRIDES": {
        "ReadStatusEnum": "scoring.models.Read.Status",
        "AnalysisStatusEnum": "analytics.models.AnalysisResult.Status",
        "SeriesSequenceEnum": "cohorts.choices.Sequence",
        "GradeSequenceEnum": "scoring.models.GradeSequence",
        "GradingScaleEnum": "scoring.scales.SCALE_CHOICES",
    },
}

# Mail: EMAIL_URL (e.g. smtp+tls://user:password@mail.example.org:587) sends password-reset
# links; without it there is no password reset at all (a coordinator or admin sets a new one),
# rather than a form that says "sent" and sends nothing.
if "EMAIL_URL" in env:
    vars().update(env.email_url("EMAIL_URL"))
    DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="iim-scoring@localhost")
PASSWORD_RESET_ENABLED = "EMAIL_URL" in env

# django-axes: lock an account and address after repeated failed logins.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = 1  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True

# Idle sessions end after 30 minutes; every request extends the session, except the viewer's
# image fetches (iim_scoring/sessions.py).
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=30 * 60)
# Database sessions that report a lost connection as such (503), not as a deleted session (400).
SESSION_ENGINE = "iim_scoring.db_unavailable"
SESSION_SAVE_EVERY_REQUEST = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

# Content Security Policy: no inline scripts anywhere. Plotly injects styles, the viewer
# compiles WebAssembly codecs and runs a module worker.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'", "'wasm-unsafe-eval'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:"],
        "worker-src": ["'self'", "blob:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}

if PRODUCTION:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    # The container healthcheck asks over plain HTTP from inside.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    CSRF_COOKIE_HTTPONLY = True

# DICOM import limits and network settings.
DICOM_MAX_ARCHIVE_BYTES = env.int("DICOM_MAX_ARCHIVE_BYTES", default=4 * 1024**3)
DICOM_LISTENER_AE_TITLE = env.str("DICOM_LISTENER_AE_TITLE", default="IIMSCORING")
DICOM_LISTENER_PORT = env.int("DICOM_LISTENER_PORT", default=11112)
# Loopback unless told otherwise: a scanner's network is opened on purpose, not by default.
DICOM_LISTENER_HOST = env.str("DICOM_LISTENER_HOST", default="127.0.0.1")
# Senders allowed for every cohort: calling AE titles, and (when listed) the only addresses
# they may call from. Per-cohort senders are rows of cohorts.DicomSender. No sender listed
# anywhere: every association is refused.
DICOM_LISTENER_CALLING_AETS = env.list("DICOM_LISTENER_CALLING_AETS", default=[])
DICOM_LISTENER_PEER_ADDRESSES = env.list("DICOM_LISTENER_PEER_ADDRESSES", default=[])
# Received instances wait here, fsynced, until imported: a local disk of the listener's host.
DICOM_LISTENER_STAGING_DIR = env.path(
    "DICOM_LISTENER_STAGING_DIR", default=Path(MEDIA_ROOT) / "dicom-staging"
)
# TLS: certificate and key (PEM) turn it on; a CA file also requires client certificates.
DICOM_LISTENER_TLS_CERT = env.str("DICOM_LISTENER_TLS_CERT", default="")
DICOM_LISTENER_TLS_KEY = env.str("DICOM_LISTENER_TLS_KEY", default="")
DICOM_LISTENER_TLS_CA = env.str("DICOM_LISTENER_TLS_CA", default="")
# Studies retrieved with C-MOVE come back to this AE title, address and port, served by the
# worker running the retrieval only while it runs: the PACS must know it (AE, host, port).
DICOM_RETRIEVE_AE_TITLE = env.str("DICOM_RETRIEVE_AE_TITLE", default="IIMRETRIEVE")
DICOM_RETRIEVE_HOST = env.str("DICOM_RETRIEVE_HOST", default="127.0.0.1")
DICOM_RETRIEVE_PORT = env.int("DICOM_RETRIEVE_PORT", default=11113)
if bool(DICOM_LISTENER_TLS_CERT) != bool(DICOM_LISTENER_TLS_KEY):
    raise ImproperlyConfigured(
        "DICOM_LISTENER_TLS_CERT and DICOM_LISTENER_TLS_KEY are set together or not at all."
    )
for _name in ("DICOM_LISTENER_TLS_CERT", "DICOM_LISTENER_TLS_KEY", "DICOM_LISTENER_TLS_CA"):
    if globals()[_name] and not Path(globals()[_name]).is_file():
        raise ImproperlyConfigured(f"{_name} names no file: {globals()[_name]}")
for _address in DICOM_LISTENER_PEER_ADDRESSES:
    try:
        ipaddress.ip_network(_address, strict=False)
    except ValueError as _exc:
        raise ImproperlyConfigured(
            f"DICOM_LISTENER_PEER_ADDRESSES: {_address!r} is not an address or network."
        ) from _exc
for _title in [*DICOM_LISTENER_CALLING_AETS, DICOM_RETRIEVE_AE_TITLE]:
    if not 0 < len(_title) <= 16:
        raise ImproperlyConfigured(
            f"{_title!r} (DICOM_LISTENER_CALLING_AETS or DICOM_RETRIEVE_AE_TITLE) is not an AE "
            "title (1 to 16 characters)."
        )

# Analyses: subgroups smaller than this get no per-subtype regression.
ANALYTICS_MIN_SUBGROUP_N = env.int("ANALYTICS_MIN_SUBGROUP_N", default=8)
# Kruskal-Wallis and Dunn leave out a subtype with fewer scores than this in a group (its
# ranks say little); a group with fewer than two subtypes left reports "too few".
ANALYTICS_MIN_COMPARISON_N = env.int("ANALYTICS_MIN_COMPARISON_N", default=3)
# Label permutations behind the subtype classifier's p (p's resolution is 1 / (n + 1); each is
# one cross-validation, so they are most of the beyond-the-paper task's time).
ANALYTICS_CLASSIFIER_PERMUTATIONS = env.int("ANALYTICS_CLASSIFIER_PERMUTATIONS", default=99)
# A grade change queues a recomputation that starts after this many seconds; changes until it
# starts ride on it (one task per burst), changes while it runs queue one more.
ANALYTICS_DEBOUNCE_SECONDS = env.float("ANALYTICS_DEBOUNCE_SECONDS", default=0.25)
# While readers keep saving, one cohort's recomputations start at least this many seconds
# apart (a lone change still waits only the debounce): the worker does not run back to back.
ANALYTICS_MIN_INTERVAL_SECONDS = env.float("ANALYTICS_MIN_INTERVAL_SECONDS", default=1.0)
# The analyses beyond the paper (agreement, asymmetry, trajectories, patterns) follow a
# cohort's recomputation after this many seconds, so a burst of grading recomputes them once.
ANALYTICS_BEYOND_DELAY_SECONDS = env.float("ANALYTICS_BEYOND_DELAY_SECONDS", default=30.0)
# Fault injection for tests only: hold a recomputation open this long before storing results.
ANALYTICS_FAULT_DELAY_SECONDS = env.float("ANALYTICS_FAULT_DELAY_SECONDS", default=0.0)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "structured": {"format": "%(asctime)s level=%(levelname)s logger=%(name)s %(message)s"}
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structured"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # The embedded server's start and stop commands, logged in full at INFO by its library.
    "loggers": {"embedded_postgres": {"level": "WARNING"}},
}
