"""A user's own API keys: list, create (the secret is shown once), revoke."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from portal.accounts.services import api_key_create, api_key_revoke
from portal.errors import ServiceError
from portal.web.access import visible_or_404
from portal.web.forms.api_keys import ApiKeyForm


@login_required
def api_key_list(request):
    form = ApiKeyForm(request.POST or None)
    created = None
    if request.method == "POST" and form.is_valid():
        try:
            key, plaintext = api_key_create(user=request.user, **form.cleaned_data)
        except ServiceError as error:
            form.add_service_error(error)
        else:
            # Rendered, not redirected: the secret must not travel through a URL or the session.
            created = {"key": key, "plaintext": plaintext}
            form = ApiKeyForm()
    keys = request.user.api_keys.order_by("revoked_at", "-created_at")
    return render(request, "web/accounts/api_keys.html", {"form": form, "keys": keys, "created": created})


@login_required
@require_POST
def api_key_revoke_view(request, public_id):
    key = visible_or_404(request.user.api_keys.all(), public_id)
    api_key_revoke(api_key=key, actor=request.user)
    messages.success(request, _("The key %(prefix)s… is revoked.") % {"prefix": key.prefix})
    return redirect("web:api_key_list")
