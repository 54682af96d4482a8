"""Signing in, out and up, and choosing a new password.

Sign-up and password reset answer "check your email" whatever the address: whether an account uses it
is told only to the address itself (portal/accounts/services.signup_request).
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.views import LoginView, LogoutView, PasswordResetConfirmView, PasswordResetView
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from portal.accounts.models import User
from portal.accounts.services import signup_link_read, signup_request, user_create
from portal.errors import ServiceError
from portal.web.forms.accounts import (
    EmailAuthenticationForm,
    PasswordResetRequestForm,
    SignupFinishForm,
    SignupForm,
)

BACKEND = "portal.accounts.backends.LockoutModelBackend"

login_view = LoginView.as_view(
    template_name="web/accounts/login.html",
    authentication_form=EmailAuthenticationForm,
    redirect_authenticated_user=True,
)
logout_view = LogoutView.as_view()


def _safe_next(request, candidate: str) -> str:
    """``candidate`` if it is a page of this site, else ""."""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return ""


def signup(request):
    if request.user.is_authenticated:
        return redirect(settings.LOGIN_REDIRECT_URL)
    next_url = _safe_next(request, request.POST.get("next") or request.GET.get("next", ""))
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        signup_request(
            email=form.cleaned_data["email"],
            full_name=form.cleaned_data["full_name"],
            # the language the page was shown in is the best guess for the user's emails
            language=get_language(),
            next_url=next_url,
        )
        return redirect("web:check_email")
    return render(request, "web/accounts/signup.html", {"form": form, "next": next_url})


def check_email(request):
    return render(request, "web/accounts/check_email.html")


def signup_finish(request, token):
    """The emailed link: choose a password, and the account exists (and is signed in)."""
    if request.user.is_authenticated:
        return redirect(settings.LOGIN_REDIRECT_URL)
    link = signup_link_read(token)
    if link is None:
        return render(request, "web/accounts/signup_finish.html", {"problem": "invalid"})
    if User.objects.filter(email__iexact=link["email"]).exists():
        return render(
            request, "web/accounts/signup_finish.html", {"problem": "taken", "email": link["email"]}
        )
    form = SignupFinishForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = user_create(
                email=link["email"],
                password=form.cleaned_data["password1"],
                full_name=link["full_name"],
                language=link["language"],
            )
        except ServiceError as error:
            if "email" in error.fields:  # taken since the page was shown
                return render(
                    request, "web/accounts/signup_finish.html", {"problem": "taken", "email": link["email"]}
                )
            form.add_service_error(error)
        else:
            login(request, user, backend=BACKEND)
            messages.success(
                request, _("Welcome to gpugrant. Register your organisation to apply for GPU time.")
            )
            return redirect(_safe_next(request, link.get("next", "")) or settings.LOGIN_REDIRECT_URL)
    return render(
        request,
        "web/accounts/signup_finish.html",
        {"form": form, "email": link["email"], "full_name": link["full_name"]},
    )


class PasswordReset(PasswordResetView):
    template_name = "web/accounts/password_reset.html"
    form_class = PasswordResetRequestForm
    success_url = reverse_lazy("web:check_email")


class PasswordResetConfirm(PasswordResetConfirmView):
    template_name = "web/accounts/password_reset_confirm.html"
    post_reset_login = True
    post_reset_login_backend = BACKEND
    success_url = reverse_lazy("web:home")

    def get_user(self, uidb64):
        # The link names the user by public id: integer primary keys never leave the database.
        return User.objects.filter(public_id=uidb64, is_active=True).first()

    def form_valid(self, form):
        response = super().form_valid(form)
        messages.success(self.request, _("Your new password is set, and you are logged in."))
        return response


password_reset_view = PasswordReset.as_view()
password_reset_confirm_view = PasswordResetConfirm.as_view()
