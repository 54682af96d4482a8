"""``environments``: the catalogue a job spec's ``environment`` names one of."""

from gpugrant_cli.errors import ExitCode
from gpugrant_cli.output import print_json, print_table
from gpugrant_cli.runtime import Runtime


def environments(args, runtime: Runtime) -> int:
    found = list(runtime.client().get_all("environments"))
    if args.json:
        print_json(runtime.stdout, found)
        return ExitCode.OK
    rows = [
        [e["name"], ", ".join(e.get("kinds", [])), e.get("cuda_version", ""), e.get("image", "")]
        for e in found
    ]
    print_table(
        runtime.stdout,
        ["NAME", "KINDS", "CUDA", "IMAGE"],
        rows,
        empty="The catalogue has no environments yet.",
    )
    return ExitCode.OK
