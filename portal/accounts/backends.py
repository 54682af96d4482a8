"""The one place a password is checked: Django's ModelBackend behind the login lockout.

Every entry point that takes a password calls django.contrib.auth.authenticate() with its request: the
portal's login, the Django admin's login, and anything added later (DRF's BasicAuthentication, a
browsable-API login). Applying the lockout here, not in one form, means a new entry point cannot
forget it. API and node keys are separate credentials and never come here.
"""

from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied

from portal.accounts import lockout
from portal.accounts.models import User


class LoginLocked(PermissionDenied):
    """The email and address are locked out: authenticate() stops at once and tries no other backend."""


class LockoutModelBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(User.USERNAME_FIELD)
        if username is None or password is None:
            return None
        email = lockout.login_email(username)  # accounts are stored lower-case
        if request is None:
            # No remote caller to key on (a management command, the test client's login()).
            return super().authenticate(request, username=email, password=password)
        address = lockout.client_address(request)
        if lockout.login_is_locked(email=email, address=address):
            # Refused without checking the password, so a guess made while locked tells nothing.
            lockout.login_refused_while_locked(email=email, address=address)
            raise LoginLocked
        user = super().authenticate(request, username=email, password=password)
        if user is None:
            lockout.login_failure_record(email=email, address=address)
            return None
        lockout.login_success_record(user=user, address=address)
        return user
