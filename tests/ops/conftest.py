"""Helpers for the operations tests: scraping /metrics into numbers, and clients for each caller."""

import pytest
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from portal.accounts.services import api_key_create
from scheduler.inventory import inventory_sync
from scheduler.node_keys import node_key_create


def scrape(client, **headers) -> dict[tuple[str, frozenset], float]:
    """Every sample of a /metrics answer: (sample name, its labels) → value."""
    response = client.get("/metrics", **headers)
    assert response.status_code == 200, response.status_code
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def sample(samples: dict, name: str, **labels) -> float:
    """One sample's value; 0 when the series does not exist (yet)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def exposed_names(client) -> set[str]:
    """Every name a query may use: each family's name and the sample names its type implies."""
    suffixes = {
        "counter": ("_total",),
        "histogram": ("_bucket", "_sum", "_count"),
        "summary": ("_sum", "_count"),
    }
    names = set()
    for family in text_string_to_metric_families(client.get("/metrics").content.decode()):
        names.add(family.name)
        names.update(family.name + suffix for suffix in suffixes.get(family.type, ()))
        names.update(s.name for s in family.samples)
    return names


def _client(authorization: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=authorization)
    return client


@pytest.fixture
def api_client_for(db):
    return lambda user: _client(f"Bearer {api_key_create(user=user)[1]}")


@pytest.fixture
def node_client_for(db):
    return lambda node: _client(f"Node {node_key_create(node=node)[1]}")


@pytest.fixture
def cluster(backend):
    """The scripted backend's nodes (node-a: 8 A100, node-h: 8 H100) in the inventory."""
    inventory_sync(backend=backend)
    return backend
