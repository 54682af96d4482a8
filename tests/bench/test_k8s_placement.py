"""The placement benchmark's own rules: the workload it builds and how it counts (bench/k8s_placement.py)."""

import pytest

from bench.k8s_placement import JobShape, _placement_counts, workload
from bench.report import placement_targets


@pytest.mark.parametrize("nodes", [10, 100, 250])
def test_the_workload_fills_the_cluster_exactly_with_singles_and_gangs_of_whole_nodes(nodes):
    jobs = workload(nodes)

    assert sum(job.pods * job.gpus_per_pod for job in jobs) == nodes * 8
    assert {(job.pods, job.gpus_per_pod) for job in jobs} == {(1, 1), (2, 8), (4, 8)}
    assert len({job.name for job in jobs}) == len(jobs)


def test_the_workload_is_the_same_for_the_same_seed_and_shuffled():
    assert workload(100) == workload(100)
    assert workload(100) != workload(100, seed=8)
    first_gang = next(i for i, job in enumerate(workload(100)) if job.pods > 1)
    assert first_gang < 20  # gangs are mixed in, not all at the end


@pytest.mark.parametrize(
    ("bound", "expected"),
    [
        (set(), (0, 0)),
        ({"s-0"}, (0, 1)),
        ({"s-0", "g-0", "g-1"}, (0, 2)),
        ({"g-0"}, (1, 0)),
        ({"s-0", "g-1", "h-2"}, (2, 1)),
    ],
)
def test_a_gang_with_some_but_not_all_pods_bound_is_half_placed(bound, expected):
    jobs = [JobShape("s", 1, 1), JobShape("g", 2, 8), JobShape("h", 4, 8)]

    counts = _placement_counts(jobs, bound, lambda job: [f"{job.name}-{r}" for r in range(job.pods)])

    assert counts == expected


def _summary(pods, scheduler_pods, admissions, kueue_admissions, jobs, kueue_jobs, half=0):
    return {
        "gpugrant": {
            "median_pods_per_second": pods,
            "median_admissions_per_second": admissions,
            "median_jobs_per_second": jobs,
            "max_half_placed_gangs": half,
        },
        "kube-scheduler": {"median_pods_per_second": scheduler_pods},
        "kueue": {"median_admissions_per_second": kueue_admissions, "median_jobs_per_second": kueue_jobs},
    }


@pytest.mark.parametrize(
    ("summary", "met"),
    [
        (_summary(200, 190, 1000, 30, 160, 12), [True, True, True, True, True]),
        (_summary(180, 190, 1000, 30, 160, 12), [False, True, True, True, True]),
        (_summary(200, 190, 140, 30, 160, 12), [True, False, True, True, True]),
        (_summary(200, 190, 1000, 30, 55, 12), [True, True, False, False, True]),
        (_summary(200, 190, 1000, 40, 140, 12), [True, True, True, False, True]),
        (_summary(200, 190, 1000, 30, 160, 12, half=1), [True, True, True, True, False]),
    ],
)
def test_the_targets_compare_pods_with_kube_scheduler_and_admissions_and_placements_with_kueue(summary, met):
    assert [target[-1] for target in placement_targets(summary)] == met
