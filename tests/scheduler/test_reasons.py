"""Reasons as data: every code renders in English (stored, and returned by the API) and in Korean (pages)."""

import pytest
from django.utils import translation

from scheduler import reasons
from scheduler.reasons import FORMATS, TEXT, Reason, render

# code → (the reason, its English text, its Korean text)
CASES = {
    "accepted": (reasons.accepted(), "accepted; waiting for GPUs", "접수됨, GPU를 기다리는 중"),
    "placed": (reasons.placed("node-a GPUs 0,1"), "placed on node-a GPUs 0,1", "node-a GPUs 0,1에 배치됨"),
    "running": (reasons.running(), "running", "실행 중"),
    "succeeded": (reasons.succeeded(0), "finished successfully (exit code 0)", "정상 종료됨 (종료 코드 0)"),
    "failed": (reasons.failed(3), "failed (exit code 3)", "실패함 (종료 코드 3)"),
    "failed_with_detail": (
        reasons.failed(-9, "OOMKilled"),
        "failed (exit code -9): OOMKilled",
        "실패함 (종료 코드 -9): OOMKilled",
    ),
    "failed_no_exit_code": (reasons.failed(None), "failed (no exit code)", "실패함 (종료 코드 없음)"),
    "failed_no_exit_code_with_detail": (
        reasons.failed(None, "Evicted"),
        "failed (no exit code): Evicted",
        "실패함 (종료 코드 없음): Evicted",
    ),
    "timed_out": (
        reasons.timed_out(90),
        "stopped after its max_runtime of 90 minutes",
        "최대 실행 시간 90분이 지나 중지됨",
    ),
    "ran_past_max_runtime": (
        reasons.ran_past_max_runtime(),
        "stopped: it ran past its max_runtime",
        "중지됨: 최대 실행 시간을 넘겼습니다",
    ),
    "cancelled": (reasons.cancelled(), "cancelled; its pods were stopped", "취소됨, 파드가 중지되었습니다"),
    "cancelled_before_start": (
        reasons.cancelled_before_start("kim@example.test"),
        "cancelled by kim@example.test before it started",
        "시작 전에 kim@example.test 님이 취소함",
    ),
    "cancel_requested": (
        reasons.cancel_requested("kim@example.test"),
        "cancel requested by kim@example.test; stopping",
        "kim@example.test 님이 취소를 요청함, 중지하는 중",
    ),
    "preempted": (
        reasons.preempted(),
        "preempted for a job that waited longer",
        "더 오래 기다린 작업을 위해 선점됨",
    ),
    "preempting_low_priority": (
        reasons.preempting("low_priority"),
        "preempted (low priority) for a job waiting longer",
        "더 오래 기다린 작업을 위해 선점됨 (낮은 우선순위)",
    ),
    "preempting_low_priority_stopping": (
        reasons.preempting("low_priority", stopping=True),
        "preempted (low priority) for a job waiting longer; stopping",
        "더 오래 기다린 작업을 위해 선점됨 (낮은 우선순위), 중지하는 중",
    ),
    "preempting_over_share": (
        reasons.preempting("over_fair_share"),
        "preempted (its allocation runs beyond its fair share) for a job waiting longer",
        "더 오래 기다린 작업을 위해 선점됨 (배정이 공정 몫을 넘겨 실행 중)",
    ),
    "preempting_over_share_stopping": (
        reasons.preempting("over_fair_share", stopping=True),
        "preempted (its allocation runs beyond its fair share) for a job waiting longer; stopping",
        "더 오래 기다린 작업을 위해 선점됨 (배정이 공정 몫을 넘겨 실행 중), 중지하는 중",
    ),
    "requeued_after_preemption": (
        reasons.requeued_after_preemption(),
        "requeued after preemption; keeps its place by submission time",
        "선점된 뒤 다시 대기열에 넣음, 제출 시각 순서대로 자리를 유지합니다",
    ),
    "requeued_after_lost": (
        reasons.requeued_after_lost(2),
        "requeued after its node was lost (attempt 2)",
        "노드가 유실되어 다시 대기열에 넣음 (2번째 시도)",
    ),
    "exhausted": (
        reasons.exhausted(),
        "stopped: the allocation's GPU-hours ran out",
        "중지됨: 배정의 GPU 시간이 모두 소진되었습니다",
    ),
    "exhausting": (
        reasons.exhausting("H100"),
        "stopping: the allocation's H100 GPU-hours are used up",
        "중지하는 중: 배정의 H100 GPU 시간이 모두 사용되었습니다",
    ),
    "idle_stopped": (
        reasons.idle_stopped(),
        "stopped by gpugrant: its GPUs stayed idle (allocation policy)",
        "gpugrant가 중지함: GPU가 계속 유휴 상태였습니다 (배정 정책)",
    ),
    "idle_warning": (
        reasons.idle_warning(30),
        "warning: its GPUs have been idle for 30 minutes",
        "경고: GPU가 30분 동안 유휴 상태입니다",
    ),
    "session_idle_stopping": (
        reasons.session_idle_stopping(30),
        "stopped: the session sat idle (no kernel, terminal or page activity) for 30 minutes; stopping",
        "중지: 세션이 30분 동안 유휴 상태였습니다(커널, 터미널, 페이지 활동 없음). 중지하는 중",
    ),
    "session_idle_stopped": (
        reasons.session_idle_stopped(),
        "stopped after sitting idle; its notebooks are kept in the workspace",
        "유휴 상태로 중지되었습니다. 노트북은 작업 공간에 보관됩니다",
    ),
    "session_idle_warning": (
        reasons.session_idle_warning(26, 30),
        "idle for 26 minutes: it will be stopped after 30 minutes without activity",
        "26분 동안 유휴: 활동 없이 30분이 지나면 중지됩니다",
    ),
    "idle_stopping": (
        reasons.idle_stopping(60),
        "stopping: its GPUs were idle for 60 minutes",
        "중지하는 중: GPU가 60분 동안 유휴 상태였습니다",
    ),
    "inactive_stopped": (
        reasons.inactive_stopped(),
        "stopped: its allocation is no longer active",
        "중지됨: 배정이 더 이상 활성 상태가 아닙니다",
    ),
    "inactive_stopping": (
        reasons.inactive_stopping(),
        "stopping: its allocation is no longer active",
        "중지하는 중: 배정이 더 이상 활성 상태가 아닙니다",
    ),
    "allocation_ended": (
        reasons.allocation_ended(),
        "its allocation's period has ended",
        "배정 기간이 끝났습니다",
    ),
    "lost": (reasons.lost("node vanished"), "lost: node vanished", "유실됨: node vanished"),
    "lost_node_or_pods_vanished": (
        reasons.lost(""),
        "lost: its node or pods vanished",
        "유실됨: 노드 또는 파드가 사라졌습니다",
    ),
    "lost_pods_vanished": (
        reasons.lost_pods_vanished(),
        "lost: its pods vanished",
        "유실됨: 파드가 사라졌습니다",
    ),
    "lost_stopped_outside": (
        reasons.lost_stopped_outside(),
        "lost: stopped outside gpugrant",
        "유실됨: gpugrant 밖에서 중지되었습니다",
    ),
    "lost_node_gone": (
        reasons.lost_node_gone(),
        "lost: its node is no longer reported by the cluster",
        "유실됨: 클러스터가 더 이상 노드를 보고하지 않습니다",
    ),
    "lost_too_often": (reasons.lost_too_often(3), "lost 3 times; giving up", "3번 유실되어 포기함"),
    "start_failed_requeued": (
        reasons.start_failed_requeued("image not found"),
        "could not be started (image not found); requeued",
        "시작할 수 없었습니다 (image not found), 다시 대기열에 넣음",
    ),
    "start_failed_gave_up": (
        reasons.start_failed_gave_up(4, "image not found"),
        "could not be started 4 times; last error: image not found",
        "4번 시작할 수 없어 포기함, 마지막 오류: image not found",
    ),
    TEXT: (reasons.verbatim("ImagePullBackOff: no such image"),) + ("ImagePullBackOff: no such image",) * 2,
}


