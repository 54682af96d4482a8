"""Settings, read from the environment only.

Two modes, chosen by GPUGRANT_ENV:
- ``demo`` (default): embedded defaults that need no server — SQLite, kombu's filesystem broker,
  local-memory cache, console email. Meant for one machine and a browser on 127.0.0.1.
- ``production``: every secret must come from the environment, cookies are secure, HSTS and HTTPS
  redirects are on, and ``manage.py check --deploy`` is clean.
"""

import base64
import binascii
import ipaddress
import os
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("GPUGRANT_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if not value:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if not value:
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, not {value!r}") from exc


GPUGRANT_ENV = os.environ.get("GPUGRANT_ENV", "demo")
if GPUGRANT_ENV not in {"demo", "production"}:
    raise ImproperlyConfigured("GPUGRANT_ENV must be 'demo' or 'production'")
PRODUCTION = GPUGRANT_ENV == "production"

DEBUG = env_bool("DEBUG", default=not PRODUCTION)


def _demo_key(name: str, make) -> str:
    # A random key per checkout, kept under var/ (owner-only), so the demo never runs on a key from git.
    path = VAR_DIR / name
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        key = make()
        path.write_text(key)
        path.chmod(0o600)
        return key


def _demo_secret_key() -> str:
    return _demo_key("secret_key", lambda: secrets.token_urlsafe(50))


SECRET_KEY = os.environ.get("SECRET_KEY") or ""
if not SECRET_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured("SECRET_KEY must be set in production")
    SECRET_KEY = _demo_secret_key()


def _demo_credentials_key() -> str:
    return _demo_key("credentials_key", lambda: base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())


def _fernet_key_ok(key: str) -> bool:
    try:
        return len(base64.urlsafe_b64decode(key.encode())) == 32
    except (ValueError, binascii.Error):
        return False


# Provider clusters' credentials are encrypted at rest with these Fernet keys (docs/providers.md): the
# first encrypts, all decrypt; rotate by putting a new key first and running rotate_credentials_key.
GPUGRANT_CREDENTIALS_KEYS = env_list("GPUGRANT_CREDENTIALS_KEYS", [])
if not GPUGRANT_CREDENTIALS_KEYS:
    if PRODUCTION:
        raise ImproperlyConfigured("GPUGRANT_CREDENTIALS_KEYS must be set in production")
    GPUGRANT_CREDENTIALS_KEYS = [_demo_credentials_key()]
if not all(_fernet_key_ok(key) for key in GPUGRANT_CREDENTIALS_KEYS):
    raise ImproperlyConfigured(
        "GPUGRANT_CREDENTIALS_KEYS: each key must be 32 url-safe base64-encoded bytes (a Fernet key)"
    )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [] if PRODUCTION else ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "portal.accounts",
    "portal.organisations",
    "portal.calls",
    "portal.applications",
    "portal.audit",
    "portal.environments",
    "portal.providers",
    "portal.notifications",
    "portal.web",
    "portal.ops",
    "quotas",
    "scheduler",
]

MIDDLEWARE = [
    # First: every later log line carries the request id; probes and scrapes skip host checks.
    "portal.ops.middleware.RequestContextMiddleware",
    "portal.ops.middleware.OpsEndpointsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "portal.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

if GPUGRANT_ENV == "production":
    # Right after SecurityMiddleware: the image collects static files at build time and no other
    # server sits in front of gunicorn for them (deploy/).
    MIDDLEWARE.insert(
        MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
        "whitenoise.middleware.WhiteNoiseMiddleware",
    )

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"
APPEND_SLASH = True

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.web.context.roles",
                "portal.ops.context.ops_warnings",
            ],
        },
    }
]

# --- Database -------------------------------------------------------------------------------------
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'gpugrant.sqlite3'}",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    # Wait for a writer instead of failing at once: the demo's web and worker processes share the file.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
    # Take the write lock when a transaction begins: a transaction that reads, then writes while another
    # process writes, cannot upgrade its lock and fails at once ("database is locked", a 500) instead of
    # waiting (bench.session_start found launches and stops refused so on the demo).
    DATABASES["default"]["OPTIONS"]["transaction_mode"] = "IMMEDIATE"
