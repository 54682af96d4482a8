"""Submitting jobs and checking the GPU invariant in scheduler tests."""

from scheduler.models import Gpu, Job
from scheduler.services import job_submit
from scheduler.states import ACTIVE
from tests.builders import allowing_custom_images


def submit(
    user, allocation, *, gpus_per_pod=1, pods=1, minutes=60, gpu_type="A100", priority="normal", name="job"
):
    return job_submit(
        user=user,
        allocation=allowing_custom_images(allocation),
        name=name,
        kind="training",
        image="python:3.11",
        command=["python", "-c", "print(1)"],
        gpu_type=gpu_type,
        gpus_per_pod=gpus_per_pod,
        pods=pods,
        max_runtime_minutes=minutes,
        priority=priority,
    )


def assert_no_gpu_double_booked() -> int:
    """Every active job holds exactly the GPUs its placement names, and no other job holds them."""
    claimed = {
        (node, index): job
        for node, index, job in Gpu.objects.filter(job__isnull=False).values_list(
            "node__name", "index", "job_id"
        )
    }
    total = 0
    for job in Job.objects.filter(state__in=list(ACTIVE)):
        wanted = {(pod["node"], gpu) for pod in job.placement for gpu in pod["gpus"]}
        assert len(wanted) == job.gpus, f"job {job.pk} placement has {len(wanted)} GPUs, needs {job.gpus}"
        for gpu in wanted:
            assert claimed.get(gpu) == job.pk, f"GPU {gpu} of job {job.pk} is held by {claimed.get(gpu)}"
        total += len(wanted)
    assert total == len(claimed), "a GPU is claimed by a job that is not active"
    return total
