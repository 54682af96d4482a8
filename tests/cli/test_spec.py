"""The job spec file on its own: what it accepts, and where it points when it does not."""

import pytest

from gpugrant_cli.errors import UsageError
from gpugrant_cli.spec import spec_load

VALID = """\
name: bert-finetune
allocation: Korean LLM fine-tuning
image: registry.example.kr/team/train:1.2
command: python train.py --data "/data/ko corpus"
gpu_type: A100
gpus_per_pod: 2
max_runtime: 90
"""


def problems(text: str) -> dict[str, list[str]]:
    with pytest.raises(UsageError) as raised:
        spec_load("job.yaml", text)
    return raised.value.fields


def test_it_fills_in_the_defaults_and_splits_a_command_line():
    spec = spec_load("job.yaml", VALID)
    assert spec.allocation == "Korean LLM fine-tuning"
    assert spec.request == {
        "name": "bert-finetune",
        "kind": "training",
        "image": "registry.example.kr/team/train:1.2",
        "command": ["python", "train.py", "--data", "/data/ko corpus"],
        "gpu_type": "A100",
        "gpus_per_pod": 2,
        "pods": 1,
        "max_runtime_minutes": 90,
        "priority": "normal",
        "environment": {},
    }


@pytest.mark.parametrize(
    ("written", "minutes"),
    [
        ("45", 45),
        ("90m", 90),
        ("2h", 120),
        ("1h30m", 90),
        ("1d", 1440),
        ("1d 2h", 1560),
        ("5 minutes", 5),
        ("2 hours 5 min", 125),
        ("1 day", 1440),
    ],
)
def test_max_runtime_takes_minutes_or_a_duration(written, minutes):
    spec = spec_load("job.yaml", VALID.replace("max_runtime: 90", f"max_runtime: {written}"))
    assert spec.request["max_runtime_minutes"] == minutes


@pytest.mark.parametrize("written", ["0", "0m", "soon", "1.5h", "-5", "true"])
def test_max_runtime_refuses_what_is_not_a_duration(written):
    found = problems(VALID.replace("max_runtime: 90", f"max_runtime: {written}"))
    assert list(found) == ["job.yaml:7: max_runtime"]


def test_every_problem_is_reported_at_once_with_its_line():
    found = problems(
        "name: 42\n"
        "kind: mining\n"
        "command: []\n"
        "gpus_per_pod: 0\n"
        "pods: two\n"
        "priority: urgent\n"
        "imgae: x\n"
        "env:\n"
        "  9LIVES: 'x'\n"
        "  OK: '1'\n"
    )
    assert set(found) == {
        "job.yaml: allocation",
        "job.yaml: environment",
        "job.yaml: gpu_type",
        "job.yaml: max_runtime",
        "job.yaml:1: name",
        "job.yaml:2: kind",
        "job.yaml:3: command",
        "job.yaml:4: gpus_per_pod",
        "job.yaml:5: pods",
        "job.yaml:6: priority",
        "job.yaml:7: imgae",
        "job.yaml:9: env.9LIVES",
    }
    assert found["job.yaml:7: imgae"] == ["Unknown key; did you mean `image`?"]
    assert found["job.yaml: environment"][0].startswith("Required: a catalogue environment")
    assert "put it in quotes" in found["job.yaml:1: name"][0]


def test_a_key_given_twice_is_refused_rather_than_silently_overridden():
    found = problems(VALID + "gpus_per_pod: 8\n")
    assert found == {"job.yaml:8: gpus_per_pod": ["Given twice (first on line 6)."]}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "job.yaml:1: a job spec is a mapping"),
        ("- name: x\n", "job.yaml:1: a job spec is a mapping"),
        ("name: x\n  bad: indent\n", "job.yaml:2: not valid YAML"),
        ("a: 1\n---\nb: 2\n", "job.yaml:2: not valid YAML"),
    ],
)
def test_what_is_not_a_mapping_is_refused_with_its_line(text, message):
    with pytest.raises(UsageError) as raised:
        spec_load("job.yaml", text)
    assert raised.value.message.startswith(message)


def test_the_server_s_field_names_point_back_at_the_spec_s_lines():
    spec = spec_load("job.yaml", VALID + "env:\n  SEED: 7\n")
    assert spec.locate("max_runtime_minutes") == "job.yaml:7: max_runtime"
    assert spec.locate("environment.SEED") == "job.yaml:9: env.SEED"
    assert spec.locate("environment") == "job.yaml:8: env"
    assert spec.locate("command.0") == "job.yaml:4: command.0"
    assert spec.locate("non_field_errors") == "job.yaml: non_field_errors"


def test_the_example_specs_in_the_docs_are_valid():
    from pathlib import Path

    examples = sorted((Path(__file__).parents[2] / "docs" / "examples").glob("*.yaml"))
    assert examples, "docs/examples/*.yaml"
    for path in examples:
        spec = spec_load(str(path))
        assert spec.request["command"] and spec.allocation


def test_it_sends_a_catalogue_environment_by_name():
    spec = spec_load(
        "job.yaml",
        VALID.replace("image: registry.example.kr/team/train:1.2", "environment: pytorch-2.5-cuda12.4"),
    )
    assert spec.request["environment_name"] == "pytorch-2.5-cuda12.4"
    assert "image" not in spec.request
    assert spec.locate("environment_name") == "job.yaml:3: environment"


def test_it_wants_an_environment_or_an_image_but_not_both():
    neither = problems(VALID.replace("image: registry.example.kr/team/train:1.2\n", ""))
    assert any("a catalogue environment" in message for message in neither["job.yaml: environment"])
    both = problems(VALID + "environment: pytorch-2.5-cuda12.4\n")
    assert both["job.yaml:3: image"] == ["Give `environment` (a catalogue name) or `image`, not both."]


def test_provider_and_region_narrow_where_the_job_runs_and_a_bad_region_points_at_its_line():
    spec = spec_load("job.yaml", VALID + "provider: South Cloud\nregion: non_capital\n")
    assert (spec.request["provider"], spec.request["region"]) == ("South Cloud", "non_capital")
    assert problems(VALID + "region: busan\n") == {"job.yaml:8: region": ["Choose capital or non_capital."]}


def test_status_shows_the_cluster_provider_and_region_a_job_runs_in():
    from datetime import UTC, datetime

    from gpugrant_cli.describe import status_fields

    job = {
        "state": "running",
        "provider": "South Cloud",
        "region": "",
        "cluster": {"name": "gwangju-a", "provider": "South Cloud", "region": "non_capital"},
    }
    fields = dict(status_fields(job, datetime.now(UTC)))
    assert fields["cluster"] == "gwangju-a (provider South Cloud, non_capital)"
    assert fields["pinned to"] == "South Cloud"
