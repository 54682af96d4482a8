"""The per-GPU metering arithmetic: counter deltas, power integration, epochs, never-zero, quarantine, MIG."""

from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workers.metering.device import DeviceError, DeviceLost, GpuReading
from workers.metering.fake import ScriptedDevices
from workers.metering.meter import GpuMeter, apportion_board_energy, bound_gpu_seconds

UUID = "GPU-00000000-0000-0000-0000-000000000001"
W = 1000  # mW per W
J = 1000  # mJ per J


def counter(at, energy_mj, *, power_w=None, limit_w=400, utilisation=None, memory=None):
    return GpuReading(
        uuid=UUID,
        at=at,
        energy_mj=energy_mj,
        power_mw=None if power_w is None else power_w * W,
        utilisation_pct=utilisation,
        memory_used_bytes=memory,
        power_limit_mw=None if limit_w is None else limit_w * W,
    )


def power(at, power_w, *, limit_w=400):
    """A read of a GPU whose energy counter is NOT_SUPPORTED."""
    return counter(at, None, power_w=power_w, limit_w=limit_w)


def silent(at, *, limit_w=400):
    """A read with neither energy nor power."""
    return counter(at, None, limit_w=limit_w)


@dataclass(frozen=True)
class Close:
    at: float | None = None


@dataclass(frozen=True)
class Want:
    energy_mj: int
    estimated: bool = False
    quarantined: bool = False
    epoch: int = 0


def run(meter, steps):
    got = []
    for step in steps:
        if isinstance(step, Close):
            usage = meter.close_interval(step.at)
            got.append(Want(usage.energy_mj, usage.estimated, usage.quarantined, usage.epoch))
        else:
            meter.sample(step)
    return got


