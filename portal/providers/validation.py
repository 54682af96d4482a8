"""Field-level checks of providers, clusters and contracts: every problem named by its field."""

from datetime import date
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, URLValidator, validate_slug
from django.utils.translation import gettext as _

from portal.providers.models import ClusterBackend, ClusterState, ContractKind, Region

MAX_GPUS = 1_000_000
MAX_PRICE_KRW = Decimal("10000000")  # per GPU-hour: far above any real price, below the column's limit
PEM_BEGIN = "-----BEGIN CERTIFICATE-----"


def _text(errors, field, value, *, max_length, required=True) -> None:
    if not isinstance(value, str):
        errors[field] = [_("Must be text.")]
    elif required and not value.strip():
        errors[field] = [_("This field is required.")]
    elif len(value) > max_length:
        errors[field] = [_("At most %(n)d characters.") % {"n": max_length}]


def provider_errors(*, name, contact_name="", contact_email="", contract_reference="") -> dict:
    errors: dict[str, list[str]] = {}
    _text(errors, "name", name, max_length=100)
    _text(errors, "contact_name", contact_name, max_length=100, required=False)
    _text(errors, "contract_reference", contract_reference, max_length=100, required=False)
    if contact_email:
        try:
            EmailValidator()(contact_email)
        except ValidationError:
            errors["contact_email"] = [_("Enter a valid email address.")]
    return errors


def _gpu_counts(errors, gpus) -> None:
    if not isinstance(gpus, dict):
        errors["gpus"] = [_("Give the GPUs as GPU type → count.")]
        return
    problems = []
    for gpu_type, count in gpus.items():
        if gpu_type not in settings.GPUGRANT_GPU_TYPES:
            problems.append(
                _("Unknown GPU type %(t)s; known: %(known)s.")
                % {"t": gpu_type, "known": ", ".join(settings.GPUGRANT_GPU_TYPES)}
            )
        elif isinstance(count, bool) or not isinstance(count, int) or not 0 < count <= MAX_GPUS:
            problems.append(_("%(t)s: a whole number from 1 to %(n)d.") % {"t": gpu_type, "n": MAX_GPUS})
    if problems:
        errors["gpus"] = problems


def cluster_state_errors(state) -> dict:
    if state in ClusterState.values:
        return {}
    return {"state": [_("One of: %(v)s.") % {"v": ", ".join(ClusterState.values)}]}


def cluster_errors(
    *,
    name,
    backend,
    region,
    api_url="",
    ca_certificate="",
    token=None,
    has_token=False,
    gpus=None,
    state=None,
) -> dict:
    """``token`` None: unchanged (``has_token`` says whether one is stored); "" clears it."""
    errors: dict[str, list[str]] = {}
    try:
        validate_slug(name)
        if len(name) > 63:
            raise ValidationError("long")
    except (ValidationError, TypeError):
        errors["name"] = [_("Letters, digits, hyphens and underscores, at most 63.")]
    if backend not in ClusterBackend.values:
        errors["backend"] = [_("One of: %(v)s.") % {"v": ", ".join(ClusterBackend.values)}]
    if region not in Region.values:
        errors["region"] = [_("One of: %(v)s.") % {"v": ", ".join(Region.values)}]
    if state is not None:
        errors.update(cluster_state_errors(state))
    will_have_token = bool(token) if token is not None else has_token
    if backend == ClusterBackend.KUBERNETES:
        try:
            URLValidator(schemes=["https"])(api_url)
        except ValidationError:
            errors["api_url"] = [_("A Kubernetes cluster needs its API server's https:// address.")]
        if not isinstance(ca_certificate, str) or PEM_BEGIN not in ca_certificate:
            errors["ca_certificate"] = [_("Paste the API server's CA certificate (PEM).")]
        elif len(ca_certificate) > 20_000:
            errors["ca_certificate"] = [_("At most %(n)d characters.") % {"n": 20_000}]
        if not will_have_token:
            errors["token"] = [_("A Kubernetes cluster needs a service-account token.")]
    elif backend in ClusterBackend.values:
        if api_url or ca_certificate or will_have_token:
            errors["backend"] = [_("A local or simulated cluster has no API server, certificate or token.")]
    if token and (not isinstance(token, str) or len(token) > 10_000):
        errors["token"] = [_("At most %(n)d characters.") % {"n": 10_000}]
    _gpu_counts(errors, gpus if gpus is not None else {})
    return errors


def _day(errors, field, value):
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        errors[field] = [_("A date, YYYY-MM-DD.")]
        return None


def contract_errors(*, gpu_type, gpus, starts_on, ends_on, price_krw_per_gpu_hour, kind) -> dict:
    errors: dict[str, list[str]] = {}
    if gpu_type not in settings.GPUGRANT_GPU_TYPES:
        errors["gpu_type"] = [
            _("Unknown GPU type; known: %(known)s.") % {"known": ", ".join(settings.GPUGRANT_GPU_TYPES)}
        ]
    if isinstance(gpus, bool) or not isinstance(gpus, int) or not 0 < gpus <= MAX_GPUS:
        errors["gpus"] = [_("A whole number from 1 to %(n)d.") % {"n": MAX_GPUS}]
    start, end = _day(errors, "starts_on", starts_on), _day(errors, "ends_on", ends_on)
    if start and end and end < start:
        errors["ends_on"] = [_("The contract cannot end before it starts.")]
    try:
        price = Decimal(str(price_krw_per_gpu_hour))
        if (
            not price.is_finite()
            or not 0 <= price <= MAX_PRICE_KRW
            or price != price.quantize(Decimal("0.01"))
        ):
            raise InvalidOperation
    except (InvalidOperation, ValueError):
        errors["price_krw_per_gpu_hour"] = [
            _("A price in won from 0 to %(max)s, at most two decimals.") % {"max": f"{MAX_PRICE_KRW:,}"}
        ]
    if kind not in ContractKind.values:
        errors["kind"] = [_("One of: %(v)s.") % {"v": ", ".join(ContractKind.values)}]
    return errors