if os.environ.get("DATABASE_TEST_NAME"):
    # Lets parallel test runs on one server use separate test databases.
    DATABASES["default"]["TEST"] = {"NAME": os.environ["DATABASE_TEST_NAME"]}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (throttling, locks) --------------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "portal.redis_cache.RedisCache",  # Django's, one client per pool
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", "gpugrant"),
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Auth -----------------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
# The only backend: ModelBackend behind the login lockout, for every login form (portal/accounts/backends.py).
AUTHENTICATION_BACKENDS = ["portal.accounts.backends.LockoutModelBackend"]
LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "web:login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Login throttling (portal/accounts/lockout.py): this many failed passwords for one email from one
# address within the window lock that pair out for the lockout time.
GPUGRANT_LOGIN_MAX_FAILURES = env_int("GPUGRANT_LOGIN_MAX_FAILURES", 5)
GPUGRANT_LOGIN_WINDOW_S = env_int("GPUGRANT_LOGIN_WINDOW_S", 15 * 60)
GPUGRANT_LOGIN_LOCKOUT_S = env_int("GPUGRANT_LOGIN_LOCKOUT_S", 15 * 60)
# Sign-up (portal/accounts/services.py): how long the emailed link that finishes a sign-up works.
GPUGRANT_SIGNUP_LINK_MAX_AGE_S = env_int("GPUGRANT_SIGNUP_LINK_MAX_AGE_S", 24 * 3600)

# --- Internationalisation -------------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("ko", "한국어")]
TIME_ZONE = os.environ.get("TIME_ZONE", "Asia/Seoul")
USE_I18N = True
# The catalogue is committed compiled, so a checkout without GNU gettext still shows Korean (docs/i18n.md).
LOCALE_PATHS = [BASE_DIR / "portal" / "locale"]
# Dates shown with |date:"SHORT_DATE_FORMAT" and friends follow these per language (ISO in English).
FORMAT_MODULE_PATH = ["portal.formats"]
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))

# --- Request limits ------------------------------------------------------------------------------
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 1024 * 1024)
DATA_UPLOAD_MAX_NUMBER_FIELDS = 1000

# --- REST API -------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "portal.accounts.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "portal.api.common.ApiKeyScope",
    ],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # DRF's JSONParser with the nesting depth checked before parsing (portal/jsonlimits.py).
    "DEFAULT_PARSER_CLASSES": ["portal.api.parsers.DepthLimitedJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "portal.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "portal.api.errors.exception_handler",
    "DEFAULT_PAGINATION_CLASS": "portal.api.pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": os.environ.get("API_THROTTLE_ANON", "60/min"),
        "user": os.environ.get("API_THROTTLE_USER", "1200/min"),
    },
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "gpugrant API",
    "DESCRIPTION": "Apply for national GPU compute, review applications, and read allocations.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "PREPROCESSING_HOOKS": ["portal.api.common.schema_without_trailing_slash_duplicates"],
    "COMPONENT_SPLIT_REQUEST": True,
    # Served from our own static files: the docs page must work without any CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "OrganisationTypeEnum": "portal.organisations.models.OrganisationType",
        "JobKindEnum": "scheduler.models.JobKind",
        "ApplicationKindEnum": "portal.applications.models.ApplicationKind",
        "RegionEnum": "portal.providers.models.Region",
        "MisuseKindEnum": "quotas.models.MisuseKind",
    },
}

# --- Celery ---------------------------------------------------------------------------------------
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "") or "filesystem://"
if CELERY_BROKER_URL == "filesystem://":
    _broker_dir = VAR_DIR / "broker"
    for sub in ("out", "processed", "control"):
        (_broker_dir / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "out"),
        "data_folder_out": str(_broker_dir / "out"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_TASK_DEFAULT_QUEUE", "gpugrant")
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE = {
    "notifications-resend-pending": {
        "task": "portal.notifications.tasks.notifications_resend_pending",
        "schedule": 60.0,
    },
    "scheduling-cycle": {
        "task": "scheduler.tasks.scheduling_cycle",
        "schedule": float(os.environ.get("GPUGRANT_CYCLE_INTERVAL_S", "3")),
    },
    "scheduler-reconcile": {"task": "scheduler.tasks.reconcile", "schedule": 2.0},
    "scheduler-sweep": {"task": "scheduler.tasks.sweep", "schedule": 30.0},
    "sessions-check-idle": {"task": "scheduler.tasks.sessions_check_idle", "schedule": 60.0},
    "allocations-expire-due": {
        "task": "quotas.tasks.allocations_expire_due",
        "schedule": 300.0,
    },
    "agreements-lapse-due": {"task": "quotas.tasks.agreements_lapse_due", "schedule": 300.0},
    # Once an hour: the first run of each month checks the month before; the rest find it done.
    "usage-checks-run": {"task": "quotas.tasks.usage_checks_run", "schedule": 3600.0},
}

# --- Email ----------------------------------------------------------------------------------------
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if PRODUCTION
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "gpugrant <noreply@gpugrant.localhost>")
PORTAL_BASE_URL = os.environ.get("PORTAL_BASE_URL", "http://127.0.0.1:8000")

