"""Cut a window out of a trace in the Philly format, so the replay can be checked on other weeks.

    python -m bench.trace_slice --trace ../shared/traces/philly/philly_jobs_full.csv \\
        --start 2017-11-06 --days 7 --out /tmp/philly_week_2017-11-06.csv

Keeps the jobs submitted in [start, start + days), re-bases ``submit_s`` on the window's start and
renumbers ``job_id`` from 0, as the shipped week and day slices are.
"""

import argparse
import csv
import sys
from datetime import datetime, timedelta


def slice_rows(rows, start: datetime, days: float) -> list[dict]:
    end = start + timedelta(days=days)
    kept = [row for row in rows if start <= datetime.fromisoformat(row["submit_time"]) < end]
    out = []
    for number, row in enumerate(kept):
        offset = (datetime.fromisoformat(row["submit_time"]) - start).total_seconds()
        out.append({**row, "job_id": str(number), "submit_s": str(int(offset))})
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trace", required=True)
    parser.add_argument("--start", required=True, help="window start, ISO date or date-time")
    parser.add_argument("--days", type=float, default=7.0)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    with open(args.trace, newline="") as f:
        reader = csv.DictReader(f)
        fields = reader.fieldnames
        rows = slice_rows(reader, datetime.fromisoformat(args.start), args.days)
    if not rows:
        print(f"no jobs submitted in that window of {args.trace}", file=sys.stderr)
        return 1
    with open(args.out, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    print(f"{len(rows)} jobs → {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
