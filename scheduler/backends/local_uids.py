"""One host uid per running job, never shared with another running job, never root.

Leases are files, ``FOLDER/<uid>`` = {"job_id", "run"}, taken under an exclusive flock on
``FOLDER/lock``, so that the Celery workers (and threads) binding at once each get a different uid.
There is no release step that a crash could skip: a lease is taken over only when its run no longer
uses it (the backend's ``in_use``) and no process of that uid is left anywhere on the host; a uid of
the range that some process runs as is never handed out, leased or not.
"""

import fcntl
import os
from collections.abc import Callable
from pathlib import Path

from workers.local_layout import read_json, write_json_atomic


class NoFreeUid(Exception):
    pass


class UidLeases:
    def __init__(self, folder: Path, first: int, count: int):
        if first <= 0 or count <= 0:
            raise ValueError("job uids must be a non-empty range above 0 (root)")
        self.folder = Path(folder)
        self.first = first
        self.count = count

    def acquire(self, job_id: str, run: str, in_use: Callable[[dict], bool]) -> int:
        """A uid of the range for ``run`` of ``job_id``; ``in_use(lease)`` says whether a lease's run still needs it."""
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(self.folder / "lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                taken = self._taken(in_use)
                for uid in range(self.first, self.first + self.count):
                    if uid not in taken:
                        write_json_atomic(self.folder / str(uid), {"job_id": job_id, "run": run})
                        return uid
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
        raise NoFreeUid(
            f"all {self.count} job uids ({self.first}–{self.first + self.count - 1}) are in use by running jobs"
        )

    def _taken(self, in_use: Callable[[dict], bool]) -> set[int]:
        """Uids leased to a run that still uses them, and any uid of the range that some process runs as."""
        live = live_uids()
        taken = {uid for uid in live if self.first <= uid < self.first + self.count}
        for entry in os.scandir(self.folder):
            if entry.name.isdigit() and int(entry.name) not in taken:
                lease = read_json(Path(entry.path))
                if lease is not None and in_use(lease):
                    taken.add(int(entry.name))
        return taken


def live_uids() -> set[int]:
    """Every uid (real, effective, saved or filesystem) that some process on this host runs as."""
    uids = set()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/status") as status:
                for line in status:
                    if line.startswith("Uid:"):
                        uids.update(int(value) for value in line.split()[1:])
                        break
        except OSError:
            continue  # it ended while we looked
    return uids
