"""The local sandbox as data (scheduler/backends/local_sandbox.py): bubblewrap's arguments, limits, env."""

import pytest

from scheduler.backends.local_sandbox import (
    MIB,
    Bind,
    Limits,
    bwrap_launch,
    covers,
    etc_files,
    exposed_service_state,
    job_binds,
    rank_limits,
    sandbox_environment,
    without_covered,
)

BINDS = [
    Bind("/usr", "/usr"),
    Bind("/srv/python", "/srv/python"),
    Bind("/srv/app/.venv", "/srv/app/.venv"),
    Bind("/var/gpugrant/local-backend/j/run-1/work", "/job/work", writable=True),
]


def launch(**overrides):
    arguments = {
        "bwrap": "/usr/bin/bwrap",
        "uid": 2000000007,
        "hostname": "rank-0",
        "binds": BINDS,
        "symlinks": [("usr/lib", "/lib")],
        "shm_bytes": 64 * MIB,
    }
    return bwrap_launch(**{**arguments, **overrides})


def pairs(argv: list[str], flag: str) -> list[tuple[str, str]]:
    return [(argv[index + 1], argv[index + 2]) for index, word in enumerate(argv) if word == flag]


def test_every_namespace_but_the_network_is_the_ranks_own_and_it_runs_as_the_jobs_uid():
    argv = launch().argv

    assert argv[0] == "/usr/bin/bwrap"
    for flag in ("--unshare-user", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"):
        assert flag in argv
    assert "--unshare-net" not in argv and "--unshare-all" not in argv  # the job's shared one, joined before
    assert {"--disable-userns", "--die-with-parent"} <= set(argv)
    assert argv[argv.index("--uid") + 1] == argv[argv.index("--gid") + 1] == "2000000007"
    assert argv[argv.index("--hostname") + 1] == "rank-0"
    assert argv[-3:] == ["--chdir", "/job/work", "--"]


def test_every_bind_is_staged_and_only_the_jobs_own_folders_are_writable():
    result = launch()

    read_only = pairs(result.argv, "--ro-bind")
    writable = pairs(result.argv, "--bind")
    # Parents before children (bubblewrap mounts in order), each from its staged copy.
    assert read_only == [("/run/0", "/usr"), ("/run/2", "/srv/python"), ("/run/3", "/srv/app/.venv")]
    assert writable == [("/run/1", "/job/work")]
    assert result.stage == [
        "/usr",
        "/var/gpugrant/local-backend/j/run-1/work",
        "/srv/python",
        "/srv/app/.venv",
    ]


def test_the_sandbox_has_its_own_proc_a_minimal_dev_and_a_sized_shm_and_its_tmpfs_is_read_only():
    argv = launch().argv

    assert argv[argv.index("--proc") + 1] == "/proc"
    assert argv[argv.index("--dev") + 1] == "/dev"
    size = argv.index("--size")
    assert argv[size : size + 4] == ["--size", str(64 * MIB), "--tmpfs", "/dev/shm"]
    remounts = [argv[index + 1] for index, word in enumerate(argv) if word == "--remount-ro"]
    assert remounts == ["/dev", "/"]
    assert argv.index("--remount-ro") > argv.index("--tmpfs")
    assert ["--symlink", "usr/lib", "/lib"] == argv[argv.index("--symlink") : argv.index("--symlink") + 3]


@pytest.mark.parametrize(
    ("gpu_indices", "devices", "sys_bound"),
    [
        ((), [], False),  # simulated GPUs: no device node at all
        ((3,), ["/dev/nvidia3"], True),
        ((2, 0), ["/dev/nvidia0", "/dev/nvidia2"], True),
    ],
)
def test_real_gpus_are_only_the_ranks_own_device_nodes(gpu_indices, devices, sys_bound):
    argv = launch(gpu_indices=gpu_indices).argv

    assert [source for source, _ in pairs(argv, "--dev-bind")] == devices
    assert all(source == dest for source, dest in pairs(argv, "--dev-bind"))
    control = [source for source, _ in pairs(argv, "--dev-bind-try")]
    assert control == (
        ["/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools", "/dev/nvidia-modeset"]
        if devices
        else []
    )
    assert (("/sys", "/sys") in pairs(argv, "--ro-bind")) == sys_bound


@pytest.mark.parametrize(
    ("binds", "kept"),
    [
        ([Bind("/usr", "/usr"), Bind("/usr/local/python", "/usr/local/python")], [Bind("/usr", "/usr")]),
        ([Bind("/usr/local/python", "/usr/local/python"), Bind("/usr", "/usr")], None),
        ([Bind("/usr", "/usr"), Bind("/usr", "/usr")], [Bind("/usr", "/usr")]),
        ([Bind("/usr", "/usr"), Bind("/usr/x", "/job/x")], None),  # a different place inside: kept
        ([Bind("/srv", "/srv"), Bind("/srv/w", "/srv/w", writable=True)], None),  # writable: kept
        ([Bind("/usr", "/usr"), Bind("/usrlocal", "/usrlocal")], None),  # a prefix, not a parent
    ],
)
def test_read_only_binds_already_shown_by_a_parent_are_dropped(binds, kept):
    assert without_covered(binds) == (binds if kept is None else kept)


@pytest.mark.parametrize(
    ("sources", "forbidden", "exposed"),
    [
        (["/usr", "/srv/app/.venv", "/srv/app/workers"], ["/srv/app/var", "/srv/app/var/local-backend"], []),
        (["/srv/app"], ["/srv/app/var"], ["/srv/app"]),  # the checkout holds var/
        (["/srv/app/var/demo-jobs"], ["/srv/app/var"], ["/srv/app/var/demo-jobs"]),  # inside var/
        (["/srv/app/variables"], ["/srv/app/var"], []),
        (["/"], ["/data/db.sqlite3"], ["/"]),
        (["/data"], ["/data/db.sqlite3"], ["/data"]),
    ],
)
def test_shared_paths_that_would_show_the_services_state_are_found(sources, forbidden, exposed):
    assert exposed_service_state(sources, forbidden) == exposed


@pytest.mark.parametrize(
    ("outer", "inner", "expected"),
    [
        ("/a", "/a", True),
        ("/a", "/a/b", True),
        ("/a/", "/a/b", True),
        ("/a", "/ab", False),
        ("/a/b", "/a", False),
    ],
)
def test_covers(outer, inner, expected):
    assert covers(outer, inner) is expected


@pytest.mark.parametrize(
    ("rank_gpus", "job_gpus", "ranks", "expected"),
    [
        (1, 1, 1, Limits(memory_bytes=1024 * MIB, processes=100 + 2, open_files=4096)),
        (4, 8, 2, Limits(memory_bytes=4096 * MIB, processes=800 + 4, open_files=4096)),
        (
            0,
            0,
            1,
            Limits(memory_bytes=1024 * MIB, processes=100 + 2, open_files=4096),
        ),  # no GPU: counts as one
    ],
)
def test_limits_come_from_the_jobs_request(rank_gpus, job_gpus, ranks, expected):
    limits = rank_limits(
        rank_gpus=rank_gpus,
        job_gpus=job_gpus,
        ranks=ranks,
        memory_mb_per_gpu=1024,
        processes_per_gpu=100,
        open_files=4096,
    )

    assert limits == expected
    assert limits.rlimits() == {
        "RLIMIT_DATA": expected.memory_bytes,
        "RLIMIT_NPROC": expected.processes,
        "RLIMIT_NOFILE": 4096,
        "RLIMIT_CORE": 0,
    }


def test_the_environment_is_built_up_from_nothing_and_the_jobs_own_variables_win():
    environment = sandbox_environment(
        passed={"LANG": "ko_KR.UTF-8"},
        path="/srv/app/.venv/bin:/usr/bin",
        job={"RANK": "1", "HOME": "/elsewhere", "MY_SETTING": "x"},
    )

    assert environment == {
        "LANG": "ko_KR.UTF-8",
        "PATH": "/srv/app/.venv/bin:/usr/bin",
        "HOME": "/elsewhere",
        "TMPDIR": "/tmp",
        "USER": "job",
        "LOGNAME": "job",
        "RANK": "1",
        "MY_SETTING": "x",
        "GPUGRANT_WORKDIR": "/job/work",
        "GPUGRANT_CHECKPOINT_DIR": "/job/checkpoints",
    }


def test_the_jobs_own_folders_and_etc_files():
    binds = job_binds(
        workdir="/v/j/run-1/work",
        checkpoints="/v/j/checkpoints",
        tmp="/v/j/run-1/tmp",
        etc={"passwd": "/v/j/run-1/etc/passwd", "hosts": "/v/j/run-1/etc/hosts"},
        shared=["/usr"],
    )
    files = etc_files(uid=2000000001, hostnames=["rank-0", "rank-1"])

    assert binds == [
        Bind("/usr", "/usr"),
        Bind("/v/j/run-1/etc/hosts", "/etc/hosts"),
        Bind("/v/j/run-1/etc/passwd", "/etc/passwd"),
        Bind("/v/j/run-1/work", "/job/work", writable=True),
        Bind("/v/j/checkpoints", "/job/checkpoints", writable=True),
        Bind("/v/j/run-1/tmp", "/tmp", writable=True),
    ]
    assert files["passwd"].startswith("job:x:2000000001:2000000001:")
    assert "127.0.0.1\tlocalhost rank-0 rank-1" in files["hosts"]
