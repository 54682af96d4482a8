"""Where the examples write by default: under $GPUGRANT_WORKDIR when set, else the current folder.

A job's working folder may be read-only or thrown away between runs, so jobs should pass explicit
paths on storage that outlives them.
"""

import os
from pathlib import Path


def default_base() -> Path:
    return Path(os.environ.get("GPUGRANT_WORKDIR") or ".")
