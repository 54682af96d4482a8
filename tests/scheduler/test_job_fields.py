"""A job's field limits and defaults are defined once (scheduler.job_fields): the API's JobIn, the portal's
JobForm, the Job model and the submit service's validation all follow that definition."""

import pytest
from django.conf import settings

from portal.api.serializers.jobs import JobIn
from portal.web.forms.jobs import JobForm
from quotas.models import Allocation
from scheduler import job_fields
from scheduler.models import BATCH_KINDS, Job, JobPriority
from scheduler.validation import job_content_errors

VALID = dict(
    name="train",
    kind="training",
    image="registry.example.kr/team/train:1.2",
    command=["python", "train.py"],
    environment={},
    gpus_per_pod=1,
    pods=1,
    max_runtime_minutes=60,
    priority="normal",
)


def test_the_api_takes_the_submitted_fields_with_their_limits_and_defaults():
    fields = JobIn().fields
    assert [name for name in fields if name != "allocation"] == list(job_fields.SUBMITTED_FIELDS)
    assert fields["name"].max_length == job_fields.NAME_MAX_LENGTH
    assert fields["environment_name"].max_length == job_fields.ENVIRONMENT_NAME_MAX_LENGTH
    assert fields["image"].max_length == job_fields.IMAGE_MAX_LENGTH
    assert fields["gpu_type"].max_length == job_fields.GPU_TYPE_MAX_LENGTH
    assert fields["command"].max_length == job_fields.COMMAND_MAX_ARGUMENTS
    assert fields["command"].child.max_length == job_fields.ARGUMENT_MAX_LENGTH
    assert fields["environment"].child.max_length == job_fields.ARGUMENT_MAX_LENGTH
    assert (fields["gpus_per_pod"].min_value, fields["gpus_per_pod"].max_value) == (
        1,
        job_fields.MAX_GPUS_PER_POD,
    )
    assert (fields["pods"].max_value, fields["pods"].default) == (
        job_fields.MAX_PODS,
        job_fields.DEFAULT_PODS,
    )
    assert fields["max_runtime_minutes"].min_value == job_fields.MIN_RUNTIME_MINUTES
    assert fields["max_runtime_minutes"].max_value == settings.GPUGRANT_MAX_RUNTIME_MINUTES
    assert list(fields["kind"].choices) == [kind.value for kind in BATCH_KINDS]  # sessions launch apart
    assert list(fields["priority"].choices) == JobPriority.values
    assert fields["priority"].default == job_fields.DEFAULT_PRIORITY


@pytest.mark.django_db
def test_the_form_offers_what_the_api_takes(staff):
    api = JobIn().fields
    form = JobForm(user=staff, allocations=Allocation.objects.none())
    fields = form.fields
    assert set(job_fields.SUBMITTED_FIELDS) <= set(fields)
    assert int(fields["name"].widget.attrs["maxlength"]) == api["name"].max_length
    assert int(fields["image"].widget.attrs["maxlength"]) == api["image"].max_length
    for name in ("gpus_per_pod", "pods", "max_runtime_minutes"):
        bounds = (fields[name].widget.attrs["min"], fields[name].widget.attrs["max"])
        assert bounds == (api[name].min_value, api[name].max_value), name
    assert fields["pods"].initial == api["pods"].default
    assert fields["priority"].initial == api["priority"].default
    assert [value for value, _ in fields["kind"].choices] == list(api["kind"].choices)
    assert [value for value, _ in fields["priority"].choices] == list(api["priority"].choices)


def test_the_model_stores_what_the_definition_allows():
    column = {field.name: field for field in Job._meta.get_fields()}
    assert column["name"].max_length == job_fields.NAME_MAX_LENGTH
    assert column["image"].max_length == job_fields.IMAGE_MAX_LENGTH
    assert column["environment_name"].max_length == job_fields.ENVIRONMENT_NAME_MAX_LENGTH
    assert column["gpu_type"].max_length == job_fields.GPU_TYPE_MAX_LENGTH
    assert (column["pods"].default, column["priority"].default) == (
        job_fields.DEFAULT_PODS,
        job_fields.DEFAULT_PRIORITY,
    )


@pytest.mark.parametrize(
    ("field", "most", "too_many"),
    [
        ("name", "n" * job_fields.NAME_MAX_LENGTH, "n" * (job_fields.NAME_MAX_LENGTH + 1)),
        ("command", ["x"] * job_fields.COMMAND_MAX_ARGUMENTS, ["x"] * (job_fields.COMMAND_MAX_ARGUMENTS + 1)),
        ("command", ["x" * job_fields.ARGUMENT_MAX_LENGTH], ["x" * (job_fields.ARGUMENT_MAX_LENGTH + 1)]),
        (
            "environment",
            {f"V{i}": "" for i in range(job_fields.ENVIRONMENT_MAX_VARIABLES)},
            {f"V{i}": "" for i in range(job_fields.ENVIRONMENT_MAX_VARIABLES + 1)},
        ),
        ("gpus_per_pod", job_fields.MAX_GPUS_PER_POD, job_fields.MAX_GPUS_PER_POD + 1),
        ("pods", job_fields.MAX_PODS, job_fields.MAX_PODS + 1),
        (
            "max_runtime_minutes",
            settings.GPUGRANT_MAX_RUNTIME_MINUTES,
            settings.GPUGRANT_MAX_RUNTIME_MINUTES + 1,
        ),
    ],
)
def test_the_service_validates_up_to_the_defined_limits(field, most, too_many):
    assert job_content_errors(**{**VALID, field: most}) == {}
    assert list(job_content_errors(**{**VALID, field: too_many})) == [field]
