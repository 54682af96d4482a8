"""PreparedQuery (portal/prepared_queries.py) returns what the queryset's own .first() returns — the same
row, related objects and annotations — reads afresh on every call, and refuses markers it cannot place."""

import uuid

import pytest
from django.db.models import OuterRef
from django.utils import timezone

from portal.accounts.models import ApiKey
from portal.accounts.services import api_key_create, api_key_revoke
from portal.organisations.selectors import organisation_ids_subquery
from portal.prepared_queries import PreparedQuery
from quotas.models import Allocation
from scheduler.models import QueueView
from scheduler.selectors import allocation_to_submit_against
from tests.conftest import is_postgres

pytestmark = pytest.mark.django_db


def keys_of(prefix):
    keys = ApiKey.objects.select_related("user").filter(prefix=prefix, revoked_at=None)
    if is_postgres():  # an annotation with a subquery of its own, as the submit view reads (PostgreSQL)
        keys = keys.annotate(organisation_ids=organisation_ids_subquery(OuterRef("user_id")))
    return keys


def fields_of(obj):
    return {field.attname: getattr(obj, field.attname) for field in type(obj)._meta.concrete_fields}


def test_a_key_read_by_the_prepared_query_equals_the_querysets_own(owner, teammate, organisation):
    query = PreparedQuery(keys_of, prefix="marker:prefix")
    issued = [api_key_create(user=user, name=f"k{n}") for n, user in enumerate([owner, teammate, owner])]
    api_key_revoke(api_key=issued[2][0], actor=owner)
    for key, _ in issued:
        for prefix in (key.prefix, key.prefix + "x"):
            ours, theirs = query.first(prefix=prefix), keys_of(prefix).first()
            assert (ours is None) == (theirs is None)  # the revoked key and the unknown prefixes: None
            if theirs is None:
                continue
            assert fields_of(ours) == fields_of(theirs)
            assert fields_of(ours.user) == fields_of(theirs.user)  # select_related, without a query
            assert ours.user.email == key.user.email
            if is_postgres():
                assert ours.organisation_ids == theirs.organisation_ids == [organisation.pk]
    assert sum(query.first(prefix=key.prefix) is not None for key, _ in issued) == 2


def test_every_call_reads_the_database_afresh(owner, django_assert_num_queries):
    query = PreparedQuery(keys_of, prefix="marker:prefix")
    key, _ = api_key_create(user=owner, name="k")
    with django_assert_num_queries(1):
        assert query.first(prefix=key.prefix) is not None
    api_key_revoke(api_key=key, actor=owner)
    with django_assert_num_queries(1):
        assert query.first(prefix=key.prefix) is None


def test_the_allocation_for_a_submission(owner, outsider, staff, allocation, other_allocation):
    # Its organisation, its pins and its queue's size with it; None for an allocation its user may not see.
    QueueView.objects.create(gpu_type="A100", computed_at=timezone.now(), total=7, entries={})
    found = allocation_to_submit_against(owner, allocation.public_id, "A100")
    assert found.pk == allocation.pk and found.organisation.pk == allocation.organisation_id
    assert found.queue_total == 7 and found.pins_providers is False
    assert allocation_to_submit_against(owner, allocation.public_id, "H100").queue_total is None
    assert allocation_to_submit_against(owner, str(allocation.public_id), "A100").pk == allocation.pk
    assert allocation_to_submit_against(owner, other_allocation.public_id, "A100") is None
    assert allocation_to_submit_against(outsider, allocation.public_id, "A100") is None
    assert allocation_to_submit_against(staff, other_allocation.public_id, "A100").pk == other_allocation.pk
    assert allocation_to_submit_against(owner, uuid.uuid4(), "A100") is None


@pytest.mark.parametrize(
    ("build", "markers", "refusal"),
    [
        (lambda prefix: ApiKey.objects.filter(name="k"), {"prefix": "marker:prefix"}, "0 times"),
        (
            lambda prefix: ApiKey.objects.filter(prefix=prefix, name=prefix),
            {"prefix": "marker:prefix"},
            "2 times",
        ),
        (lambda pk: Allocation.objects.filter(pk=pk), {"pk": 12345}, "unsupported marker type"),
    ],
)
def test_markers_that_cannot_be_placed_are_refused(build, markers, refusal):
    with pytest.raises((ValueError, TypeError), match=refusal):
        PreparedQuery(build, **markers).first(**markers)


def test_the_values_must_be_the_markers_names(owner):
    query = PreparedQuery(keys_of, prefix="marker:prefix")
    with pytest.raises(TypeError, match="expected the values"):
        query.first(prefx="x")
