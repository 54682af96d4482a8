"""Creating users and API keys."""

import hashlib
import hmac
import secrets

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core import signing
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from portal.accounts.models import ApiKey, User
from portal.audit.services import audit_record
from portal.errors import InvalidInput, NotAllowed
from portal.notifications.services import notify, notify_address
from portal.prepared_queries import PreparedQuery

API_KEY_PREFIX = "gg"


def user_create(
    *, email: str, password: str, full_name: str = "", check_password: bool = True, language: str = ""
) -> User:
    errors: dict[str, list[str]] = {}
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        errors["email"] = [_("Enter a valid email address.")]
    if len(full_name) > 150:
        errors["full_name"] = [_("At most 150 characters.")]
    if check_password:
        try:
            validate_password(password, User(email=email, full_name=full_name))
        except ValidationError as exc:
            errors["password"] = list(exc.messages)
    if not errors and User.objects.filter(email__iexact=email).exists():
        errors["email"] = [_("An account with this email already exists.")]
    if errors:
        raise InvalidInput(_("The account could not be created."), fields=errors)
    try:
        with transaction.atomic():
            user = User.objects.create_user(
                email=email, password=password, full_name=full_name, language=_supported_language(language)
            )
            audit_record(actor=user, target=user, action="user_signed_up")
    except IntegrityError as exc:
        raise InvalidInput(
            _("The account could not be created."), fields={"email": [_("Already registered.")]}
        ) from exc
    return user


SIGNUP_SALT = "gpugrant.accounts.signup"
# Sign-up emails to one address per hour, whichever kind: enough for a person who mistyped, too few to
# make the portal a way to flood someone's mailbox. Beyond it the page answers the same and sends nothing.
SIGNUP_EMAILS_PER_HOUR = 5


def signup_request(*, email: str, full_name: str, language: str = "", next_url: str = "") -> None:
    """Someone asked to sign up with ``email``: the answer is always "check your email".

    A new address gets a link that finishes the sign-up (the account exists only once the address is
    proven, with the password chosen then); an address with an account gets a note saying someone tried,
    and how to log in or reset the password. Either way one email is queued and nothing else is
    written, so neither the page nor its timing tells the two apart.
    """
    email = (email or "").strip().lower()
    validate_email(email)
    user = User.objects.filter(email__iexact=email).first()
    if not _signup_email_allowed(email):
        return
    if user is None:
        token = signup_token(email=email, full_name=full_name, language=language, next_url=next_url)
        hours = settings.GPUGRANT_SIGNUP_LINK_MAX_AGE_S // 3600
        notify_address(
            email=email,
            language=_supported_language(language),
            subject=gettext_lazy("Finish signing up for gpugrant"),
            body=format_lazy(
                gettext_lazy(
                    "To finish creating your gpugrant account, open this link within {hours} hours and "
                    "choose your password:\n\n{url}\n\n"
                    "If you did not sign up, ignore this email: no account is created without it."
                ),
                hours=hours,
                url=_absolute(reverse("web:signup_finish", kwargs={"token": token})),
            ),
        )
    else:
        notify(
            recipients=[user],
            subject=gettext_lazy("Someone tried to sign up with your address"),
            body=format_lazy(
                gettext_lazy(
                    "Someone, perhaps you, tried to create a gpugrant account with {email}, which already "
                    "has one. If it was you, log in:\n\n{login_url}\n\n"
                    "or, if you have forgotten your password, choose a new one:\n\n{reset_url}\n\n"
                    "If it was not you, ignore this email: nothing has changed."
                ),
                email=email,
                login_url=_absolute(reverse("web:login")),
                reset_url=_absolute(reverse("web:password_reset")),
            ),
        )


def signup_token(*, email: str, full_name: str, language: str = "", next_url: str = "") -> str:
    """The signed (not secret: it goes only to ``email``) content of a sign-up link; it expires."""
    return signing.dumps(
        {
            "email": email,
            "full_name": full_name[:150],
            "language": _supported_language(language),
            "next": next_url,
        },
        salt=SIGNUP_SALT,
        compress=True,
    )


