"""A call's statistics, the pure part (quotas/rounds/statistics.py): known figures for known applications,
the sector mapping, and the public suppression of small groups (known cases, and a property over random
calls: no withheld group can be had by subtraction)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.organisations.models import OrganisationType
from portal.providers.models import Region
from quotas.rounds.statistics import (
    FEWER_THAN_MINIMUM,
    NO_TRACK,
    PROTECTS_ANOTHER,
    SECTOR_OF_ORG_TYPE,
    ApplicationFacts,
    Figures,
    call_statistics,
    figures_of,
    public_statistics,
)


def app(org_type="sme", *, region="", track="", asked=100, gpus=1, awarded=None, allocated=0, used=0.0):
    """An application; ``awarded`` (GPU-hours) given means it was selected."""
    return ApplicationFacts(
        org_type=org_type,
        region=region,
        track=track,
        asked_gpu_hours=asked,
        gpus=gpus,
        selected=awarded is not None,
        awarded_gpu_hours=awarded or 0,
        allocated_gpu_hours=allocated,
        used_gpu_hours=used,
    )


# name → (applications, figures, selection ratio, utilisation)
FIGURES = {
    "none": ([], Figures(), None, None),
    "none selected": ([app(asked=300), app(asked=200)], Figures(2, 500), 0.0, None),
    "two of three, one without an allocation yet": (
        [
            app("sme", asked=1000, gpus=4, awarded=800, allocated=800, used=200.0),
            app("startup", asked=500, gpus=2, awarded=500),  # a round line awarded, no allocation yet
            app("university", asked=300, gpus=8),
        ],
        Figures(3, 1800, 2, 6, 1300, 800, 200.0),
        2 / 3,
        0.25,
    ),
    "an award used in full": (
        [app(asked=10, gpus=1, awarded=10, allocated=10, used=10.0)],
        Figures(1, 10, 1, 1, 10, 10, 10.0),
        1.0,
        1.0,
    ),
}


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_it_sums_each_figure(name):
    applications, wanted, ratio, utilisation = FIGURES[name]
    got = figures_of(applications)
    assert (got, got.selection_ratio, got.utilisation) == (wanted, ratio, utilisation)


def test_the_sector_mapping_names_every_organisation_type_once():
    assert set(SECTOR_OF_ORG_TYPE) == set(OrganisationType.values)
    assert SECTOR_OF_ORG_TYPE == {
        "university": "academia",
        "sme": "industry",
        "startup": "industry",
        "research_institute": "public_research",
        "public_institution": "public_research",
    }


def _applications(statistics, dimension):
    return {group.key: group.figures.applications for group in statistics.breakdowns[dimension]}


def test_it_breaks_the_call_down_by_sector_region_type_and_track():
    applications = [
        app("university", region="non_capital", track="small"),
        app("sme", region="capital", track="small"),
        app("startup", region="", track="large"),  # no region stated: the capital area
        app("research_institute", region="non_capital", track="large"),
        app("public_institution", region="capital", track="large"),
    ]
    statistics = call_statistics(applications, tracks=["small", "large"])
    assert statistics.total.figures.applications == 5
    assert _applications(statistics, "sector") == {"academia": 1, "industry": 2, "public_research": 2}
    assert _applications(statistics, "region") == {"capital": 3, "non_capital": 2}
    assert _applications(statistics, "org_type") == {
        "university": 1,
        "sme": 1,
        "startup": 1,
        "research_institute": 1,
        "public_institution": 1,
    }
    assert _applications(statistics, "track") == {"small": 2, "large": 3}
    assert set(Region.values) == set(_applications(statistics, "region"))


def test_it_names_empty_groups_and_gathers_applications_without_a_track():
    statistics = call_statistics([app("sme"), app("sme", track="small")], tracks=["small", "large"])
    assert _applications(statistics, "track") == {"small": 1, "large": 0, NO_TRACK: 1}
    assert _applications(statistics, "sector") == {"academia": 0, "industry": 2, "public_research": 0}
    assert _applications(call_statistics([app(track="small")], tracks=["small"]), "track") == {"small": 1}


# -- suppression -------------------------------------------------------------------------------------------


def withheld(statistics):
    return {(g.dimension, g.key): g.withheld for g in statistics.groups() if g.figures is None}


def many(count, org_type="sme", **fields):
    return [app(org_type, **fields) for _ in range(count)]


# name → (applications, tracks, withheld groups and why)
SUPPRESSION = {
    "no applications: nothing to hide": ([], [], {}),
    "every group large enough": (
        many(3, region="capital") + many(3, "university", region="non_capital"),
        [],
        {},
    ),
    "a call of two applications is withheld whole": (
        many(2),
        [],
        {
            ("total", ""): FEWER_THAN_MINIMUM,
            **{("sector", s): FEWER_THAN_MINIMUM for s in ("academia", "industry", "public_research")},
            ("region", "capital"): FEWER_THAN_MINIMUM,
            ("region", "non_capital"): FEWER_THAN_MINIMUM,
            **{("org_type", t): FEWER_THAN_MINIMUM for t in SECTOR_OF_ORG_TYPE},
            ("track", ""): FEWER_THAN_MINIMUM,
        },
    ),
    # 12 = 10 + 2: showing the 10 would give the 2 away by subtraction
    "a small region takes the other with it": (
        many(10, region="capital") + many(2, region="non_capital"),
        [],
        {("region", "non_capital"): FEWER_THAN_MINIMUM, ("region", "capital"): PROTECTS_ANOTHER},
    ),
    "of three tracks the smallest other one protects the small one": (
        many(5, track="a") + many(4, track="b") + many(1, track="c"),
        ["a", "b", "c"],
        {("track", "c"): FEWER_THAN_MINIMUM, ("track", "b"): PROTECTS_ANOTHER},
    ),
    # startups (2) are withheld; the sme's 5 would give them away from industry's 7, so they go too
    "a small type within its sector": (
        many(5, "sme") + many(2, "startup") + many(4, "university") + many(3, "research_institute"),
        [],
        {
            ("org_type", "startup"): FEWER_THAN_MINIMUM,
            ("org_type", "research_institute"): PROTECTS_ANOTHER,  # the smallest other type
            ("sector", "public_research"): PROTECTS_ANOTHER,  # it is research institutes alone
            ("sector", "academia"): PROTECTS_ANOTHER,  # the smallest other sector
            ("org_type", "university"): PROTECTS_ANOTHER,  # it is academia
            ("org_type", "sme"): PROTECTS_ANOTHER,  # with startups, it is industry
        },
    ),
    # docs/programme.md's example: every sector shown, and the universities
    "the documented call of 18": (
        many(4, "university")
        + many(6, "sme")
        + many(2, "startup")
        + many(3, "research_institute")
        + many(3, "public_institution"),
        [],
        {
            ("org_type", "startup"): FEWER_THAN_MINIMUM,
            ("org_type", "research_institute"): PROTECTS_ANOTHER,
            ("org_type", "public_institution"): PROTECTS_ANOTHER,
            ("org_type", "sme"): PROTECTS_ANOTHER,
        },
    ),
}


@pytest.mark.parametrize("name", sorted(SUPPRESSION))
def test_it_withholds_small_groups_and_those_that_would_give_them_away(name):
    applications, tracks, wanted = SUPPRESSION[name]
    full = call_statistics(applications, tracks=tracks)
    public = public_statistics(full)
    assert withheld(public) == wanted
    shown = {(g.dimension, g.key): g.figures for g in public.groups() if g.figures is not None}
    assert all(shown[cell] == g.figures for g in full.groups() if (cell := (g.dimension, g.key)) in shown)


FACTS = st.builds(
    ApplicationFacts,
    org_type=st.sampled_from(sorted(SECTOR_OF_ORG_TYPE)),
    region=st.sampled_from(["", "capital", "non_capital"]),
    track=st.sampled_from(["", "a", "b"]),
    asked_gpu_hours=st.integers(1, 1000),
    gpus=st.integers(1, 8),
    selected=st.booleans(),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(FACTS, max_size=30))
def test_no_withheld_group_can_be_worked_out_by_subtraction(applications):
    full = call_statistics(applications, tracks=["a", "b"])
    public = public_statistics(full)
    hidden = {(g.dimension, g.key) for g in public.groups() if g.figures is None}
    counts = {(g.dimension, g.key): g.figures.applications for g in full.groups()}
    assert all(cell in hidden for cell, count in counts.items() if 0 < count < 3)
    equations = [
        (("total", ""), [(g.dimension, g.key) for g in groups]) for groups in full.breakdowns.values()
    ]
    for sector in ("academia", "industry", "public_research"):
        types = [("org_type", t) for t, s in SECTOR_OF_ORG_TYPE.items() if s == sector]
        equations.append((("sector", sector), types))
    for parent, children in equations:
        assert sum(cell in hidden for cell in [parent, *children]) != 1, (parent, hidden)
