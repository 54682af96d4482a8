"""Where the examples write by default: under $GPUGRANT_WORKDIR when set, else the current folder.

A job's working folder may be read-only or thrown away between runs, so jobs should pass explicit
paths on storage that outlives them, or use $GPUGRANT_CHECKPOINT_DIR where the node gives the job a
folder of its own that outlives its runs (the local backend does: /job/checkpoints in its sandbox).
"""

import os
from pathlib import Path


def default_base() -> Path:
    return Path(os.environ.get("GPUGRANT_WORKDIR") or ".")


def default_checkpoint_dir() -> Path:
    """$GPUGRANT_CHECKPOINT_DIR when set, else checkpoints under default_base()."""
    return Path(os.environ.get("GPUGRANT_CHECKPOINT_DIR") or default_base() / "checkpoints")