CASES = {
    "counter deltas add up": (
        {},
        [counter(0, 1_000), counter(10, 1_001_000), counter(20, 4_001_000), Close()],
        [Want(4_000_000)],
    ),
    "a missed read loses nothing: the next delta covers it": (
        {},
        [counter(0, 1_000), counter(20, 4_001_000), Close()],
        [Want(4_000_000)],
    ),
    "intervals split at the close and keep the counter base": (
        {},
        [counter(0, 0), counter(10, 1_000_000), Close(), counter(20, 3_000_000), Close()],
        [Want(1_000_000), Want(2_000_000)],
    ),
    "counter going down is a driver reload: new epoch, nothing counted across it": (
        {},
        [counter(0, 5_000_000), counter(10, 6_000_000), counter(20, 1_000), counter(30, 501_000), Close()],
        [Want(1_500_000, epoch=1)],
    ),
    "a reset between closes puts the next interval in the new epoch": (
        {"epoch": 4},
        [
            counter(0, 9_000_000),
            counter(10, 10_000_000),
            Close(),
            counter(20, 0),
            counter(30, 700_000),
            Close(),
        ],
        [Want(1_000_000, epoch=4), Want(700_000, epoch=5)],
    ),
    "NOT_SUPPORTED counter: trapezoid over power, estimated": (
        {},
        [power(0, 100), power(10, 300), power(20, 300), Close()],
        [Want(2_000_000 + 3_000_000, estimated=True)],
    ),
    "counter back after power-only reads: integrated, not counted twice": (
        {},
        [
            counter(0, 0, power_w=100),
            power(10, 100),
            counter(20, 50_000_000, power_w=100),  # whatever the counter says, this span was integrated
            Close(),
            counter(30, 51_000_000, power_w=100),
            Close(),
        ],
        [Want(2_000_000, estimated=True), Want(1_000_000)],
    ),
    "restored meter counts from the persisted counter in its epoch": (
        {"epoch": 2, "last_energy_mj": 1_000},
        [counter(0, 5_000), counter(10, 1_005_000), Close()],
        [Want(1_004_000, epoch=2)],
    ),
    "restored meter whose counter restarted (reboot) starts a new epoch": (
        {"epoch": 2, "last_energy_mj": 9_000_000_000},
        [counter(0, 1_000), counter(10, 1_001_000), Close()],
        [Want(1_000_000, epoch=3)],
    ),
    "never zero: an interval without reads is estimated from the last power": (
        {},
        [counter(0, 0, power_w=150), counter(10, 1_500_000, power_w=150), Close(at=10), Close(at=70)],
        [Want(1_500_000), Want(150 * 60 * J, estimated=True)],
    ),
    "never zero: a frozen counter is estimated from the last power": (
        {},
        [counter(0, 7_000, power_w=80), counter(10, 7_000, power_w=80), Close()],
        [Want(80 * 10 * J, estimated=True)],
    ),
    "never zero: the power limit is the last resort": (
        {},
        [silent(0, limit_w=300), silent(10, limit_w=300), Close()],
        [Want(300 * 10 * J, estimated=True)],
    ),
    "nothing to estimate from: 0, estimated and quarantined": (
        {},
        [silent(0, limit_w=None), Close(at=10)],
        [Want(0, estimated=True, quarantined=True)],
    ),
    "a zero-length interval is an honest 0": (
        {},
        [counter(5, 100, power_w=100), Close()],
        [Want(0)],
    ),
    "lost for a whole interval: estimated, then the recovery delta bills only the rest": (
        {},
        [
            counter(0, 0, power_w=100),
            counter(10, 1_000_000, power_w=100),
            Close(at=30),
            Close(at=60),  # no read at all: 100 W × 30 s billed ahead
            counter(70, 7_000_000, power_w=100),  # 6 MJ over [10, 70], of which [30, 60] was billed
            Close(at=70),
        ],
        [Want(1_000_000), Want(3_000_000, estimated=True), Want(3_000_000, estimated=True)],
    ),
    "an estimate above the truth is not billed again": (
        {},
        [
            counter(0, 0, power_w=300),
            counter(10, 3_000_000, power_w=300),
            Close(at=10),
            Close(at=40),  # 300 W × 30 s estimated, but the GPU went idle
            counter(50, 4_000_000, power_w=25),  # only 1 MJ over [10, 50]: all of it already billed
            Close(at=50),
        ],
        [Want(3_000_000), Want(9_000_000, estimated=True), Want(0, estimated=True)],
    ),
    "average power above limit × margin: quarantined, figure kept": (
        {},
        [counter(0, 0), counter(10, 4_500_000), Close()],  # 450 W > 400 W × 1.10
        [Want(4_500_000, quarantined=True)],
    ),
    "average power within the margin is trusted": (
        {},
        [counter(0, 0), counter(10, 4_300_000), Close()],  # 430 W ≤ 440 W
        [Want(4_300_000)],
    ),
    "a tighter margin quarantines sooner": (
        {"power_margin": 1.0},
        [counter(0, 0), counter(10, 4_300_000), Close()],
        [Want(4_300_000, quarantined=True)],
    ),
    "a power-limit change within the interval: the highest limit bounds it": (
        {},
        [
            counter(0, 0, limit_w=200),
            counter(10, 3_500_000, limit_w=400),
            counter(20, 7_000_000, limit_w=200),
            Close(),
        ],
        [Want(7_000_000)],
    ),
    "MIG slice: its share of the board's energy, estimated": (
        {"mig_fraction": 3 / 7},
        [counter(0, 0, limit_w=700), counter(10, 7_000_000, limit_w=700), Close()],
        [Want(3_000_000, estimated=True)],
    ),
    "MIG slice: sanity is judged on the board's power": (
        {"mig_fraction": 1 / 7},
        [counter(0, 0, limit_w=400), counter(10, 7_000_000, limit_w=400), Close()],  # board at 700 W
        [Want(1_000_000, estimated=True, quarantined=True)],
    ),
}


