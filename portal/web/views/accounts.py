"""Signing in, out and up."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.views import LoginView, LogoutView
from django.shortcuts import redirect, render
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from portal.accounts.services import user_create
from portal.errors import ServiceError
from portal.web.forms.accounts import EmailAuthenticationForm, SignupForm

login_view = LoginView.as_view(
    template_name="web/accounts/login.html",
    authentication_form=EmailAuthenticationForm,
    redirect_authenticated_user=True,
)
logout_view = LogoutView.as_view()


def signup(request):
    if request.user.is_authenticated:
        return redirect(settings.LOGIN_REDIRECT_URL)
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = user_create(
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password1"],
                full_name=form.cleaned_data["full_name"],
                # the language the page was shown in is the best guess for the user's emails
                language=get_language(),
            )
        except ServiceError as error:
            form.add_service_error(error)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(
                request, _("Welcome to gpugrant. Register your organisation to apply for GPU time.")
            )
            return redirect(settings.LOGIN_REDIRECT_URL)
    return render(request, "web/accounts/signup.html", {"form": form})
