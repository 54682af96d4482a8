"""Job scheduling: the pure planning core (scheduler/core); jobs, backends and the cycle come next."""
