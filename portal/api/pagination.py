from django.core.paginator import InvalidPage
from django.utils.translation import gettext as _
from rest_framework.pagination import PageNumberPagination

from portal.errors import InvalidInput

MAX_DIGITS = 18


class Pagination(PageNumberPagination):
    """Page-number pagination that refuses a bad ``page`` or ``page_size`` with a field error (400).

    DRF's own answers 404 for a page it cannot parse and quietly ignores a bad page size, which leaves a
    client that mistyped a parameter guessing.
    """

    page_size_query_param = "page_size"
    max_page_size = 200

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        errors: dict[str, list[str]] = {}
        page_size = _whole_number(
            request, self.page_size_query_param, self.page_size, self.max_page_size, errors
        )
        page_number = _whole_number(request, self.page_query_param, 1, None, errors)
        if errors:
            raise InvalidInput(_("Invalid pagination."), fields=errors)
        paginator = self.django_paginator_class(queryset, page_size)
        try:
            self.page = paginator.page(page_number)
        except InvalidPage as exc:
            raise InvalidInput(
                _("Invalid pagination."),
                fields={
                    self.page_query_param: [
                        _("No page %(page)s: there are %(pages)s.")
                        % {"page": page_number, "pages": paginator.num_pages}
                    ]
                },
            ) from exc
        return list(self.page)

    def get_schema_operation_parameters(self, view):
        page, page_size = super().get_schema_operation_parameters(view)
        page["schema"]["minimum"] = 1
        page_size["schema"].update(minimum=1, maximum=self.max_page_size)
        return [page, page_size]


def _whole_number(request, name: str, default: int, maximum: int | None, errors: dict) -> int:
    values = request.query_params.getlist(name)
    if not values:
        return default
    text = values[-1]
    if maximum:
        message = _("A whole number from 1 to %(most)s, given once.") % {"most": maximum}
    else:
        message = _("A whole number from 1 or more, given once.")
    # ASCII digits only (str.isdigit() also takes "²", which int() refuses), and no more than
    # MAX_DIGITS of them: int() refuses over 4,300 digits, and no page is numbered beyond 10**18.
    digits = text.lstrip("0")
    if len(values) > 1 or not text.isascii() or not text.isdigit() or not digits or len(digits) > MAX_DIGITS:
        errors[name] = [message]
        return default
    if maximum is not None and int(digits) > maximum:
        errors[name] = [message]
        return default
    return int(digits)
