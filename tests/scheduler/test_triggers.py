"""Coalesced cycle requests: one cycle per window, and no cache round trip while the window is known open."""

import pytest
from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache.backends.redis import RedisCache

from scheduler import triggers


@pytest.fixture
def sent(monkeypatch):
    sent = []
    monkeypatch.setattr(triggers.current_app, "send_task", lambda name: sent.append(name))
    return sent


@pytest.fixture
def round_trips(monkeypatch):
    counted = []
    add = triggers._add_coalesce_key

    def counting(window_s):
        counted.append(window_s)
        return add(window_s)

    monkeypatch.setattr(triggers, "_add_coalesce_key", counting)
    return counted


def test_one_cycle_per_window_and_no_round_trip_while_it_is_open(sent, round_trips):
    assert triggers.request_cycle(window_s=60) is True
    assert [triggers.request_cycle(window_s=60) for _ in range(5)] == [False] * 5
    assert sent == [triggers.CYCLE_TASK]
    assert round_trips == [60]  # the process knew the key was there: the cache was not asked again


def test_the_window_reopens_when_the_key_expires(sent, round_trips):
    assert triggers.request_cycle(window_s=60) is True
    caches[DEFAULT_CACHE_ALIAS].delete(triggers.COALESCE_KEY)  # as if expired
    triggers.cycle_requests_forget()  # and its time here passed
    assert triggers.request_cycle(window_s=60) is True
    assert len(sent) == 2


@pytest.mark.redis
def test_a_key_another_process_set_is_trusted_for_what_it_has_left(sent, round_trips):
    backend = caches[DEFAULT_CACHE_ALIAS]
    if not isinstance(backend, RedisCache):
        pytest.skip("the cache is not Redis")
    backend.add(triggers.COALESCE_KEY, 1, timeout=60)  # another process asked first
    assert triggers.request_cycle(window_s=1) is False
    assert triggers.request_cycle(window_s=1) is False
    assert sent == [] and len(round_trips) == 1
    assert triggers._key_held["until"] > 0  # its 60 s left, not this process's 1 s window
