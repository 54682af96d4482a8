"""The agent's step with scripted GPUs and bindings: edges to the second, sequences, epochs, energy."""

from tests.workers.agent.rig import REPORT, SAMPLE, START, Rig, ScriptedSource, readings
from workers.assignments import Binding
from workers.metering.device import DeviceError, DeviceLost, GpuInfo, GpuReading
from workers.metering.meter import bound_gpu_seconds

JOB = "5f0c2e9a-1b3d-4c5e-8f70-112233445566"
OTHER = "0a1b2c3d-4e5f-4a6b-8c7d-8e9fa0b1c2d3"


def of(records, job=JOB, gpu="GPU-0"):
    return [record for record in records if record.job_id == job and record.gpu_uuid == gpu]


def assert_contiguous(records, bound_at, end):
    assert records[0].interval_start == bound_at
    assert records[-1].interval_end == end
    for before, after in zip(records, records[1:], strict=False):
        assert after.interval_start == before.interval_end


def test_gpu_seconds_add_up_to_the_edges_exactly_with_a_final_record_at_release(tmp_path):
    bound_at, released_at = START + 0.4, START + 47.3
    source = ScriptedSource([Binding(JOB, "GPU-0", 0, bound_at, None)])
    rig = Rig(tmp_path, {"GPU-0": readings("GPU-0"), "GPU-1": readings("GPU-1")}, source)
    rig.run(START, START + 40)
    source.current = [Binding(JOB, "GPU-0", 0, bound_at, released_at)]
    rig.run(START + 42, START + 80)

    records = of(rig.records)
    assert [record.gpu_seconds for record in records] == [
        10,
        10,
        10,
        10,
        7,
    ]  # 9.6 → 10, then … 47.3 − 0.4 → 47
    assert (
        sum(record.gpu_seconds for record in records)
        == bound_gpu_seconds(bound_at, released_at, bound_at, released_at)
        == 47
    )
    assert_contiguous(records, bound_at, released_at)
    assert [record.sequence for record in records] == list(range(5))
    assert len({record.epoch for record in records}) == 1
    assert of(rig.records, gpu="GPU-1") == []  # not bound: read, never reported
    # Energy: each record its share of a constant 300 W, never 0.
    for record in records:
        expected = 300_000 * (record.interval_end - record.interval_start)
        assert abs(record.energy_mj - expected) <= 0.05 * expected, record
        assert record.avg_utilisation_pct == 80.0 and not record.estimated and not record.quarantined
    # The spool holds exactly these records, and the binding is closed for good.
    assert [item.id for item in rig.spool.pending(100)] == [record.id for record in rig.records]
    state = rig.spool.binding_states()[(JOB, "GPU-0")]
    assert (state.released, state.next_sequence, state.last_interval_end) == (True, 5, released_at)


def test_sequences_and_edges_continue_across_a_restart_from_the_spool(tmp_path):
    bound_at = START + 1.0
    source = ScriptedSource([Binding(JOB, "GPU-0", 0, bound_at, None)])
    first = Rig(tmp_path, {"GPU-0": readings("GPU-0")}, source)
    first.run(START, START + 24)  # reports at +10 and +20; the samples at +22 and +24 die with it (kill -9)
    first.close()
    before = of(first.records)
    assert [record.sequence for record in before] == [0, 1]

    # Restarted at +40 with the counter still counting: 300 W all along.
    restart = START + 40
    energy_at_restart = 10**9 + round(300_000 * 40)
    second = Rig(tmp_path, {"GPU-0": readings("GPU-0", start=restart, energy0=energy_at_restart)}, source)
    second.run(restart, restart + 30)
    after = of(second.records)
    assert [record.sequence for record in after] == [2, 3, 4]
    assert {record.epoch for record in after} == {before[0].epoch}
    # The first record after the restart covers the time the agent was down, to the second.
    assert after[0].interval_start == before[-1].interval_end == START + 20
    assert after[0].interval_end == restart + 10
    assert after[0].gpu_seconds == 30
    assert abs(after[0].energy_mj - 300_000 * 30) <= 0.01 * 300_000 * 30  # the counter carried the gap
    everything = before + after
    assert_contiguous(everything, bound_at, restart + 30)
    assert sum(record.gpu_seconds for record in everything) == bound_gpu_seconds(
        bound_at, restart + 30, bound_at, None
    )


def test_a_counter_reset_starts_a_new_epoch_at_sequence_0(tmp_path):
    script = readings("GPU-0", count=11)  # up to +20
    script += readings("GPU-0", start=START + 22, energy0=5_000)  # the driver reloaded: the counter restarted
    source = ScriptedSource([Binding(JOB, "GPU-0", 0, START, None)])
    rig = Rig(tmp_path, {"GPU-0": script}, source)
    rig.run(START, START + 40)
    records = of(rig.records)
    first_epoch = rig.spool.first_epoch()
    assert [(record.epoch, record.sequence) for record in records] == [
        (first_epoch, 0),
        (first_epoch, 1),
        (first_epoch + 1, 0),
        (first_epoch + 1, 1),
    ]
    assert len({record.id for record in records}) == 4
    assert all(record.energy_mj > 0 for record in records)
    assert sum(record.gpu_seconds for record in records) == 40
    assert rig.spool.gpu_states()["GPU-0"].epoch == first_epoch + 1


def test_energy_is_never_0_for_a_bound_gpu_that_cannot_be_read(tmp_path):
    good = readings("GPU-0", count=6)  # +0 … +10
    failing = [DeviceLost("fell off the bus"), DeviceError("timeout")] * 3  # +12 … +22
    script = good + failing + readings("GPU-0", start=START + 24, energy0=10**9 + 300_000 * 24)
    source = ScriptedSource([Binding(JOB, "GPU-0", 0, START, None)])
    rig = Rig(tmp_path, {"GPU-0": script}, source)
    rig.run(START, START + 40)
    records = of(rig.records)
    assert rig.devices.reinitialisations == 6
    blind = records[1]  # [+10, +20]: not one successful read
    assert blind.energy_mj > 0 and blind.estimated
    assert all(record.energy_mj > 0 for record in records)
    assert sum(record.gpu_seconds for record in records) == 40


