"""Every page's access rules in one table. A URL name missing from the table fails the first test,
so no page can be added without saying who may open it (and this test checking it by GET)."""

import re

import pytest
from django.urls import URLPattern, URLResolver, reverse

from portal.accounts.services import api_key_create, signup_token
from portal.applications.models import Review
from portal.environments.models import Environment
from portal.notifications.models import Notification
from portal.organisations.services import membership_invite
from portal.providers import services as provider_services
from portal.web.urls import urlpatterns
from quotas.models import Reclaim
from scheduler.inventory import inventory_sync
from scheduler.node_keys import node_key_create
from scheduler.sessions import session_launch
from tests import builders
from tests.web.test_security_headers import find_inline_code

ROLES = ("anonymous", "owner", "manager", "member", "outsider", "reviewer", "staff", "node")
LOGIN_REDIRECT = 302


def expect(anonymous, member, outsider, reviewer, staff, *, owner=None, manager=None) -> dict[str, int]:
    """Owner and manager see what a member sees unless named. A node agent's key is no web login: the
    portal treats it as anonymous."""
    return dict(
        zip(
            ROLES,
            (
                anonymous,
                member if owner is None else owner,
                member if manager is None else manager,
                member,
                outsider,
                reviewer,
                staff,
                anonymous,
            ),
            strict=True,
        )
    )


EVERYONE_SIGNED_IN = expect(LOGIN_REDIRECT, 200, 200, 200, 200)
POST_ONLY = expect(LOGIN_REDIRECT, 405, 405, 405, 405)
STAFF_ONLY = expect(LOGIN_REDIRECT, 403, 403, 403, 200)
REVIEWER_ONLY = expect(LOGIN_REDIRECT, 403, 403, 200, 403)


def no_arguments(world):
    return {}


def organisation(world):
    return {"public_id": world["organisation"].public_id}


def call(world):
    return {"public_id": world["call"].public_id}


def draft(world):
    return {"public_id": world["draft"].public_id}


def reviewed(world):
    return {"public_id": world["reviewed"].public_id}


def allocation(world):
    return {"public_id": world["allocation"].public_id}


def with_agreement(world):
    """The world's allocation, given an agreement to accept (as an award from a round has)."""
    from datetime import timedelta

    from django.utils import timezone

    from quotas.agreement_open import agreement_open

    if not hasattr(world["allocation"], "agreement"):
        agreement_open(world["allocation"], timezone.now() + timedelta(days=7))
    return {"public_id": world["allocation"].public_id}


def round_line(world):
    return {"public_id": world["call"].public_id, "application_id": world["draft"].public_id}


STAFF_ONLY_POST = expect(LOGIN_REDIRECT, 403, 403, 403, 405)


def job(world):
    return {"public_id": world["job"].public_id}


def session(world):
    return {"public_id": world["session"].public_id}


def environment(world):
    return {"public_id": world["environment"].public_id}


