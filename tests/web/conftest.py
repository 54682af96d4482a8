"""Fixtures for the web portal's tests: objects in each state a page shows, and page helpers."""

import pytest
from django.utils.html import escape

from quotas import services as quota_services
from quotas.models import Allocation
from tests import builders


def shows(response, text: str) -> bool:
    """Whether the rendered page contains ``text`` (as the template escaped it)."""
    return escape(text) in response.content.decode()


def login(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def draft(owner, organisation, call):
    """A draft of the owner's organisation."""
    return builders.make_application(owner, organisation, call, project_title="Draft speech model")


@pytest.fixture
def reviewed(owner, organisation, call, staff, reviewer):
    """Under review, assigned to ``reviewer``, who has scored it (with a private comment)."""
    return builders.ready_for_decision(
        owner, organisation, call, staff, reviewer, project_title="Reviewed vision model"
    )


@pytest.fixture
def allocation(owner, organisation, call, staff, reviewer):
    """An active allocation of the owner's organisation: 1,500 of 2,000 requested A100 GPU-hours."""
    application = builders.ready_for_decision(
        owner, organisation, call, staff, reviewer, project_title="Approved LLM project"
    )
    quota_services.application_decide(
        application=application,
        staff=staff,
        decision="approve",
        reason="Strong plan",
        awarded_gpu_hours={"A100": 1500},
    )
    return Allocation.objects.get(application=application)