def test_every_code_has_a_case():
    assert set(CASES) == {*FORMATS, TEXT}


@pytest.mark.parametrize("code", CASES)
def test_each_code_renders_in_english_and_korean_with_its_parameters(code):
    reason, english, korean = CASES[code]
    assert reason.code == code
    with translation.override("ko"):
        assert reason.english() == english  # what is stored, whatever the language
        assert reason.text() == korean
        assert render(reason.code, reason.params, "stored") == korean
    with translation.override("en"):
        assert reason.text() == english


def test_a_code_or_parameter_that_does_not_exist_is_refused():
    with pytest.raises(ValueError, match="unknown reason code"):
        Reason("exploded")
    with pytest.raises(ValueError, match="takes"):
        Reason("timed_out", {"hours": 2})
    with pytest.raises(ValueError, match="takes"):
        Reason("running", {"extra": 1})


@pytest.mark.parametrize(
    ("code", "params"),
    [
        ("a_code_of_a_later_version", {}),
        ("timed_out", {}),  # parameters that do not fit the format
        ("", {}),
    ],
)
def test_what_cannot_be_rendered_shows_its_stored_english(code, params):
    with translation.override("ko"):
        assert render(code, params, "the stored words") == "the stored words"


def test_words_from_elsewhere_are_cut_to_what_the_columns_hold():
    assert reasons.verbatim("x" * 900).english() == "x" * 500
    assert len(reasons.failed(1, "y" * 900).params["detail"]) == 500