# name → (URL arguments, expected status of a GET for each role).
# "owner" registered the organisation; "manager" and "member" (the teammate) have those roles in it;
# "outsider" belongs to another organisation; "reviewer" is assigned to the reviewed application only;
# "staff" belongs to no organisation and is not a reviewer; "node" sends a node agent's key.
TABLE = {
    "login": (no_arguments, expect(200, 302, 302, 302, 302)),
    "logout": (no_arguments, expect(405, 405, 405, 405, 405)),
    "signup": (no_arguments, expect(200, 302, 302, 302, 302)),
    "signup_finish": (lambda world: {"token": world["signup_token"]}, expect(200, 302, 302, 302, 302)),
    "check_email": (no_arguments, expect(200, 200, 200, 200, 200)),
    "password_reset": (no_arguments, expect(200, 200, 200, 200, 200)),
    # A link that is not valid: a valid one redirects to the page that takes the new password.
    "password_reset_confirm": (
        lambda world: {"uidb64": world["owner"].public_id, "token": "not-a-token"},
        expect(200, 200, 200, 200, 200),
    ),
    # The emailed link is the credential: whoever holds it sees the invitation (only the invited
    # address, signed in, can accept it).
    "invitation": (lambda world: {"token": world["invitation_token"]}, expect(200, 200, 200, 200, 200)),
    "set_language": (no_arguments, expect(405, 405, 405, 405, 405)),
    "api_key_list": (no_arguments, EVERYONE_SIGNED_IN),
    "api_key_revoke": (lambda world: {"public_id": world["owner_key"].public_id}, POST_ONLY),
    "home": (no_arguments, EVERYONE_SIGNED_IN),
    "organisation_list": (no_arguments, EVERYONE_SIGNED_IN),
    "organisation_create": (no_arguments, EVERYONE_SIGNED_IN),
    "organisation_detail": (organisation, expect(LOGIN_REDIRECT, 200, 404, 404, 200)),
    "organisation_usage_csv": (organisation, expect(LOGIN_REDIRECT, 200, 404, 404, 200)),
    "organisation_member_add": (organisation, POST_ONLY),
    "organisation_member_remove": (
        lambda world: {"public_id": world["organisation"].public_id, "user_id": world["member"].public_id},
        POST_ONLY,
    ),
    "organisation_verify": (organisation, POST_ONLY),
    "call_list": (no_arguments, EVERYONE_SIGNED_IN),
    "call_detail": (call, EVERYONE_SIGNED_IN),
    # Anonymised aggregates: public, no sign-in.
    "call_statistics": (call, expect(200, 200, 200, 200, 200)),
    "application_list": (no_arguments, EVERYONE_SIGNED_IN),
    "application_create": (no_arguments, EVERYONE_SIGNED_IN),
    "application_detail": (reviewed, expect(LOGIN_REDIRECT, 200, 404, 200, 200)),
    "application_edit": (draft, expect(LOGIN_REDIRECT, 200, 404, 404, 403)),
    "application_submit": (draft, POST_ONLY),
    "application_withdraw": (draft, POST_ONLY),
    "application_assign": (reviewed, POST_ONLY),
    "application_decide": (reviewed, POST_ONLY),
    "allocation_list": (no_arguments, EVERYONE_SIGNED_IN),
    "allocation_detail": (allocation, expect(LOGIN_REDIRECT, 200, 404, 404, 200)),
    "allocation_usage_csv": (allocation, expect(LOGIN_REDIRECT, 200, 404, 404, 200)),
    "change_request_create": (allocation, expect(LOGIN_REDIRECT, 200, 404, 404, 403)),
    "allocation_set_status": (allocation, POST_ONLY),
    "allocation_set_custom_images": (allocation, POST_ONLY),
    "allocation_set_session_settings": (allocation, POST_ONLY),
    "stage_report": (allocation, POST_ONLY),
    "stage_evaluation": (allocation, POST_ONLY),
    "outcome_report_create": (allocation, POST_ONLY),
    "misuse_report_create": (allocation, POST_ONLY),
    "job_list": (no_arguments, EVERYONE_SIGNED_IN),
    "job_submit": (no_arguments, EVERYONE_SIGNED_IN),
    "job_detail": (job, expect(LOGIN_REDIRECT, 200, 404, 404, 200)),
    "job_usage_csv": (job, expect(LOGIN_REDIRECT, 200, 404, 404, 200)),
    "job_cancel": (job, POST_ONLY),
    "session_list": (no_arguments, EVERYONE_SIGNED_IN),
    "session_launch": (no_arguments, EVERYONE_SIGNED_IN),
    "session_detail": (session, expect(LOGIN_REDIRECT, 200, 404, 404, 200)),
    "session_stop": (session, POST_ONLY),
    "review_list": (no_arguments, REVIEWER_ONLY),
    "review_detail": (
        lambda world: {"public_id": Review.objects.get(application=world["reviewed"]).public_id},
        REVIEWER_ONLY,
    ),
    "staff_home": (no_arguments, STAFF_ONLY),
    "staff_call_create": (no_arguments, STAFF_ONLY),
    "staff_call_edit": (call, STAFF_ONLY),
    "staff_call_outcomes_csv": (call, STAFF_ONLY),
    "staff_call_outcomes_xlsx": (call, STAFF_ONLY),
    "staff_reclaim_list": (no_arguments, STAFF_ONLY),
    # staff only, and a form's target: staff's GET is refused as a method
    "staff_reclaim_decide": (
        lambda world: {"public_id": world["reclaim"].public_id},
        expect(LOGIN_REDIRECT, 403, 403, 403, 405),
    ),
    "staff_call_statistics": (call, STAFF_ONLY),
    "staff_organisation_list": (no_arguments, STAFF_ONLY),
    "staff_environment_list": (no_arguments, STAFF_ONLY),
    "staff_environment_create": (no_arguments, STAFF_ONLY),
    "staff_environment_edit": (environment, STAFF_ONLY),
    "staff_environment_set_active": (environment, POST_ONLY),
    "staff_fleet": (no_arguments, STAFF_ONLY),
    "staff_settlement": (no_arguments, STAFF_ONLY),
    "staff_provider_list": (no_arguments, STAFF_ONLY),
    "staff_provider_create": (no_arguments, STAFF_ONLY),
    "staff_provider_edit": (lambda world: {"public_id": world["provider"].public_id}, STAFF_ONLY),
    "staff_cluster_create": (no_arguments, STAFF_ONLY),
    "staff_cluster_edit": (lambda world: {"public_id": world["cluster"].public_id}, STAFF_ONLY),
    # staff only, and a form's target: staff's GET is refused as a method
    "staff_cluster_state": (
        lambda world: {"public_id": world["cluster"].public_id},
        expect(LOGIN_REDIRECT, 403, 403, 403, 405),
    ),
    "staff_contract_create": (no_arguments, STAFF_ONLY),
    "staff_round": (call, STAFF_ONLY),
    "staff_round_setup": (call, STAFF_ONLY),
    "staff_round_propose": (call, STAFF_ONLY_POST),
    "staff_round_approve": (call, STAFF_ONLY_POST),
    "staff_round_line": (round_line, STAFF_ONLY_POST),
    "allocation_agreement": (with_agreement, expect(LOGIN_REDIRECT, 200, 404, 404, 200)),
    "staff_contract_edit": (lambda world: {"public_id": world["contract"].public_id}, STAFF_ONLY),
}


