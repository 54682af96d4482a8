"""Reading the test control plane's audit log across an API server restart: a torn event is dropped,
the whole event appended to it kept."""

import json

from tests.cluster.controlplane import _audit_lines

EVENT = {"kind": "Event", "verb": "list", "requestURI": "/api/v1/nodes"}


def line(event: dict) -> bytes:
    return json.dumps(event, separators=(",", ":")).encode()  # as the API server writes it


def test_a_whole_line_is_one_event():
    assert _audit_lines(line(EVENT)) == [EVENT]


def test_a_torn_event_is_dropped_and_the_one_appended_to_it_kept():
    torn = line({"kind": "Event", "verb": "watch"})[:24]
    assert _audit_lines(torn + line(EVENT)) == [EVENT]
    assert _audit_lines(torn) == []
