"""``usage``: GPU-hours used against awarded, per allocation and GPU type, with the energy metered."""

from collections import defaultdict

from gpugrant_cli.allocations import allocation_resolve
from gpugrant_cli.errors import ExitCode
from gpugrant_cli.output import format_hours, print_json, print_table
from gpugrant_cli.runtime import Runtime


def usage(args, runtime: Runtime) -> int:
    client = runtime.client()
    if args.allocation:
        allocation_id = allocation_resolve(client, args.allocation, active_only=False)
        allocations = [client.get(f"allocations/{allocation_id}")]
    else:
        allocations = list(client.get_all("allocations", {"status": args.status}))

    rows, simulated = [], False
    for allocation in allocations:
        # Balances come from the ledger; energy only from usage records, per month and GPU type.
        report = client.get(f"allocations/{allocation['id']}/usage")
        simulated = simulated or bool(report.get("summary", {}).get("simulated"))
        energy = defaultdict(float)
        for month in report.get("months", []):
            energy[month.get("gpu_type")] += float(month.get("energy_kwh") or 0)
        for balance in allocation.get("gpu_types", []):
            awarded = float(balance.get("awarded_gpu_hours") or 0)
            used = float(balance.get("used_gpu_hours") or 0)
            rows.append(
                {
                    "allocation": allocation["id"],
                    "project_title": allocation.get("project_title", ""),
                    "status": allocation.get("status", ""),
                    "ends_on": allocation.get("ends_on"),
                    "gpu_type": balance.get("gpu_type"),
                    "awarded_gpu_hours": awarded,
                    "used_gpu_hours": used,
                    "held_gpu_hours": float(balance.get("held_gpu_hours") or 0),
                    "remaining_gpu_hours": float(balance.get("remaining_gpu_hours") or 0),
                    "used_pct": round(used / awarded * 100, 1) if awarded else 0.0,
                    "energy_kwh": round(energy.get(balance.get("gpu_type"), 0.0), 4),
                }
            )
    if args.json:
        print_json(runtime.stdout, rows)
        return ExitCode.OK
    print_table(
        runtime.stdout,
        [
            "ALLOCATION",
            "PROJECT",
            "GPU",
            "USED h",
            "AWARDED h",
            "USED",
            "HELD h",
            "REMAINING h",
            "ENERGY kWh",
        ],
        [
            [
                row["allocation"],
                _clip(row["project_title"], 32),
                row["gpu_type"],
                format_hours(row["used_gpu_hours"]),
                format_hours(row["awarded_gpu_hours"]),
                f"{row['used_pct']:.1f} %",
                format_hours(row["held_gpu_hours"]),
                format_hours(row["remaining_gpu_hours"]),
                f"{row['energy_kwh']:.3f}",
            ]
            for row in rows
        ],
        empty="No allocations" + (f" with status {args.status}." if args.status else " yet."),
    )
    if simulated:
        runtime.stdout.write("Some energy was measured on simulated GPUs and is illustrative only.\n")
    return ExitCode.OK


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
