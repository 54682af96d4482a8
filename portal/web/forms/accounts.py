"""Signing in, signing up and resetting a password."""

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
from django.contrib.auth.tokens import default_token_generator
from django.urls import reverse
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy
from django.utils.translation import gettext_lazy as _

from portal.accounts.forms import LockoutMessageMixin
from portal.notifications.services import notify
from portal.web.forms.base import PortalForm


class EmailAuthenticationForm(LockoutMessageMixin, AuthenticationForm):
    """The lockout is applied by the authentication backend (portal/accounts/backends.py)."""

    username = forms.EmailField(
        label=_("Email"), widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"})
    )

    def clean_username(self) -> str:
        # Accounts are stored with lower-case email addresses.
        return self.cleaned_data["username"].strip().lower()


class SignupForm(PortalForm):
    """The first step: who is signing up. The password is chosen through the emailed link."""

    email = forms.EmailField(label=_("Email"), widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    full_name = forms.CharField(
        label=_("Full name"), max_length=150, widget=forms.TextInput(attrs={"autocomplete": "name"})
    )

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip().lower()


class SignupFinishForm(PortalForm):
    """The second step, from the emailed link: the password (checked by the service)."""

    service_field_names = {"password": "password1"}

    password1 = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("At least 10 characters, not only digits, not a common password."),
    )
    password2 = forms.CharField(
        label=_("Password again"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self):
        cleaned = super().clean()
        if (
            cleaned.get("password1")
            and cleaned.get("password2")
            and cleaned["password1"] != cleaned["password2"]
        ):
            self.add_error("password2", _("The two passwords differ."))
        return cleaned


class PasswordResetRequestForm(PasswordResetForm):
    """Django's reset form, its email queued through the outbox in the account's own language.

    Django answers the same whether or not an account uses the address (it mails only accounts); so
    does this. The link is Django's one-time token, which changing the password invalidates.
    """

    email = forms.EmailField(
        label=_("Email"), max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )

    def save(self, **kwargs) -> None:
        for user in self.get_users(self.cleaned_data["email"]):
            path = reverse(
                "web:password_reset_confirm",
                kwargs={"uidb64": user.public_id, "token": default_token_generator.make_token(user)},
            )
            notify(
                recipients=[user],
                subject=gettext_lazy("Choose a new gpugrant password"),
                body=format_lazy(
                    gettext_lazy(
                        "To choose a new password for {email}, open this link:\n\n{url}\n\n"
                        "It works once, for {days} days. If you did not ask for it, ignore this email: "
                        "your password stays as it is."
                    ),
                    email=user.email,
                    url=f"{settings.PORTAL_BASE_URL}{path}",
                    days=max(1, settings.PASSWORD_RESET_TIMEOUT // 86400),
                ),
            )
