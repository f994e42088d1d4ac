"""Clocks for the few places that need 'now' (sweeps, timers): injectable, so tests set time.

Event handling never asks a clock: it uses the event's own timestamp (design.md §4).
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now_ms(self) -> int: ...

    def real_seconds(self, ms: float) -> float:
        """How long to sleep, in real seconds, for ``ms`` of this clock's time to pass."""
        ...


class SystemClock:
    """Wall-clock time."""

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000

    def real_seconds(self, ms: float) -> float:
        return ms / 1000


class ManualClock:
    """A clock that only moves when told to."""

    def __init__(self, start_ms: int = 0) -> None:
        self._now_ms = start_ms

    def now_ms(self) -> int:
        return self._now_ms

    def real_seconds(self, ms: float) -> float:
        return ms / 1000  # it never moves by itself: sleep as a wall clock would, then look

    def set(self, now_ms: int) -> None:
        self._now_ms = now_ms

    def advance(self, *, seconds: float = 0, ms: int = 0) -> None:
        self._now_ms += ms + int(seconds * 1000)


class SimulatedClock:
    """Simulated time = anchor + speed × real time since the anchor (demos, soak tests).

    The sandbox's own clock follows the same formula; re-anchor both at the same moment
    (``anchor``) and they agree to within the time it takes to tell the sandbox.
    """

    def __init__(self, *, start_ms: int, speed: float = 1.0) -> None:
        self.anchor(start_ms=start_ms, speed=speed)

    def anchor(self, *, start_ms: int, speed: float) -> None:
        if speed < 0:
            raise ValueError(f"speed must be ≥ 0, got {speed}")
        self._start_ms = start_ms
        self._speed = speed
        self._real_start = time.monotonic()

    @property
    def speed(self) -> float:
        return self._speed

    def now_ms(self) -> int:
        return self._start_ms + int((time.monotonic() - self._real_start) * 1000 * self._speed)

    def real_seconds(self, ms: float) -> float:
        # At 120x a 6 s pair gap passes in 50 real ms. Stood still (speed 0), time never gets
        # there: wait as a wall clock would, then look again.
        return ms / 1000 / self._speed if self._speed > 0 else ms / 1000