# --- Security -------------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# portal/csp.py; empty: no header (the demo's debug pages need inline code).
GPUGRANT_CONTENT_SECURITY_POLICY = os.environ.get(
    "GPUGRANT_CONTENT_SECURITY_POLICY",
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    if PRODUCTION
    else "",
)
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    if len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5:
        raise ImproperlyConfigured("SECRET_KEY must be at least 50 characters of random text in production")

# --- gpugrant -------------------------------------------------------------------------------------
GPUGRANT_BACKEND = os.environ.get("GPUGRANT_BACKEND", "local")
# The local backend's folder for sessions' sockets (docs/sessions.md): short, as a socket's path must be.
GPUGRANT_SESSION_SOCKET_DIR = os.environ.get("GPUGRANT_SESSION_SOCKET_DIR", "/tmp/gpugrant-sessions")
# The registered provider cluster (portal/providers) that backend serves: its nodes are tied to it, so
# settlement can read each provider's usage (docs/providers.md). Empty: nodes belong to no cluster.
GPUGRANT_CLUSTER = os.environ.get("GPUGRANT_CLUSTER", "")
GPUGRANT_BACKENDS = {
    "local": "scheduler.backends.local.LocalBackend",
    "simulated": "scheduler.backends.simulated.SimulatedBackend",
    "kubernetes": "scheduler.backends.kubernetes.KubernetesBackend",
    # every registered cluster at once, each through its own backend (docs/providers.md, "Federation")
    "federated": "scheduler.federation.federated_backend",
}
# Federation: a cluster whose API server has not answered for this long is down: marked offline, its
# jobs lost and requeued elsewhere.
GPUGRANT_CLUSTER_OFFLINE_AFTER_S = env_int("GPUGRANT_CLUSTER_OFFLINE_AFTER_S", 120)
# Scheduling policy (docs/scheduling.md).
GPUGRANT_MAX_RUNTIME_MINUTES = env_int("GPUGRANT_MAX_RUNTIME_MINUTES", 7 * 24 * 60)
GPUGRANT_FAIRSHARE_HALF_LIFE_S = env_int("GPUGRANT_FAIRSHARE_HALF_LIFE_S", 7 * 24 * 3600)
GPUGRANT_PREEMPTION_WAIT_S = env_int("GPUGRANT_PREEMPTION_WAIT_S", 0)
GPUGRANT_PREEMPTION_GRACE_S = env_int("GPUGRANT_PREEMPTION_GRACE_S", 10 * 60)
# A job requeued this often is never preempted again (0: no limit; docs/scheduling.md, the measured
# trade-off in docs/benchmarks.md §5).
GPUGRANT_MAX_PREEMPTIONS = env_int("GPUGRANT_MAX_PREEMPTIONS", 3)
# A normal job that has run this long is never preempted (0: no limit; the measured trade-off between
# GPU-hours lost and light tenants' waits is in docs/benchmarks.md §5).
GPUGRANT_PREEMPTION_MAX_RUN_S = env_int("GPUGRANT_PREEMPTION_MAX_RUN_S", 0)
if GPUGRANT_PREEMPTION_MAX_RUN_S < 0:
    raise ImproperlyConfigured(
        f"GPUGRANT_PREEMPTION_MAX_RUN_S must be 0 (no limit) or more seconds, not {GPUGRANT_PREEMPTION_MAX_RUN_S}"
    )