def signup_link_read(token: str) -> dict | None:
    """What a sign-up link holds (email, full_name, language, next), or None if forged or expired."""
    try:
        return signing.loads(token, salt=SIGNUP_SALT, max_age=settings.GPUGRANT_SIGNUP_LINK_MAX_AGE_S)
    except signing.BadSignature:  # SignatureExpired included
        return None


def _signup_email_allowed(email: str) -> bool:
    key = "signup-emails:" + hashlib.sha256(email.encode()).hexdigest()[:32]
    cache.add(key, 0, 3600)
    try:
        sent = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, 3600)
        sent = 1
    return sent <= SIGNUP_EMAILS_PER_HOUR


def _absolute(path: str) -> str:
    return f"{settings.PORTAL_BASE_URL}{path}"


def _supported_language(language: str) -> str:
    return language if language in dict(settings.LANGUAGES) else ""


def user_set_language(*, user: User, language: str) -> None:
    """Remember the language the user's emails are written in; an unknown code is ignored."""
    language = _supported_language(language)
    if language and language != user.language:
        User.objects.filter(pk=user.pk).update(language=language)
        user.language = language


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def api_key_create(*, user: User, name: str = "", read_only: bool = False) -> tuple[ApiKey, str]:
    """Create a key and return it with its plaintext, which is never stored and cannot be shown again."""
    if not user.is_active:
        raise NotAllowed(_("Inactive users cannot have API keys."))
    if len(name) > 100:
        raise InvalidInput(
            _("The key could not be created."), fields={"name": [_("At most 100 characters.")]}
        )
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    plaintext = f"{API_KEY_PREFIX}_{prefix}_{secret}"
    with transaction.atomic():
        key = ApiKey.objects.create(
            user=user, name=name, prefix=prefix, key_hash=_digest(plaintext), read_only=read_only
        )
        audit_record(actor=user, target=key, action="api_key_created", data={"prefix": prefix})
    return key, plaintext


def api_key_revoke(*, api_key: ApiKey, actor: User) -> ApiKey:
    if actor.pk != api_key.user_id and not actor.is_staff:
        raise NotAllowed(_("You may only revoke your own keys."))
    with transaction.atomic():
        updated = ApiKey.objects.filter(pk=api_key.pk, revoked_at=None).update(revoked_at=timezone.now())
        if updated:
            audit_record(actor=actor, target=api_key, action="api_key_revoked")
    api_key.refresh_from_db()
    return api_key


# Every API request reads its key: the query is compiled once per process and set of annotations.
_ACTIVE_KEY_QUERIES: dict[tuple[str, ...], PreparedQuery] = {}


def _active_key_query(annotations: dict) -> PreparedQuery:
    names = tuple(sorted(annotations))
    query = _ACTIVE_KEY_QUERIES.get(names)
    if query is None:

        def build(prefix):
            keys = ApiKey.objects.select_related("user").filter(prefix=prefix, revoked_at=None)
            return keys.annotate(**annotations) if annotations else keys

        query = _ACTIVE_KEY_QUERIES.setdefault(names, PreparedQuery(build, prefix="prepared:prefix"))
    return query


def api_key_authenticate(plaintext: str, **annotations) -> ApiKey | None:
    """The active key matching ``plaintext``, or None. Compares digests in constant time.

    ``annotations`` are read with the key, in the same query (the submit view reads the user's
    memberships with it). Their query is compiled once per process and set of names: a name must always
    stand for the same expression.
    """
    parts = plaintext.split("_", 2)
    if len(parts) != 3 or parts[0] != API_KEY_PREFIX:
        return None
    key = _active_key_query(annotations).first(prefix=parts[1])
    if key is None or not hmac.compare_digest(key.key_hash, _digest(plaintext)):
        return None
    if not key.user.is_active:
        return None
    now = timezone.now()
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
    return key
