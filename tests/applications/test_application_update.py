"""Editing an application: only drafts and applications returned for revision, only by members."""

from datetime import timedelta

import pytest

from portal.applications import services
from portal.audit.models import AuditEvent
from portal.errors import Conflict, InvalidInput, NotAllowed
from tests import builders


def _state(state, owner, organisation, call, staff, reviewer):
    return builders.application_in_state(
        state, user=owner, organisation=organisation, call=call, staff=staff, reviewer=reviewer
    )


@pytest.mark.django_db
@pytest.mark.parametrize("state", ["draft", "revision_requested"])
def test_it_edits_an_editable_application(state, owner, teammate, organisation, call, staff, reviewer):
    application = _state(state, owner, organisation, call, staff, reviewer)

    services.application_update(
        application=application,
        user=teammate,
        gpu_requests={"H100": 700},
        project_title="Korean speech recognition",
        max_concurrent_gpus=16,
    )

    application.refresh_from_db()
    assert application.state == state
    assert application.project_title == "Korean speech recognition"
    assert application.max_concurrent_gpus == 16
    assert application.summary == builders.application_content(call)["summary"]  # untouched fields kept
    assert [(line.gpu_type, line.gpu_hours) for line in application.gpu_requests.all()] == [("H100", 700)]
    event = AuditEvent.objects.filter(target_id=application.public_id, action="edited").get()
    assert (event.actor, event.from_state, event.to_state) == (teammate, state, state)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "state", ["submitted", "under_review", "resubmitted", "approved", "rejected", "withdrawn"]
)
def test_it_refuses_to_edit_outside_draft_or_revision(state, owner, organisation, call, staff, reviewer):
    application = _state(state, owner, organisation, call, staff, reviewer)
    before = builders.row_counts()

    with pytest.raises(Conflict) as excinfo:
        services.application_update(
            application=application, user=owner, gpu_requests={"A100": 10}, project_title="Sneaky change"
        )

    assert excinfo.value.code == "not_editable"
    application.refresh_from_db()
    assert application.project_title == builders.application_content(call)["project_title"]
    assert [(line.gpu_type, line.gpu_hours) for line in application.gpu_requests.all()] == [("A100", 2000)]
    assert builders.row_counts() == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("content", "gpu_requests", "fields"),
    [
        ({"project_title": "x" * 201}, {"A100": 10}, {"project_title"}),
        ({"summary": "s" * 5001}, {"A100": 10}, {"summary"}),
        ({"justification": ""}, {"A100": 10}, {"justification"}),
        ({"max_concurrent_gpus": 0}, {"A100": 10}, {"max_concurrent_gpus"}),
        ({"max_concurrent_gpus": 5000}, {"A100": 10}, {"max_concurrent_gpus"}),
        ({}, {"A100": 20_001}, {"gpu_requests"}),
        ({}, {"V100": 10}, {"gpu_requests"}),
        ({}, {"A100": -1}, {"gpu_requests"}),
        ({}, {}, {"gpu_requests"}),
        ({"nonsense": 1}, {"A100": 10}, {"nonsense"}),
        ({"state": "approved"}, {"A100": 10}, {"state"}),
    ],
)
def test_it_refuses_bad_edits_and_keeps_the_old_content(
    owner, organisation, call, content, gpu_requests, fields
):
    application = builders.make_application(owner, organisation, call)
    before = builders.row_counts()

    with pytest.raises(InvalidInput) as excinfo:
        services.application_update(application=application, user=owner, gpu_requests=gpu_requests, **content)

    assert set(excinfo.value.fields) == fields
    application.refresh_from_db()
    assert application.state == "draft"
    assert [(line.gpu_type, line.gpu_hours) for line in application.gpu_requests.all()] == [("A100", 2000)]
    assert builders.row_counts() == before


@pytest.mark.django_db
def test_it_refuses_dates_moved_outside_the_call(owner, organisation, call):
    application = builders.make_application(owner, organisation, call)
    with pytest.raises(InvalidInput) as excinfo:
        services.application_update(
            application=application,
            user=owner,
            gpu_requests={"A100": 10},
            requested_end=call.allocation_end + timedelta(days=1),
        )
    assert set(excinfo.value.fields) == {"requested_end"}


@pytest.mark.django_db
def test_it_refuses_an_outsider(owner, outsider, organisation, call):
    application = builders.make_application(owner, organisation, call)
    before = builders.row_counts()
    with pytest.raises(NotAllowed):
        services.application_update(application=application, user=outsider, gpu_requests={"A100": 1})
    assert builders.row_counts() == before