# A within-share job preempts only once its allocation's recent jobs have waited more than this fraction of
# their time since starting (e.g. 0.03; 0: at once, no budget), counted over jobs running now or ended in
# the last GPUGRANT_PREEMPTION_BUDGET_WINDOW_S (docs/scheduling.md; measured in docs/benchmarks.md §5).
try:
    GPUGRANT_PREEMPTION_WAIT_BUDGET = float(os.environ.get("GPUGRANT_PREEMPTION_WAIT_BUDGET") or 0)
except ValueError as exc:
    raise ImproperlyConfigured(
        "GPUGRANT_PREEMPTION_WAIT_BUDGET must be a number (a fraction such as 0.03, or 0 for none), not "
        f"{os.environ.get('GPUGRANT_PREEMPTION_WAIT_BUDGET')!r}"
    ) from exc
if not 0 <= GPUGRANT_PREEMPTION_WAIT_BUDGET < float("inf"):
    raise ImproperlyConfigured(
        f"GPUGRANT_PREEMPTION_WAIT_BUDGET must be 0 (none) or a positive fraction, not {GPUGRANT_PREEMPTION_WAIT_BUDGET}"
    )
GPUGRANT_PREEMPTION_BUDGET_WINDOW_S = env_int("GPUGRANT_PREEMPTION_BUDGET_WINDOW_S", 7 * 24 * 3600)
if GPUGRANT_PREEMPTION_BUDGET_WINDOW_S <= 0:
    raise ImproperlyConfigured(
        f"GPUGRANT_PREEMPTION_BUDGET_WINDOW_S must be a positive number of seconds, not {GPUGRANT_PREEMPTION_BUDGET_WINDOW_S}"
    )
# The shares preemption restores: "guaranteed" (every active allocation's, idle or not: a share never moves
# as others come and go) or "demand" (divided among the allocations with jobs now; docs/scheduling.md).
GPUGRANT_PREEMPTION_SHARES = os.environ.get("GPUGRANT_PREEMPTION_SHARES") or "guaranteed"
if GPUGRANT_PREEMPTION_SHARES not in {"guaranteed", "demand"}:
    raise ImproperlyConfigured(
        f"GPUGRANT_PREEMPTION_SHARES must be 'guaranteed' or 'demand', not {GPUGRANT_PREEMPTION_SHARES!r}"
    )
# GPUs per type held back for interactive sessions (docs/sessions.md), e.g. "A100=1,H100=1"; none by default.
GPUGRANT_SESSION_RESERVE_GPUS = {
    gpu_type.strip(): int(count)
    for gpu_type, _, count in (
        part.partition("=")
        for part in os.environ.get("GPUGRANT_SESSION_RESERVE_GPUS", "").split(",")
        if part.strip()
    )
}
GPUGRANT_PREEMPTION_HOLD_S = env_int("GPUGRANT_PREEMPTION_HOLD_S", 15 * 60)
GPUGRANT_MAX_AGE_S = env_int("GPUGRANT_MAX_AGE_S", 7 * 24 * 3600)
GPUGRANT_RESERVATION_DEPTH = env_int("GPUGRANT_RESERVATION_DEPTH", 4)
GPUGRANT_MAX_REQUEUES = env_int("GPUGRANT_MAX_REQUEUES", 3)  # lost/bind-failed runs before a job fails
GPUGRANT_CYCLE_INTERVAL_S = float(os.environ.get("GPUGRANT_CYCLE_INTERVAL_S", "3"))
GPUGRANT_SCHEDULED_TIMEOUT_S = env_int("GPUGRANT_SCHEDULED_TIMEOUT_S", 300)  # sweep repairs jobs stuck longer
# Load shedding (portal/api/throttling.py): submissions per organisation ("N/sec|min|hour|day"; empty:
# off) → 429 + Retry-After; submissions one process admits at once (0: off) → 503 + Retry-After.
GPUGRANT_ORG_SUBMIT_RATE = os.environ.get("GPUGRANT_ORG_SUBMIT_RATE", "1200/min")
GPUGRANT_SUBMIT_CONCURRENCY = env_int("GPUGRANT_SUBMIT_CONCURRENCY", 0)
GPUGRANT_OVERLOAD_RETRY_AFTER_S = env_int("GPUGRANT_OVERLOAD_RETRY_AFTER_S", 1)
# With the cap on: how many submissions may wait for a slot, and how long each waits, before a 503.
GPUGRANT_SUBMIT_QUEUE = env_int("GPUGRANT_SUBMIT_QUEUE", 0)
GPUGRANT_SUBMIT_QUEUE_WAIT_MS = env_int("GPUGRANT_SUBMIT_QUEUE_WAIT_MS", 1000)
GPUGRANT_LOG_LIMIT_BYTES = env_int("GPUGRANT_LOG_LIMIT_BYTES", 64 * 1024)
# Local backend: simulated GPUs per type where no NVIDIA GPU exists (the demo awards A100 and H100).
GPUGRANT_LOCAL_GPUS = os.environ.get("GPUGRANT_LOCAL_GPUS", "A100:4,H100:4")
# Local backend: which registered cluster (portal/providers) each GPU type of this machine belongs to,
# "A100=cluster-a,H100=cluster-b" (the demo splits its simulated GPUs between two providers this way).
GPUGRANT_LOCAL_CLUSTERS = os.environ.get("GPUGRANT_LOCAL_CLUSTERS", "")
# Local backend sandbox (bubblewrap; docs/configuration.md): "required" refuses to start without it;
# "if-available" (the demo's default) runs jobs unsandboxed, with a loud warning, where it cannot work;
# "off" (demo only) never sandboxes.
GPUGRANT_LOCAL_SANDBOX = os.environ.get(
    "GPUGRANT_LOCAL_SANDBOX", "required" if PRODUCTION else "if-available"
)
if GPUGRANT_LOCAL_SANDBOX not in ("required", "if-available", "off"):
    raise ImproperlyConfigured("GPUGRANT_LOCAL_SANDBOX must be 'required', 'if-available' or 'off'")
