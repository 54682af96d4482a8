import pytest
from dateutil.relativedelta import relativedelta
from rest_framework.test import APIClient

from portal.accounts.services import api_key_create
from portal.applications.models import Review
from quotas import services as quota_services
from quotas.models import Allocation, Reclaim, StageState
from scheduler.inventory import inventory_sync
from scheduler.node_keys import node_key_create
from tests import builders
from tests.scheduler.fakes import ScriptedBackend
from tests.stage_builders import staged


@pytest.fixture
def client_for(db):
    """An API client authenticated as ``user`` with a real API key (None → anonymous)."""

    def build(user, *, read_only: bool = False, keyword: str = "Bearer") -> APIClient:
        client = APIClient()
        if user is not None:
            _, plaintext = api_key_create(user=user, read_only=read_only)
            client.credentials(HTTP_AUTHORIZATION=f"{keyword} {plaintext}")
        return client

    return build


@pytest.fixture
def manager(organisation):
    user = builders.make_user("manager@example.test", full_name="Manager Yoon")
    builders.add_member(organisation, user, role="manager")
    return user


@pytest.fixture
def api_world(
    owner, teammate, manager, organisation, other_organisation, outsider, call, staff, reviewer, reviewer2
):
    """The owner's organisation with one object of each kind the API names by id, and every kind of caller.

    ``application`` is under review by ``reviewer``; ``allocation`` comes from another application
    (reviewed by ``reviewer2``); ``job`` is queued on it; ``node_key`` belongs to a node of the inventory.
    """
    approved = builders.ready_for_decision(
        owner, organisation, call, staff, reviewer2, project_title="Approved one"
    )
    quota_services.application_decide(application=approved, staff=staff, decision="approve", reason="ok")
    allocation = Allocation.objects.get(application=approved)
    _staged_from_last_month(allocation)
    under_review = builders.under_review(
        builders.submitted(
            builders.make_application(owner, organisation, call, project_title="Pending one"), owner
        ),
        staff,
        reviewer,
    )
    backend = ScriptedBackend()
    inventory_sync(backend=backend)
    job = builders.queued_job(owner, allocation, "matrix job")
    member_key, _ = api_key_create(user=owner, name="owner key")
    _, node_plaintext = node_key_create(node=backend.nodes[0].name)
    return {
        "organisation": organisation,
        "other_organisation": other_organisation,
        "call": call,
        "allocation": allocation,
        "application": under_review,
        "draft": builders.make_application(owner, organisation, call, project_title="Draft one"),
        "review": Review.objects.get(application=under_review, reviewer=reviewer),
        "member_key": member_key,
        "node_key": node_plaintext,
        "job": job,
        "users": {
            "owner": owner,
            "manager": manager,
            "member": teammate,
            "outsider": outsider,
            "reviewer": reviewer,
            "staff": staff,
        },
        "reviewer2": reviewer2,
        "reclaim": Reclaim.objects.create(allocation=allocation, gpu_type="A100", gpu_hours=100),
    }


def _staged_from_last_month(allocation) -> None:
    """Three one-month stages from a month ago: stage 2 (starting today) takes its mid-term report;
    stage 3 stands reported, as if stage 2 were released, so that staff have a stage to evaluate."""
    Allocation.objects.filter(pk=allocation.pk).update(
        starts_on=allocation.starts_on - relativedelta(months=1)
    )
    allocation.refresh_from_db()
    stages = staged(allocation, [1, 1, 1])
    stages[2].state = StageState.REPORTED
    stages[2].report = "Going well."
    stages[2].save()
