"""Login forms: the portal's and the Django admin's both say so when a login is locked out."""

from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from portal.accounts import lockout

LOCKED_MESSAGE = _("Too many failed attempts. Wait a few minutes before trying again.")


class LockoutMessageMixin:
    """The lockout itself is in the authentication backend; this only explains a refusal it caused."""

    def clean(self):
        try:
            return super().clean()
        except ValidationError:
            email = lockout.login_email(self.cleaned_data.get("username"))
            if email and lockout.login_is_locked(email=email, address=lockout.client_address(self.request)):
                raise ValidationError(LOCKED_MESSAGE, code="locked") from None
            raise


class AdminLoginForm(LockoutMessageMixin, AdminAuthenticationForm):
    pass