def test_a_gpu_bound_mid_interval_gets_its_share_and_two_jobs_split_one_gpu(tmp_path):
    source = ScriptedSource([Binding(JOB, "GPU-0", 0, START + 0.0, START + 14.0)])
    rig = Rig(tmp_path, {"GPU-0": readings("GPU-0")}, source)
    rig.run(START, START + 12)
    source.current.append(Binding(OTHER, "GPU-0", 0, START + 16.0, None))
    rig.run(START + 14, START + 30)
    first, second = of(rig.records), of(rig.records, job=OTHER)
    assert [(r.interval_start - START, r.interval_end - START, r.gpu_seconds) for r in first] == [
        (0, 10, 10),
        (10, 14, 4),
    ]
    assert [(r.interval_start - START, r.interval_end - START, r.gpu_seconds) for r in second] == [
        (16, 20, 4),
        (20, 30, 10),
    ]
    # In [+10, +20] the GPU's energy goes 40 % to the first job, 40 % to the second; the idle 2 s to nobody.
    interval_energy = 300_000 * 10
    assert abs(first[1].energy_mj - 0.4 * interval_energy) <= 0.02 * interval_energy
    assert abs(second[0].energy_mj - 0.4 * interval_energy) <= 0.02 * interval_energy
    assert first[1].sequence == 1 and second[0].sequence == 0


def test_a_long_absence_is_reported_in_pieces_no_longer_than_an_hour(tmp_path):
    source = ScriptedSource([Binding(JOB, "GPU-0", 0, START, None)])
    first = Rig(tmp_path, {"GPU-0": readings("GPU-0", count=6)}, source)
    first.run(START, START + 10)
    first.close()
    restart = START + 3 * 3600 + 10
    second = Rig(
        tmp_path,
        {"GPU-0": readings("GPU-0", start=restart, energy0=10**9 + 300_000 * (restart - START))},
        source,
    )
    second.run(restart, restart + 10)
    pieces = of(second.records)
    assert len(pieces) == 4
    assert all(0 < r.interval_end - r.interval_start <= 3600 for r in pieces)
    assert sum(r.gpu_seconds for r in pieces) == 3 * 3600 + 10
    assert [r.sequence for r in pieces] == [1, 2, 3, 4]
    assert abs(sum(r.energy_mj for r in pieces) - 300_000 * (3 * 3600 + 10)) <= 300_000 * 20


def test_bindings_that_ended_before_the_spool_existed_are_history(tmp_path):
    old = Binding(OTHER, "GPU-0", 0, START - 500, START - 300)
    source = ScriptedSource([old, Binding(JOB, "GPU-1", 1, START - 50, START + 5)])
    rig = Rig(
        tmp_path, {"GPU-0": readings("GPU-0"), "GPU-1": readings("GPU-1")}, source, spool_created=START - 100
    )
    rig.run(START, START + 20)
    assert of(rig.records, job=OTHER) == []
    late = of(rig.records, gpu="GPU-1")
    # Bound before the agent first read the GPU: the unseen part is estimated from the interval's power.
    assert [(r.interval_start - START, r.interval_end - START, r.gpu_seconds) for r in late] == [(-50, 5, 55)]
    assert late[0].estimated and late[0].energy_mj > 300_000 * 50


def test_mig_slices_count_their_fraction_of_gpu_seconds(tmp_path):
    gpus = [GpuInfo("MIG-0", 0, "NVIDIA H100", mig_fraction=0.25)]
    script = {
        "MIG-0": [
            GpuReading(r.uuid, r.at, r.energy_mj, r.power_mw, None, r.memory_used_bytes, r.power_limit_mw)
            for r in readings("MIG-0")
        ]
    }
    source = ScriptedSource([Binding(JOB, "MIG-0", 0, START, START + 30)])
    rig = Rig(tmp_path, script, source, gpus=gpus)
    rig.run(START, START + 30)
    records = of(rig.records, gpu="MIG-0")
    assert (
        sum(r.gpu_seconds for r in records)
        == bound_gpu_seconds(START, START + 30, START, START + 30, 0.25)
        == 8
    )
    assert all(r.estimated for r in records)  # a MIG slice's energy is a share of its board


def test_reports_happen_every_report_interval_not_every_sample(tmp_path):
    source = ScriptedSource([Binding(JOB, "GPU-0", 0, START, None)])
    rig = Rig(tmp_path, {"GPU-0": readings("GPU-0")}, source)
    made = [len(rig.tick(START + k * SAMPLE)) for k in range(16)]
    assert made == [0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]
    assert REPORT == 5 * SAMPLE


def test_after_a_stall_reports_resume_one_interval_apart(tmp_path):
    source = ScriptedSource([Binding(JOB, "GPU-0", 0, START, None)])
    rig = Rig(tmp_path, {"GPU-0": readings("GPU-0")}, source)
    rig.tick(START)  # schedules the first report for START + REPORT
    rig.agent.next_report_at = START - 100  # the loop stalled (a suspended VM): reports were due long ago
    assert len(rig.tick(START + 2)) == 1  # one report covers the whole stretch …
    assert rig.agent.next_report_at == START + 2 + REPORT  # … and the rhythm restarts from now
    assert [len(rig.tick(START + 2 + k * SAMPLE)) for k in range(1, 6)] == [0, 0, 0, 0, 1]