if PRODUCTION and GPUGRANT_LOCAL_SANDBOX != "required":
    raise ImproperlyConfigured(
        "GPUGRANT_LOCAL_SANDBOX must be 'required' in production: jobs never run unsandboxed"
    )
GPUGRANT_LOCAL_SANDBOX_BWRAP = os.environ.get("GPUGRANT_LOCAL_SANDBOX_BWRAP", "bwrap")
# Each running job gets its own host uid (and gid) from this range, never shared with another running job.
GPUGRANT_LOCAL_SANDBOX_UID_BASE = env_int("GPUGRANT_LOCAL_SANDBOX_UID_BASE", 2_000_000_000)
GPUGRANT_LOCAL_SANDBOX_UID_COUNT = env_int("GPUGRANT_LOCAL_SANDBOX_UID_COUNT", 65536)
# The project's packages jobs may import (read-only), beside the Python prefix and its venv.
GPUGRANT_LOCAL_SANDBOX_CODE = env_list("GPUGRANT_LOCAL_SANDBOX_CODE", ["workers"])
# More read-only host paths every job sees (a CUDA toolkit under /opt, shared datasets); never VAR_DIR.
GPUGRANT_LOCAL_SANDBOX_RO_PATHS = env_list("GPUGRANT_LOCAL_SANDBOX_RO_PATHS", [])
# Per-job limits: memory (RLIMIT_DATA, per process) per GPU of the rank, processes (RLIMIT_NPROC, per
# job uid) per GPU of the job, open files (RLIMIT_NOFILE) per process, /dev/shm per rank.
GPUGRANT_LOCAL_MEMORY_MB_PER_GPU = env_int("GPUGRANT_LOCAL_MEMORY_MB_PER_GPU", 32 * 1024)
GPUGRANT_LOCAL_PROCESSES_PER_GPU = env_int("GPUGRANT_LOCAL_PROCESSES_PER_GPU", 512)
GPUGRANT_LOCAL_OPEN_FILES = env_int("GPUGRANT_LOCAL_OPEN_FILES", 65536)
GPUGRANT_LOCAL_SHM_MB = env_int("GPUGRANT_LOCAL_SHM_MB", 512)
# Kubernetes: GPU Feature Discovery product label → gpugrant GPU type.
GPUGRANT_K8S_PRODUCT_MAP = {
    "NVIDIA-A100-SXM4-80GB": "A100",
    "NVIDIA-A100-SXM4-40GB": "A100",
    "NVIDIA-A100-PCIE-40GB": "A100",
    "NVIDIA-A100-80GB-PCIe": "A100",
    "NVIDIA-H100-80GB-HBM3": "H100",
    "NVIDIA-H100-PCIe": "H100",
    "NVIDIA-H200": "H200",
    "NVIDIA-L40S": "L40S",
    "Tesla-V100-SXM2-32GB": "V100",
}
GPUGRANT_K8S_NAMESPACE_PREFIX = os.environ.get("GPUGRANT_K8S_NAMESPACE_PREFIX", "gpugrant-")
GPUGRANT_K8S_QPS = float(os.environ.get("GPUGRANT_K8S_QPS", "100"))
GPUGRANT_K8S_BURST = env_int("GPUGRANT_K8S_BURST", 200)
# Binds a cycle runs at once on Kubernetes, and who binds the pods to their nodes: gpugrant itself
# (spec.nodeName at creation) or kube-scheduler, to the one node their affinity allows
# (docs/kubernetes.md, "Binding a job").
GPUGRANT_K8S_BIND_CONCURRENCY = env_int("GPUGRANT_K8S_BIND_CONCURRENCY", 16)
GPUGRANT_K8S_BINDING = os.environ.get("GPUGRANT_K8S_BINDING", "gpugrant")
if GPUGRANT_K8S_BINDING not in ("gpugrant", "kube-scheduler"):
    raise ImproperlyConfigured(
        f"GPUGRANT_K8S_BINDING must be 'gpugrant' or 'kube-scheduler', not {GPUGRANT_K8S_BINDING!r}"
    )
