"""The header's language switcher."""

from django.views.decorators.http import require_POST
from django.views.i18n import set_language as django_set_language

from portal.accounts.services import user_set_language


@require_POST
def set_language(request):
    """Django's set_language (cookie, redirect to ``next``), and for a signed-in user the profile too,
    because emails are sent outside any request and can only follow what is stored."""
    response = django_set_language(request)
    if request.user.is_authenticated:
        user_set_language(user=request.user, language=request.POST.get("language", ""))
    return response
