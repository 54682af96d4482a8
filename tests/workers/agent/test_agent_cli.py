"""The agent's command line, and its promise to stay clear of Django."""

import subprocess
import sys

import pytest

from tests.workers.agent.helpers import REPOSITORY, python_environment
from workers.agent import parse_arguments, simulated_gpu_shape

REQUIRED = ["--node", "n1", "--portal", "http://portal", "--key-file", "k", "--spool", "s"]


def test_importing_the_agent_pulls_in_neither_django_nor_the_scheduler():
    code = (
        "import sys, workers.agent, workers.podresources\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('django', 'rest_framework', 'scheduler', 'quotas', 'portal'))\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPOSITORY,
        env=python_environment(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_it_parses_the_documented_options():
    arguments = parse_arguments(
        REQUIRED
        + [
            "--source",
            "local",
            "--local-state",
            "/var/x",
            "--devices",
            "simulated",
            "--sample-interval",
            "1",
            "--report-interval",
            "5",
        ]
    )
    assert (arguments.node, arguments.source, arguments.devices) == ("n1", "local", "simulated")
    assert (arguments.sample_interval, arguments.report_interval) == (1.0, 5.0)
    defaults = parse_arguments(REQUIRED + ["--source", "podresources"])
    assert (defaults.devices, defaults.sample_interval, defaults.report_interval) == ("auto", 2.0, 10.0)
    assert defaults.podresources_socket == "/var/lib/kubelet/pod-resources/kubelet.sock"


@pytest.mark.parametrize(
    "extra",
    [
        ["--source", "local"],  # where are the local backend's files?
        ["--source", "slurm"],
        ["--source", "podresources", "--sample-interval", "20", "--report-interval", "10"],
        ["--source", "podresources", "--devices", "nvml-please"],
    ],
)
def test_it_refuses_incomplete_or_inconsistent_options(extra, capsys):
    with pytest.raises(SystemExit) as raised:
        parse_arguments(REQUIRED + extra)
    assert raised.value.code == 2


def test_simulated_gpus_match_the_local_backend_s_nodes():
    assert simulated_gpu_shape("local-h100", "A100:4,H100:2") == ("NVIDIA H100", 2)
    assert simulated_gpu_shape("local-a100", "A100:4,H100:2") == ("NVIDIA A100", 4)
    assert simulated_gpu_shape("gpu-node-7", "A100:4") == ("NVIDIA A100-SXM4-80GB", 4)