@pytest.mark.parametrize(("meter_kwargs", "steps", "wanted"), list(CASES.values()), ids=list(CASES))
def test_it_meters(meter_kwargs, steps, wanted):
    assert run(GpuMeter(UUID, **meter_kwargs), steps) == wanted


def test_it_keeps_the_counter_base_and_epoch_public_for_persistence():
    meter = GpuMeter(UUID)
    run(meter, [counter(0, 10_000), counter(10, 20_000), counter(20, 5_000), Close()])
    assert (meter.epoch, meter.last_energy_mj) == (1, 5_000)
    restored = GpuMeter(UUID, epoch=meter.epoch, last_energy_mj=meter.last_energy_mj)
    assert run(restored, [counter(30, 8_000), Close()]) == [Want(3_000, epoch=1)]


def test_it_averages_utilisation_memory_and_power_over_the_interval_only():
    meter = GpuMeter(UUID)
    meter.sample(counter(0, 0, utilisation=10.0, memory=1_000))
    meter.sample(counter(10, 2_000_000, utilisation=None, memory=None))  # fields NVML could not give
    meter.sample(counter(20, 4_000_000, utilisation=30.0, memory=3_000))
    usage = meter.close_interval()
    assert (usage.avg_utilisation_pct, usage.avg_memory_bytes, usage.samples) == (20.0, 2_000, 3)
    assert usage.avg_power_w == pytest.approx(200.0)
    assert usage.board_energy_mj is None

    meter.sample(counter(30, 5_000_000, utilisation=90.0, memory=9_000))
    usage = meter.close_interval()
    assert (usage.avg_utilisation_pct, usage.avg_memory_bytes, usage.samples) == (90.0, 9_000, 1)
    assert usage.avg_power_w == pytest.approx(100.0)


def test_it_reports_a_mig_slice_power_share_and_the_board_energy():
    meter = GpuMeter(UUID, mig_fraction=2 / 7)
    run(meter, [counter(0, 0, limit_w=700), counter(10, 7_000_000, limit_w=700)])
    usage = meter.close_interval()
    assert (usage.energy_mj, usage.board_energy_mj) == (2_000_000, 7_000_000)
    assert usage.avg_power_w == pytest.approx(200.0)


def test_it_recovers_from_a_gpu_lost_mid_interval():
    """The agent's loop: read, feed the meter, re-initialise on DeviceLost/DeviceError; nothing is lost."""
    devices = ScriptedDevices(
        {
            UUID: [
                counter(0, 1_000_000),
                counter(10, 2_000_000),
                DeviceLost("GPU is lost"),
                DeviceError("Uninitialized"),
                counter(40, 5_000_000),
                counter(50, 6_000_000),
            ]
        }
    )
    meter = GpuMeter(UUID)
    for _tick in range(6):
        try:
            meter.sample(devices.read(UUID))
        except (DeviceLost, DeviceError):
            devices.reinitialise()
    usage = meter.close_interval()
    assert (usage.energy_mj, usage.estimated, usage.quarantined, usage.epoch) == (5_000_000, False, False, 0)
    assert usage.samples == 4
    assert (devices.reads[UUID], devices.reinitialisations, devices.remaining(UUID)) == (6, 2, 0)


@pytest.mark.parametrize(
    "bad",
    [
        GpuReading("GPU-another", 6, 200, None, None, None, None),
        counter(4, 200),
    ],
    ids=["another GPU's reading", "a reading older than the previous one"],
)
def test_it_refuses_readings_it_cannot_have(bad):
    meter = GpuMeter(UUID)
    meter.sample(counter(5, 100))
    with pytest.raises(ValueError):
        meter.sample(bad)


@pytest.mark.parametrize("kwargs", [{"mig_fraction": 0}, {"mig_fraction": 1.5}, {"power_margin": 0}])
def test_it_refuses_impossible_settings(kwargs):
    with pytest.raises(ValueError):
        GpuMeter(UUID, **kwargs)


