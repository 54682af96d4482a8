"""What a command may touch: its streams, the environment, the clock, sleeping, and the API client.

Passed in rather than reached for, so tests can run a command in-process with their own clock and sleep.
"""

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TextIO

from gpugrant_cli.api import ApiClient
from gpugrant_cli.config import Credentials, config_path, credentials_resolve


@dataclass
class Runtime:
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    stdin: TextIO = field(default_factory=lambda: sys.stdin)
    environ: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    sleep: Callable[[float], None] = time.sleep
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    @property
    def config_file(self):
        return config_path(self.environ)

    def client(self, credentials: Credentials | None = None) -> ApiClient:
        credentials = credentials or credentials_resolve(self.environ, self.config_file)
        return ApiClient(credentials, sleep=self.sleep)
