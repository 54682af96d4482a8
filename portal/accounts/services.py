"""Creating users and API keys."""

import hashlib
import hmac
import secrets

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.accounts.models import ApiKey, User
from portal.audit.services import audit_record
from portal.errors import InvalidInput, NotAllowed

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


def api_key_authenticate(plaintext: str) -> ApiKey | None:
    """The active key matching ``plaintext``, or None. Compares digests in constant time."""
    parts = plaintext.split("_", 2)
    if len(parts) != 3 or parts[0] != API_KEY_PREFIX:
        return None
    key = ApiKey.objects.select_related("user").filter(prefix=parts[1], revoked_at=None).first()
    if key is None or not hmac.compare_digest(key.key_hash, _digest(plaintext)):
        return None
    if not key.user.is_active:
        return None
    now = timezone.now()
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
    return key