# Tenant isolation on Kubernetes (docs/security.md): the user job containers run as (never root), the
# organisation namespace's NetworkPolicy (off only where the operator enforces an equivalent), whether job
# pods may reach the internet, and the address ranges they may never reach.
GPUGRANT_K8S_JOB_UID = env_int("GPUGRANT_K8S_JOB_UID", 1000)
if GPUGRANT_K8S_JOB_UID <= 0:
    raise ImproperlyConfigured(
        f"GPUGRANT_K8S_JOB_UID must be a user other than root, not {GPUGRANT_K8S_JOB_UID}"
    )
GPUGRANT_K8S_NETWORK_POLICY = env_bool("GPUGRANT_K8S_NETWORK_POLICY", True)
GPUGRANT_K8S_JOB_INTERNET = env_bool("GPUGRANT_K8S_JOB_INTERNET", True)
# Private, shared and link-local ranges: the cluster's Services (the Kubernetes API's among them), nodes,
# other namespaces' pods and in-house databases live there. Add a public API endpoint if yours has one.
GPUGRANT_K8S_JOB_EGRESS_EXCEPT = env_list(
    "GPUGRANT_K8S_JOB_EGRESS_EXCEPT",
    ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16"],
)
for _cidr in GPUGRANT_K8S_JOB_EGRESS_EXCEPT:
    try:
        ipaddress.ip_network(_cidr)
    except ValueError as _error:
        raise ImproperlyConfigured(
            f"GPUGRANT_K8S_JOB_EGRESS_EXCEPT: {_cidr!r} is not a CIDR ({_error})"
        ) from None