@pytest.mark.parametrize(
    ("board_energy_mj", "activities", "expected"),
    [
        (1_000, {"MIG-a": 0.75, "MIG-b": 0.25}, {"MIG-a": 750, "MIG-b": 250}),
        (
            10,
            {"MIG-c": 1.0, "MIG-b": 1.0, "MIG-a": 1.0},
            {"MIG-a": 4, "MIG-b": 3, "MIG-c": 3},
        ),  # ties by UUID
        (11, {"MIG-a": 0.2, "MIG-b": 0.8}, {"MIG-a": 2, "MIG-b": 9}),  # 2.2 / 8.8: the larger remainder wins
        (900, {"MIG-a": 0.0, "MIG-b": 0.0, "MIG-c": 0.0}, {"MIG-a": 300, "MIG-b": 300, "MIG-c": 300}),
        (900, {"MIG-a": -5.0, "MIG-b": 0.5}, {"MIG-a": 0, "MIG-b": 900}),
        (0, {"MIG-a": 0.5}, {"MIG-a": 0}),
        (500, {}, {}),
    ],
)
def test_it_apportions_board_energy_by_activity(board_energy_mj, activities, expected):
    assert apportion_board_energy(board_energy_mj, activities) == expected


@given(
    board_energy_mj=st.integers(min_value=0, max_value=10**15),
    activities=st.dictionaries(st.text(min_size=1, max_size=5), st.floats(-1, 100), max_size=7),
)
def test_it_apportions_exactly_the_board_energy(board_energy_mj, activities):
    shares = apportion_board_energy(board_energy_mj, activities)
    assert set(shares) == set(activities)
    assert all(share >= 0 for share in shares.values())
    if activities:
        assert sum(shares.values()) == board_energy_mj


def test_it_refuses_negative_board_energy():
    with pytest.raises(ValueError):
        apportion_board_energy(-1, {"MIG-a": 1.0})


@pytest.mark.parametrize(
    ("interval", "bound_at", "released_at", "fraction", "expected"),
    [
        ((0, 60), -100, None, 1.0, 60),  # bound throughout, still bound
        ((0, 60), 30, None, 1.0, 30),  # bound mid-interval
        ((0, 60), -10, 20, 1.0, 20),  # released mid-interval
        ((0, 60), 10, 25, 1.0, 15),  # bound and released inside
        ((0, 60), -100, -10, 1.0, 0),  # released before
        ((0, 60), 70, None, 1.0, 0),  # bound after
        ((0, 60), -10, 0, 1.0, 0),  # released exactly at the start
        ((0, 60), 60, None, 1.0, 0),  # bound exactly at the end
        ((0, 60), 0, 60, 1.0, 60),  # the edges themselves
        ((0, 60.4), 0, None, 1.0, 60),
        ((0, 60.6), 0, None, 1.0, 61),
        ((0, 60), -100, None, 3 / 7, 26),  # 25.71 slice-weighted seconds
        ((0, 61), 0, None, 0.5, 31),  # 30.5 rounds half up
    ],
)
def test_it_counts_bound_gpu_seconds_from_allocation_edges(
    interval, bound_at, released_at, fraction, expected
):
    assert bound_gpu_seconds(*interval, bound_at, released_at, fraction) == expected


def test_bound_gpu_seconds_over_consecutive_intervals_add_up_without_drift():
    # One hour of a 1g MIG slice in one-minute intervals: 3600/7 = 514.3; naive per-interval rounding gives 540.
    total = sum(bound_gpu_seconds(start, start + 60, 0, None, 1 / 7) for start in range(0, 3600, 60))
    assert total == 514


@pytest.mark.parametrize("fraction", [0, -0.5, 1.01])
def test_bound_gpu_seconds_refuses_impossible_fractions(fraction):
    with pytest.raises(ValueError):
        bound_gpu_seconds(0, 60, 0, None, fraction)
