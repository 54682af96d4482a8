"""A call's statistics read from the database (quotas/statistics.py): which applications count, which
are selected, every figure for a known call, and a fixed number of queries whatever the call's size."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from portal.applications.models import Application
from portal.calls.models import Track
from quotas.models import Allocation, AllocationBudget, AllocationRound, AllocationStatus, RoundLine
from quotas.rounds.statistics import Figures
from quotas.statistics import call_statistics_of
from tests import builders

pytestmark = pytest.mark.django_db


def awarded_by_line(application, staff, gpu_hours, position=1):
    """An application awarded in the call's round, its allocation not made yet."""
    round_, _ = AllocationRound.objects.get_or_create(
        call=application.call, defaults={"proposed_by": staff, "inputs_digest": "0" * 64}
    )
    values = dict(position=position, score=4.0, gpu_type="A100", asked_gpu_hours=gpu_hours, reason="awarded")
    return RoundLine.objects.create(
        round=round_,
        application=application,
        proposed_decision="award",
        proposed_gpu_hours=gpu_hours,
        decision="award",
        gpu_hours=gpu_hours,
        outcome="awarded",
        **values,
    )


@pytest.fixture
def known_call(call, staff, reviewer):
    """Four applications that count (two selected), one draft and one change request that do not."""
    sme_owner, uni_owner, startup_owner = (builders.make_user() for _ in range(3))
    sme = builders.make_org(sme_owner, org_type="sme", region="capital", staff=staff)
    university = builders.make_org(uni_owner, org_type="university", region="non_capital", staff=staff)
    startup = builders.make_org(startup_owner, org_type="startup", staff=staff)  # region not stated

    used = builders.approved(
        sme_owner, sme, call, staff, reviewer, gpu_requests={"A100": 1000}, max_concurrent_gpus=4
    )
    AllocationBudget.objects.filter(allocation=used).update(used_gpu_seconds=250 * 3600)
    lapsed = builders.approved(
        uni_owner,
        university,
        call,
        staff,
        reviewer,
        gpu_requests={"A100": 2000, "H100": 500},
        max_concurrent_gpus=8,
    )
    Allocation.objects.filter(pk=lapsed.pk).update(status=AllocationStatus.LAPSED)
    by_line = builders.submitted(
        builders.make_application(
            startup_owner, startup, call, gpu_requests={"A100": 600}, max_concurrent_gpus=2
        ),
        startup_owner,
    )
    awarded_by_line(by_line, staff, 500)
    builders.submitted(
        builders.make_application(uni_owner, university, call, gpu_requests={"H100": 300}), uni_owner
    )
    builders.make_application(sme_owner, sme, call, gpu_requests={"A100": 9999})  # a draft
    builders.change_request_ready(sme_owner, used, staff, reviewer, gpu_requests={"A100": 7777})
    # the tracks come after the applications: a call with tracks requires every application to choose one
    small = Track.objects.create(
        call=call, code="small", name="1-4 GPUs", min_gpus=1, max_gpus=4, max_days=180
    )
    large = Track.objects.create(call=call, code="large", name="8 GPUs", min_gpus=8, max_gpus=8, max_days=365)
    Application.objects.filter(pk=used.application_id).update(track=small)
    Application.objects.filter(pk=lapsed.application_id).update(track=large)
    return call


def by_group(statistics, dimension):
    return {group.key: group.figures for group in statistics.breakdowns[dimension]}


def test_it_counts_every_figure_of_a_known_call(known_call):
    statistics, track_names = call_statistics_of(known_call)
    total = statistics.total.figures
    assert total == Figures(
        applications=4,
        asked_gpu_hours=1000 + 2500 + 600 + 300,
        selected=2,
        awarded_gpus=4 + 2,
        awarded_gpu_hours=1000 + 500,
        allocated_gpu_hours=1000,
        used_gpu_hours=250.0,
    )
    assert (total.selection_ratio, total.utilisation) == (0.5, 0.25)
    assert track_names == {"small": "1-4 GPUs", "large": "8 GPUs"}

    sectors = by_group(statistics, "sector")
    assert sectors["industry"] == Figures(2, 1600, 2, 6, 1500, 1000, 250.0)
    assert sectors["academia"] == Figures(2, 2800, 0, 0, 0, 0, 0.0)
    assert sectors["public_research"] == Figures()
    regions = by_group(statistics, "region")  # the startup stated none: counted as the capital area
    assert (regions["capital"].applications, regions["capital"].selected) == (2, 2)
    assert (regions["non_capital"].applications, regions["non_capital"].selected) == (2, 0)
    types = by_group(statistics, "org_type")
    assert {key: figures.applications for key, figures in types.items()} == {
        "university": 2,
        "sme": 1,
        "startup": 1,
        "research_institute": 0,
        "public_institution": 0,
    }
    assert types["startup"].awarded_gpu_hours == 500 and types["startup"].utilisation is None
    tracks = by_group(statistics, "track")
    assert {key: figures.applications for key, figures in tracks.items()} == {"small": 1, "large": 1, "": 2}
    assert tracks["small"].utilisation == 0.25 and tracks["large"].selection_ratio == 0.0


def test_an_empty_call_has_no_ratios(call):
    statistics, _ = call_statistics_of(call)
    assert statistics.total.figures == Figures()
    assert statistics.total.figures.selection_ratio is None and statistics.total.figures.utilisation is None


def _queries(call) -> int:
    with CaptureQueriesContext(connection) as queries:
        call_statistics_of(call)
    return len(queries)


def test_it_reads_in_the_same_few_queries_whatever_the_number_of_applications(call, staff, reviewer):
    owner = builders.make_user()
    organisation = builders.make_org(owner, staff=staff)

    def add(count):
        for _ in range(count):
            builders.approved(
                owner, organisation, call, staff, reviewer, gpu_requests={"A100": 10, "H100": 10}
            )
            builders.submitted(builders.make_application(owner, organisation, call), owner)

    add(2)
    few = _queries(call)
    add(10)
    assert call_statistics_of(call)[0].total.figures.applications == 24
    assert _queries(call) == few <= 4
