"""A job's states are put into words in one place (portal.state_names.JOB_STATE_WORDS): messages, the job
badges, the job filter and a job's event list all take their words from there, for every state."""

from django.utils import translation

from portal.state_names import JOB_STATE_WORDS, STATE_NAMES, state_name
from portal.web.forms.jobs import STATE_CHOICES
from portal.web.templatetags.portal_tags import JOB_STATE_LABELS, job_event_state_label, job_state_label
from scheduler.states import JobState


def test_every_job_state_has_its_words_in_the_state_machines_order():
    assert list(JOB_STATE_WORDS) == [state.value for state in JobState]


def test_messages_badges_the_filter_and_events_use_the_same_words():
    for state in JobState:
        words = JOB_STATE_WORDS[state]
        assert STATE_NAMES[state] is words.name and state_name(state) == str(words.name)
        assert JOB_STATE_LABELS[state] is words.label and job_state_label(state) == words.label
        assert job_event_state_label(state) == str(words.name)
    assert STATE_CHOICES[1:] == list(JOB_STATE_LABELS.items())


def test_they_are_translated():
    with translation.override("ko"):
        assert state_name("running") == "실행 중" and str(job_state_label("running")) != "Running"
        assert job_event_state_label("timed_out") == "시간 초과"
    assert job_event_state_label("") == "" and job_event_state_label("someday") == "someday"
