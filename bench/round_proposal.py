"""Benchmark: ranking and proposing one allocation round (issue 17; docs/benchmarks.md, section 9).

    .venv/bin/python -m bench.round_proposal [--applications 500] [--repeat 5] [--json OUT]
        [--database postgres://postgres@127.0.0.1:5432/gpugrant]

A seeded round shaped like the March 2026 round the issue cites (514 applications asking for about
three times what can be awarded): each application scored by three of twenty reviewers (some strict,
some lenient) on four criteria, four pools (two tracks × H100 and H200), sector shares (universities
40 %, SMEs 20 %, research institutes 5 %), a 20 % regional share, at most two awards and 50,000
GPU-hours per organisation. Times the pure core only (quotas.rounds: ranking, then proposal): medians
of ``--repeat`` runs in this process. No rule gives the proposal information staff would not have.

With ``--database``, also the whole service staff call from the portal (quotas.round.round_propose: the
reviews read from PostgreSQL, ranked, proposed, the lines written) on a round that ``manage.py
seed_round`` builds in its own database (<name>_rounds_bench, created, migrated and emptied): medians of
``--repeat`` proposals of the same round.
"""

import argparse
import json
import random
import statistics
import sys
import time

from quotas.rounds.proposal import Candidate, Levers, propose
from quotas.rounds.ranking import Score, rank

SECTORS = (
    ("university", 0.5),
    ("sme", 0.25),
    ("startup", 0.1),
    ("research_institute", 0.1),
    ("public_institution", 0.05),
)
POOLS = {
    ("small", "H100"): 150_000,
    ("large", "H100"): 900_000,
    ("small", "H200"): 100_000,
    ("large", "H200"): 600_000,
}
CRITERIA = {"technical_merit": 0.3, "feasibility": 0.2, "impact": 0.3, "need_for_public_compute": 0.2}


def seeded_round(applications: int, seed: int = 7):
    rng = random.Random(seed)
    strictness = {f"r{i:02d}": rng.uniform(-2, 2) for i in range(20)}
    candidates, scores = [], []
    for i in range(applications):
        app = f"app-{i:04d}"
        sector = rng.choices([s for s, _ in SECTORS], [w for _, w in SECTORS])[0]
        track, gpu = rng.choice(list(POOLS))
        hours = rng.choice([500, 1000, 2000, 4000]) if track == "small" else rng.choice([8000, 16000, 32000])
        quality = rng.gauss(6, 1.5)
        for reviewer in rng.sample(sorted(strictness), 3):
            scores.append(
                Score(
                    reviewer,
                    app,
                    {
                        c: max(1, min(10, round(quality + strictness[reviewer] + rng.gauss(0, 1))))
                        for c in CRITERIA
                    },
                )
            )
        candidates.append(
            (app, f"org-{rng.randrange(applications // 2)}", sector, rng.random() < 0.55, track, gpu, hours)
        )
    return candidates, scores


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--applications", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json")
    parser.add_argument("--database", help="also time the service on PostgreSQL (a URL; see above)")
    args = parser.parse_args(argv)
    rows, scores = seeded_round(args.applications)
    levers = Levers(
        pools=POOLS,
        sector_shares={"university": 0.4, "sme": 0.2, "research_institute": 0.05},
        regional_share=0.2,
        max_hours_per_org=50_000,
        max_awards_per_org=2,
    )
    timings, result = [], None
    for _ in range(args.repeat):
        started = time.perf_counter()
        ranked = rank(scores, CRITERIA)
        position = {r.application: r.position for r in ranked}
        candidates = [Candidate(*row, position[row[0]]) for row in rows]
        lines = propose(candidates, levers)
        timings.append(time.perf_counter() - started)
        result = lines
    awarded = [line for line in result if line.decision == "award"]
    reasons: dict[str, int] = {}
    for line in result:
        reasons[line.reason] = reasons.get(line.reason, 0) + 1
    report = {
        "applications": args.applications,
        "asked_gpu_hours": sum(row[6] for row in rows),
        "pool_gpu_hours": sum(POOLS.values()),
        "awarded": len(awarded),
        "awarded_gpu_hours": sum(line.gpu_hours for line in awarded),
        "reasons": reasons,
        "median_seconds": round(statistics.median(timings), 4),
        "max_seconds": round(max(timings), 4),
        "repeat": args.repeat,
    }
    if args.database:
        report |= service_timings(args.database, args.applications, args.repeat)
    print(json.dumps(report))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
    return 0


def service_timings(database_url: str, applications: int, repeat: int) -> dict:
    from bench.burst import setup_django

    setup_django(database_url, "_rounds_bench")
    from portal.web.round_seed import seed_round
    from quotas.round import round_propose

    started = time.perf_counter()
    seeded = seed_round(applications_count=applications, seed=7, tag="bench")
    seeding = time.perf_counter() - started
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        the_round = round_propose(staff=seeded.staff, call=seeded.call)
        timings.append(time.perf_counter() - started)
    lines = list(the_round.lines.all())
    return {
        "service_median_seconds": round(statistics.median(timings), 4),
        "service_max_seconds": round(max(timings), 4),
        "service_awarded": sum(1 for line in lines if line.decision == "award"),
        "service_lines": len(lines),
        "seed_seconds": round(seeding, 1),
    }


if __name__ == "__main__":
    sys.exit(main())
