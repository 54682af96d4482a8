"""A scripted stand-in for a machine's GPUs, for tests: each read returns the next scripted reading or raises."""

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

from workers.metering.device import DeviceError, GpuDevices, GpuInfo, GpuReading


class ScriptExhausted(AssertionError):
    """A test read a GPU more often than its script allows."""


class ScriptedDevices(GpuDevices):
    """Per GPU, a list of readings or exceptions, returned (or raised) in order by successive reads.

    ``reads`` counts reads per UUID and ``reinitialisations`` counts calls to ``reinitialise``.
    """

    def __init__(
        self,
        script: Mapping[str, Sequence[GpuReading | Exception]],
        *,
        gpus: Iterable[GpuInfo] | None = None,
    ) -> None:
        self._script = {uuid: list(steps) for uuid, steps in script.items()}
        self._gpus = (
            list(gpus)
            if gpus is not None
            else [GpuInfo(uuid=uuid, index=index, name="Scripted GPU") for index, uuid in enumerate(script)]
        )
        self.reads: Counter[str] = Counter()
        self.reinitialisations = 0

    def gpus(self) -> list[GpuInfo]:
        return list(self._gpus)

    def read(self, uuid: str) -> GpuReading:
        if uuid not in self._script:
            raise DeviceError(f"no GPU {uuid} in the script")
        steps = self._script[uuid]
        position = self.reads[uuid]
        self.reads[uuid] += 1
        if position >= len(steps):
            raise ScriptExhausted(f"{uuid} read {position + 1} times; the script has {len(steps)} steps")
        step = steps[position]
        if isinstance(step, Exception):
            raise step
        return step

    def reinitialise(self) -> None:
        self.reinitialisations += 1

    def remaining(self, uuid: str) -> int:
        """Scripted steps not read yet."""
        return len(self._script[uuid]) - self.reads[uuid]
