"""How long to wait between polls: short while things change, longer while nothing does."""


class Backoff:
    def __init__(self, *, initial_s: float = 2.0, factor: float = 1.5, maximum_s: float = 30.0):
        self.initial_s = initial_s
        self.factor = factor
        self.maximum_s = maximum_s
        self._next_s = initial_s

    def next_wait(self, *, changed: bool) -> float:
        if changed:
            self._next_s = self.initial_s
        wait = self._next_s
        self._next_s = min(self._next_s * self.factor, self.maximum_s)
        return wait
