"""A reviewer's assignments and scoring."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from portal.applications import services
from portal.applications.selectors import reviews_for_reviewer
from portal.errors import ServiceError
from portal.web.access import reviewer_required, visible_or_404
from portal.web.forms.reviews import ReviewForm
from portal.web.selectors import pending_reviews_for, review_is_open, review_queue_for


@reviewer_required
def review_list(request):
    context = {
        "reviews": review_queue_for(request.user),
        "pending_ids": set(pending_reviews_for(request.user).values_list("pk", flat=True)),
    }
    return render(request, "web/reviews/list.html", context)


@reviewer_required
def review_detail(request, public_id):
    review = visible_or_404(reviews_for_reviewer(request.user), public_id)
    form = ReviewForm(request.POST or None, review=review)
    if request.method == "POST" and form.is_valid():
        try:
            services.review_submit(review=review, reviewer=request.user, **form.cleaned_data)
        except ServiceError as error:
            form.add_service_error(error)
        else:
            messages.success(request, _("Your review is saved. You can correct it while the review is open."))
            return redirect("web:review_list")
    context = {
        "review": review,
        "application": review.application,
        "gpu_lines": review.application.gpu_requests.all(),
        "is_open": review_is_open(review),
        "form": form,
    }
    return render(request, "web/reviews/detail.html", context)