# Metering: "agent" = node agents report usage records per interval (production); "edges" = no agents,
# each run is charged from its bind/release edges when it ends (demo without agents, benchmarks).
GPUGRANT_METERING = os.environ.get("GPUGRANT_METERING", "agent" if PRODUCTION else "edges")
GPUGRANT_METERING_INTERVAL_S = env_int("GPUGRANT_METERING_INTERVAL_S", 10)  # the agents' report interval
GPUGRANT_IDLE_UTILISATION_PCT = float(os.environ.get("GPUGRANT_IDLE_UTILISATION_PCT", "5"))
GPUGRANT_IDLE_WARN_AFTER_S = env_int("GPUGRANT_IDLE_WARN_AFTER_S", 30 * 60)
GPUGRANT_IDLE_STOP_AFTER_S = env_int("GPUGRANT_IDLE_STOP_AFTER_S", 60 * 60)
GPUGRANT_INACTIVE_ALLOCATION_POLICY = os.environ.get(
    "GPUGRANT_INACTIVE_ALLOCATION_POLICY", "finish"
)  # or "stop"
# Reports: price per GPU-hour (KRW) by GPU type, and the grid's carbon intensity (kg CO2 per kWh).
GPUGRANT_PRICE_KRW_PER_GPU_HOUR = {
    "A100": int(os.environ.get("GPUGRANT_PRICE_KRW_A100", "3000")),
    "H100": int(os.environ.get("GPUGRANT_PRICE_KRW_H100", "6000")),
    "H200": int(os.environ.get("GPUGRANT_PRICE_KRW_H200", "8000")),
    "L40S": int(os.environ.get("GPUGRANT_PRICE_KRW_L40S", "1500")),
    "V100": int(os.environ.get("GPUGRANT_PRICE_KRW_V100", "1000")),
}
# An approximate figure for Korea's grid; operators set the current official factor.
GPUGRANT_GRID_KG_CO2_PER_KWH = float(os.environ.get("GPUGRANT_GRID_KG_CO2_PER_KWH", "0.459"))
# GPU types the service knows; calls offer a subset. Kubernetes product labels map onto these later.
GPUGRANT_GPU_TYPES = env_list("GPUGRANT_GPU_TYPES", ["A100", "H100", "H200", "L40S", "V100"])
# Hours in a "GPU-month" when a form takes GPUs × months (365 × 24 / 12).
GPUGRANT_HOURS_PER_MONTH = 730
GPUGRANT_MAX_TEXT = {"title": 200, "summary": 5000, "justification": 10000, "comment": 5000, "reason": 2000}

# --- Operations (docs/operations.md) ----------------------------------------------------------------
# /metrics: a bearer token and/or client networks (CIDRs); production with neither answers 404.
GPUGRANT_METRICS_TOKEN = os.environ.get("GPUGRANT_METRICS_TOKEN", "")
GPUGRANT_METRICS_ALLOWED_NETWORKS = [
    ipaddress.ip_network(cidr, strict=False) for cidr in env_list("GPUGRANT_METRICS_ALLOWED_NETWORKS", [])
]
# /healthz/ready fails when the last successful cycle is older than this (0: the scheduler is not checked).
GPUGRANT_READY_MAX_CYCLE_AGE_S = env_int("GPUGRANT_READY_MAX_CYCLE_AGE_S", 300)
GPUGRANT_HEALTH_BROKER_TIMEOUT_S = float(os.environ.get("GPUGRANT_HEALTH_BROKER_TIMEOUT_S", "2"))
# Staff pages warn when the scheduler, or the agent of a node running jobs, has been silent this long.
GPUGRANT_SCHEDULER_QUIET_AFTER_S = env_int("GPUGRANT_SCHEDULER_QUIET_AFTER_S", 120)
GPUGRANT_AGENT_QUIET_AFTER_S = env_int("GPUGRANT_AGENT_QUIET_AFTER_S", 120)
GPUGRANT_ACCESS_LOG = env_bool("GPUGRANT_ACCESS_LOG", True)

GPUGRANT_LOG_FORMAT = os.environ.get("GPUGRANT_LOG_FORMAT") or ("json" if PRODUCTION else "text")
if GPUGRANT_LOG_FORMAT not in {"json", "text"}:
    raise ImproperlyConfigured("GPUGRANT_LOG_FORMAT must be 'json' or 'text'")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "context": {"()": "workers.logs.ContextFilter"},
        "session_paths": {"()": "portal.sessions_proxy.log_filter.HideSessionPaths"},
    },
    "formatters": {
        "json": {"()": "workers.logs.JsonFormatter"},
        "text": {"()": "workers.logs.TextFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["context"],
            "formatter": GPUGRANT_LOG_FORMAT,
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    # The sessions' proxy (portal/sessions_proxy) logs its own line with the path template only. These
    # would log session URLs with their query strings, and websockets' debug lines the token header.
    "loggers": {
        **{name: {"level": "WARNING"} for name in ("uvicorn.access", "httpx", "httpcore", "websockets")},
        "uvicorn.error": {"filters": ["session_paths"]},
    },
}
# Celery's workers log through the handler above (ids, JSON) instead of installing their own.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
