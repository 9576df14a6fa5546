"""Reconnect delays: exponential, bounded, with jitter so that clients do not reconnect in step."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Backoff:
    """Seconds: the first delay before jitter, the longest, and the growth per failed attempt."""

    initial: float = 0.25
    maximum: float = 15.0
    factor: float = 2.0

    def delay(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """The wait before attempt ``attempt`` (0 first): a random point in the upper half of the
        exponential delay ("equal jitter"), never over ``maximum``."""
        initial = max(0.001, self.initial)
        maximum = max(initial, self.maximum)
        exponent = min(max(0, attempt), 32)
        ceiling = min(maximum, initial * max(1.0, self.factor) ** exponent)
        return ceiling / 2 + ceiling / 2 * rand()
