"""Fuzz every operation of the OpenAPI schema in-process (schemathesis over WSGI), as a member with an API key.

Each operation gets a bounded number of generated requests, valid and invalid. Every response must be
below 500, must be documented in the schema (status code, content type, headers, body) and invalid
input must be refused with a 4xx. The node agents' operations are fuzzed with a node key, so that
generated usage batches (timestamps, counts and energy at and beyond their bounds) reach validation. About half the generated path ids are swapped for real objects of the
member's organisation, so the fuzzer reaches past the 404 of a random UUID into the views' real work.
"""

import hashlib
import os

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from portal.accounts.services import api_key_create
from scheduler.node_keys import node_key_create

# Per operation (42 operations). 30 keeps the run well under two minutes on CI's two cores; set
# GPUGRANT_FUZZ_EXAMPLES=500 (say) for a long run on demand.
EXAMPLES_PER_OPERATION = int(os.environ.get("GPUGRANT_FUZZ_EXAMPLES", "30"))

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    ignored_auth,
]

# Operations only node agents may call: a user's key is refused there before it is even looked up.
NODE_AGENT_PATHS = ("/api/v1/usage]", "/api/v1/node/")

schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())
# The key of the test being run; schemathesis sends it as the credential, so it never generates
# (and then counts as invalid input) an Authorization header of its own.
CURRENT_KEY: dict[str, str] = {}
# The coverage phase builds its cases at collection, before any test has a key: they carry this.
PLACEHOLDER = "Bearer key-of-the-test"


@schema.auth(refresh_interval=None)
class MemberApiKey:
    def get(self, case, context):
        return CURRENT_KEY.get("authorization", PLACEHOLDER)

    def set(self, case, data, context):
        case.headers = {**(case.headers or {}), "Authorization": data}


@pytest.fixture
def keep_test_connection():
    """The raw WSGI handler would close the test's connection after each request, and its transaction
    with it; Django's own test client turns this off the same way."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def fuzz_world(request, keep_test_connection, api_world):
    """The owner's API key (a node key for the node agents' operations, so that their bodies are
    validated and applied, not refused at the door), and one real object of each kind a path names."""
    owner = api_world["users"]["owner"]
    spare_key, _ = api_key_create(user=owner, name="revocable")
    fuzzer_key, plaintext = api_key_create(user=owner, name="fuzzer")
    CURRENT_KEY["authorization"] = f"Bearer {plaintext}"
    node_key = None
    if any(path in request.node.name for path in NODE_AGENT_PATHS):
        node_key, node_plaintext = node_key_create(node="fuzz-node")
        CURRENT_KEY["authorization"] = f"Node {node_plaintext}"
    yield {
        "ids": {
            "organisations": api_world["organisation"].public_id,
            "calls": api_world["call"].public_id,
            "applications": api_world["draft"].public_id,
            "allocations": api_world["allocation"].public_id,
            "jobs": api_world["job"].public_id,
            "reviews": api_world["review"].public_id,
            "api-keys": spare_key.public_id,
        },
    }
    # A run whose every request bounced off authentication would prove nothing.
    used = node_key or fuzzer_key
    used.refresh_from_db()
    assert used.last_used_at is not None, "the fuzzer's key was never accepted"


def _maybe_real_id(case, ids) -> None:
    """Swap the generated path id for a real object's about half the time (decided by the case itself)."""
    generated = (case.path_parameters or {}).get("public_id")
    if generated is None or case.meta.generation.mode.is_negative:
        return  # a deliberately malformed id stays malformed
    if hashlib.sha256(str(generated).encode()).digest()[0] % 2:
        return
    collection = case.path.removeprefix("/api/v1/").split("/", 1)[0]
    if collection in ids:
        case.path_parameters["public_id"] = str(ids[collection])


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)
def test_it_survives_fuzzing_of_every_operation(case, fuzz_world):
    _maybe_real_id(case, fuzz_world["ids"])
    if (case.headers or {}).get("Authorization") == PLACEHOLDER:
        case.headers["Authorization"] = CURRENT_KEY["authorization"]
    case.call_and_validate(checks=CHECKS)
