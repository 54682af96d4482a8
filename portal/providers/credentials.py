"""Cluster credentials encrypted at rest, with Fernet from the well-kept `cryptography` package.

Keys: settings.GPUGRANT_CREDENTIALS_KEYS. The first encrypts; every one decrypts, so a key is rotated by
putting a new one first, running ``manage.py rotate_credentials_key`` (re-encrypts every stored
credential with it) and then removing the old one (docs/providers.md).
"""

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class CredentialsUnreadable(Exception):
    """No configured key decrypts a stored credential (a key was removed before rotating)."""


def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(key) for key in settings.GPUGRANT_CREDENTIALS_KEYS])


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise CredentialsUnreadable("no configured key decrypts this credential") from None


def is_current(token: str) -> bool:
    """Whether the first key (the one that encrypts) reads it: rotation has nothing to do."""
    try:
        Fernet(settings.GPUGRANT_CREDENTIALS_KEYS[0]).decrypt(token.encode())
    except InvalidToken:
        return False
    return True


def reencrypt(token: str) -> str:
    """The same credential encrypted with the first key."""
    try:
        return _fernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise CredentialsUnreadable("no configured key decrypts this credential") from None
