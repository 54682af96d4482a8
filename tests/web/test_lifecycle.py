"""The whole journey through the web pages only: sign up, register, apply, review, award, use."""

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.urls import reverse

from portal.applications.models import Application, Review
from portal.notifications.models import Notification
from portal.organisations.models import Organisation
from quotas.models import Allocation
from tests.web.conftest import login, shows

pytestmark = pytest.mark.django_db


def test_it_takes_an_applicant_from_signup_to_an_allocation(staff, reviewer, call):
    applicant = Client()
    applicant.post(reverse("web:signup"), {"email": "pi@lab.example", "full_name": "Dr. Lim"})
    # The account is made through the emailed link, with the password chosen there.
    body = Notification.objects.get(to_email="pi@lab.example").body
    link = urlsplit(re.search(r"https?://\S+", body).group(0)).path
    applicant.post(link, {"password1": "long-enough-secret", "password2": "long-enough-secret"})
    applicant.post(
        reverse("web:organisation_create"),
        {
            "name": "Lim Lab",
            "org_type": "university",
            "region": "non_capital",
            "registration_number": "UNI-2026-01",
        },
    )
    organisation = Organisation.objects.get(name="Lim Lab")

    staff_client = login(Client(), staff)
    staff_client.post(
        reverse("web:organisation_verify", kwargs={"public_id": organisation.public_id}), {"verified": "1"}
    )

    applicant.post(
        f"{reverse('web:application_create')}?call={call.public_id}",
        {
            "organisation": str(organisation.public_id),
            "project_title": "Medical imaging foundation model",
            "summary": "Pre-train on public scans.",
            "field": "health",
            "requested_start": call.allocation_start.isoformat(),
            "requested_end": (call.allocation_start + timedelta(days=180)).isoformat(),
            "max_concurrent_gpus": "16",
            "justification": "No cluster of our own.",
            "gpus_H100": "4",
            "months_H100": "3",
        },
    )
    application = Application.objects.get(project_title="Medical imaging foundation model")
    assert application.gpu_requests.get().gpu_hours == 8760
    applicant.post(reverse("web:application_submit", kwargs={"public_id": application.public_id}))

    staff_client.post(
        reverse("web:application_assign", kwargs={"public_id": application.public_id}),
        {"reviewers": [str(reviewer.public_id)]},
    )
    review = Review.objects.get(application=application)
    reviewer_client = login(Client(), reviewer)
    reviewer_client.post(
        reverse("web:review_detail", kwargs={"public_id": review.public_id}),
        {
            "technical_merit": "4",
            "feasibility": "4",
            "impact": "5",
            "need_for_public_compute": "5",
            "public_comment": "Worth funding.",
            "private_comment": "Budget looks padded.",
        },
    )

    staff_client.post(
        reverse("web:application_decide", kwargs={"public_id": application.public_id}),
        {"decision": "approve", "reason": "Funded at 6,000 hours", "awarded_H100": "6000"},
    )
    allocation = Allocation.objects.get(application=application)

    home = applicant.get(reverse("web:home"))
    assert shows(home, "Medical imaging foundation model")
    (row,) = home.context["allocations"]
    assert row["allocation"] == allocation
    assert [(b.gpu_type, b.remaining_gpu_hours) for b in row["balances"]] == [("H100", 6000)]
    assert shows(home, "6,000")
    page = applicant.get(reverse("web:application_detail", kwargs={"public_id": application.public_id}))
    assert shows(page, "Worth funding.") and not shows(page, "Budget looks padded.")
    assert shows(page, "Funded at 6,000 hours")
