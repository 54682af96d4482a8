"""The spool: records and meter state written together or not at all, even under kill -9."""

import signal
import sqlite3
from collections import defaultdict

from tests.workers.agent.helpers import start_module, stop_process, wait_for
from workers.records import UsageRecord
from workers.spool import EPOCH_BASE, BindingState, GpuState, Spool


def record(sequence: int, *, job: str = "job-1", gpu: str = "GPU-0", start: float = 0.0) -> UsageRecord:
    return UsageRecord(job, gpu, 0, sequence, start, start + 10, 10, 5000, 40.0, 1 << 20)


def count_records(directory) -> int:
    with Spool(directory) as spool:
        return spool.backlog().count


def test_it_survives_kill_9_in_the_middle_of_appends_with_records_and_state_in_step(tmp_path):
    spool_dir = tmp_path / "spool"
    seen_counts = []
    for round_number in range(6):
        before = count_records(spool_dir)
        writer = start_module(
            "tests.workers.agent._spool_writer", str(spool_dir), log=tmp_path / f"writer-{round_number}.log"
        )
        try:
            # Kill it as soon as it has committed at least two more appends: it is then busy in the next one.
            wait_for(
                lambda before=before: count_records(spool_dir) >= before + 240, "appends", process=writer
            )
            writer.send_signal(signal.SIGKILL)
            writer.wait(timeout=10)
        finally:
            stop_process(writer)
        assert writer.returncode == -signal.SIGKILL

        with Spool(spool_dir) as spool:
            pending = spool.pending(10**6)
            states = spool.binding_states()
            gpus = spool.gpu_states()
        sequences = defaultdict(list)
        energy = defaultdict(int)
        ends = defaultdict(float)
        for item in pending:
            wire = item.wire
            sequences[(wire["job_id"], wire["gpu_uuid"])].append(wire["sequence"])
            energy[wire["gpu_uuid"]] += wire["energy_mj"]
            ends[(wire["job_id"], wire["gpu_uuid"])] = max(
                ends[(wire["job_id"], wire["gpu_uuid"])], wire["interval_end"]
            )
        assert set(sequences) == set(states)
        for key, state in states.items():
            # Every record has its state (next_sequence covers it) and every state its records.
            assert sequences[key] == list(range(state.next_sequence)), key
            assert ends[key] == state.last_interval_end
        for uuid, state in gpus.items():
            assert state.last_energy_mj == energy[uuid], uuid
        seen_counts.append(len(pending))
    assert seen_counts == sorted(seen_counts) and len(set(seen_counts)) == len(seen_counts)


def test_it_uses_wal_with_full_sync(tmp_path):
    with Spool(tmp_path) as spool:
        spool.append([record(0)])
    database = sqlite3.connect(tmp_path / "spool.sqlite3")
    assert database.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    database.close()


def test_it_gives_pending_records_oldest_first_and_forgets_acked_ones(tmp_path):
    clock = [1000.0]
    with Spool(tmp_path, clock=lambda: clock[0]) as spool:
        spool.append([record(0), record(1)])
        clock[0] += 5
        spool.append([record(2), record(0, gpu="GPU-1")])
        assert [item.id for item in spool.pending(10)] == [
            "job-1:GPU-0:0:0",
            "job-1:GPU-0:0:1",
            "job-1:GPU-0:0:2",
            "job-1:GPU-1:0:0",
        ]
        assert [item.id for item in spool.pending(2)] == ["job-1:GPU-0:0:0", "job-1:GPU-0:0:1"]
        assert spool.pending(1)[0].wire == record(0).to_wire()

        assert spool.ack(["job-1:GPU-0:0:1", "job-1:GPU-0:0:0", "unknown"]) == 2
        assert [item.id for item in spool.pending(10)] == ["job-1:GPU-0:0:2", "job-1:GPU-1:0:0"]


def test_it_keeps_the_first_copy_of_a_record_appended_twice(tmp_path):
    with Spool(tmp_path) as spool:
        spool.append([record(0)])
        spool.append([record(0), record(1)])
        assert [item.id for item in spool.pending(10)] == ["job-1:GPU-0:0:0", "job-1:GPU-0:0:1"]


def test_it_reports_the_backlog_count_and_the_age_of_the_oldest(tmp_path):
    clock = [1000.0]
    with Spool(tmp_path, clock=lambda: clock[0]) as spool:
        assert (spool.backlog().count, spool.backlog().oldest_age_seconds) == (0, 0.0)
        spool.append([record(0), record(1)])
        clock[0] = 1030.0
        spool.append([record(2)])
        clock[0] = 1100.0
        assert (spool.backlog().count, spool.backlog().oldest_age_seconds) == (3, 100.0)
        spool.ack(["job-1:GPU-0:0:0", "job-1:GPU-0:0:1"])
        assert (spool.backlog().count, spool.backlog().oldest_age_seconds) == (1, 70.0)


def test_state_and_records_persist_across_reopening(tmp_path):
    with Spool(tmp_path) as spool:
        spool.append(
            [record(0), record(1)],
            [BindingState("job-1", "GPU-0", 100.0, 3, 2, 120.0), GpuState("GPU-0", 3, 123456, 120.0)],
        )
        spool.append([], [BindingState("job-1", "GPU-0", 100.0, 3, 2, 125.0, released=True)])
    with Spool(tmp_path) as spool:
        assert spool.binding_states() == {
            ("job-1", "GPU-0"): BindingState("job-1", "GPU-0", 100.0, 3, 2, 125.0, released=True)
        }
        assert spool.gpu_states() == {"GPU-0": GpuState("GPU-0", 3, 123456, 120.0)}
        assert spool.backlog().count == 2


def test_a_failing_append_writes_nothing(tmp_path):
    with Spool(tmp_path) as spool:
        try:
            spool.append([record(0)], [BindingState("job-1", "GPU-0", 1.0, 0, 1, 10.0), "not a state"])
        except TypeError:
            pass
        else:
            raise AssertionError("a bad state update must fail the append")
        assert spool.backlog().count == 0
        assert spool.binding_states() == {}


def test_a_new_spool_starts_unknown_gpus_at_an_epoch_no_earlier_spool_used(tmp_path):
    with Spool(tmp_path / "first", clock=lambda: EPOCH_BASE + 5000.7) as first:
        assert first.first_epoch() == 5000
    with Spool(tmp_path / "first", clock=lambda: EPOCH_BASE + 9999.0) as reopened:
        assert reopened.first_epoch() == 5000  # the creation time is kept
    with Spool(tmp_path / "second", clock=lambda: EPOCH_BASE + 6000.0) as second:
        assert second.first_epoch() == 6000


def test_buried_records_leave_the_queue_but_stay_in_the_file(tmp_path):
    with Spool(tmp_path) as spool:
        spool.append([record(0), record(1)])
        assert spool.bury(["job-1:GPU-0:0:0"], "gpu_seconds: too large") == 1
        assert [item.id for item in spool.pending(10)] == ["job-1:GPU-0:0:1"]
        assert spool.buried() == [("job-1:GPU-0:0:0", "gpu_seconds: too large")]
