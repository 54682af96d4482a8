"""``providers``: the cloud providers the programme rents GPUs from, with their regions and GPU types."""

from gpugrant_cli.errors import ExitCode
from gpugrant_cli.output import print_json, print_table
from gpugrant_cli.runtime import Runtime


def providers(args, runtime: Runtime) -> int:
    found = list(runtime.client().get_all("providers"))
    if args.json:
        print_json(runtime.stdout, found)
        return ExitCode.OK
    rows = [[p["name"], ", ".join(p.get("regions", [])), ", ".join(p.get("gpu_types", []))] for p in found]
    print_table(
        runtime.stdout, ["PROVIDER", "REGIONS", "GPU TYPES"], rows, empty="No provider is in service."
    )
    return ExitCode.OK