def url_names(patterns, namespace="") -> set[str]:
    names = set()
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            names |= url_names(pattern.url_patterns)
        elif isinstance(pattern, URLPattern):
            assert pattern.name, f"{pattern.pattern} has no name"
            names.add(pattern.name)
    return names


def test_it_lists_every_page_in_the_access_table():
    names = url_names(urlpatterns)
    assert sorted(names - set(TABLE)) == [], "add these pages to TABLE with their access rules"
    assert sorted(set(TABLE) - names) == [], "these pages no longer exist; remove them from TABLE"


@pytest.fixture
def manager(organisation):
    user = builders.make_user("manager@example.test", full_name="Manager Yoon")
    builders.add_member(organisation, user, role="manager")
    return user


@pytest.fixture
def world(
    owner,
    manager,
    teammate,
    outsider,
    reviewer,
    staff,
    organisation,
    other_organisation,
    call,
    draft,
    reviewed,
    allocation,
    backend,
):
    inventory_sync(backend=backend)
    queued = builders.queued_job(owner, allocation, "coverage-job")
    Environment.objects.create(
        name="jupyterlab-4", display_name="JupyterLab 4", image="quay.io/jupyter/pytorch-notebook:cuda12",
        cuda_version="12.4", for_training=False, for_sessions=True,
    )  # fmt: skip
    launched = session_launch(
        user=teammate, allocation=allocation, environment_name="jupyterlab-4", gpu_type="A100", gpus=1,
        time_limit_minutes=60,
    )  # fmt: skip
    _, node_key = node_key_create(node=backend.nodes[0].name)
    owner_key, _ = api_key_create(user=owner, name="owner's key")
    provider = provider_services.provider_create(staff=staff, name="Provider A")
    cluster = provider_services.cluster_create(
        staff=staff, provider=provider, name="c1", backend="simulated", region="capital", gpus={"A100": 8}
    )
    contract = provider_services.contract_create(
        staff=staff, provider=provider, gpu_type="A100", gpus=8, starts_on="2026-01-01",
        ends_on="2026-12-31", price_krw_per_gpu_hour="1000", kind="reserved",
    )  # fmt: skip
    membership_invite(organisation=organisation, actor=owner, email="invited@example.test")
    invitation_token = re.search(
        r"/invitations/([^/]+)/", Notification.objects.get(to_email="invited@example.test").body
    ).group(1)
    return {
        "signup_token": signup_token(email="new.person@example.test", full_name="New Person"),
        "invitation_token": invitation_token,
        "owner_key": owner_key,
        "provider": provider,
        "cluster": cluster,
        "contract": contract,
        "owner": owner,
        "manager": manager,
        "node_key": node_key,
        "member": teammate,
        "outsider": outsider,
        "reviewer": reviewer,
        "staff": staff,
        "organisation": organisation,
        "call": call,
        "draft": draft,
        "reviewed": reviewed,
        "allocation": allocation,
        "job": queued,
        "session": launched,
        "reclaim": Reclaim.objects.create(allocation=allocation, gpu_type="A100", gpu_hours=100),
        "environment": Environment.objects.create(
            name="pytorch-2.5", display_name="PyTorch 2.5", image="pytorch/pytorch:2.5.1", cuda_version="12.4"
        ),
    }


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(TABLE))
def test_it_answers_each_role_as_the_table_says(client, world, name):
    arguments, expected = TABLE[name]
    url = reverse(f"web:{name}", kwargs=arguments(world))
    got = {}
    for role in ROLES:
        client.logout()
        headers = {}
        if role == "node":
            headers["HTTP_AUTHORIZATION"] = f"Node {world['node_key']}"
        elif role != "anonymous":
            client.force_login(world[role])
        response = client.get(url, **headers)
        got[role] = response.status_code
        if response.status_code == 200 and response["Content-Type"].startswith("text/html"):
            # The Content-Security-Policy forbids inline code: a page that needs it would break.
            assert find_inline_code(response.content.decode()) == [], (name, role)
        if role in ("anonymous", "node") and response.status_code == LOGIN_REDIRECT:
            assert response["Location"].startswith(reverse("web:login") + "?next="), name
    assert got == expected


WRITES = sorted(name for name, (_, expected) in TABLE.items() if expected == POST_ONLY and name != "logout")


@pytest.mark.django_db
@pytest.mark.parametrize("name", WRITES)
def test_it_refuses_every_write_from_outside_the_organisation(client, world, name):
    """Each portal form an outsider or a node key posts to is refused and changes nothing."""
    from portal.audit.models import AuditEvent

    arguments, _ = TABLE[name]
    url = reverse(f"web:{name}", kwargs=arguments(world))
    before = AuditEvent.objects.count()
    client.force_login(world["outsider"])
    assert client.post(url, {"reason": "x", "email": world["outsider"].email}).status_code in (403, 404), name
    client.logout()
    refused = client.post(url, {"reason": "x"}, HTTP_AUTHORIZATION=f"Node {world['node_key']}")
    assert refused.status_code == LOGIN_REDIRECT, name
    assert AuditEvent.objects.count() == before, name
