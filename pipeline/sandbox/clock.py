"""An accelerated, settable clock: simulated time = start + speed × real time elapsed.

Everything the sandbox decides (rate limits, service windows, when a customer reads) reads
this clock, so a demo can run a simulated day in a minute and a test can freeze time
(``speed=0``) and move it by hand with :meth:`SandboxClock.advance`.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class SandboxClock:
    """Simulated Unix seconds; listeners hear about jumps so waiting tasks wake up."""

    def __init__(
        self,
        *,
        start_s: float | None = None,
        speed: float = 1.0,
        real_s: Callable[[], float] = time.monotonic,
    ) -> None:
        if speed < 0:
            raise ValueError("clock speed must be >= 0")
        self._real_s = real_s
        self._base_sim_s = time.time() if start_s is None else start_s
        self._base_real_s = real_s()
        self._speed = speed
        self._listeners: list[Callable[[], None]] = []

    @property
    def speed(self) -> float:
        return self._speed

    def now_s(self) -> float:
        return self._base_sim_s + self._speed * (self._real_s() - self._base_real_s)

    def real_delay_s(self, sim_delay_s: float) -> float | None:
        """Real seconds until ``sim_delay_s`` simulated seconds pass; None when frozen."""
        if sim_delay_s <= 0:
            return 0.0
        if self._speed == 0:
            return None
        return sim_delay_s / self._speed

    def set(self, sim_s: float) -> None:
        self._rebase(sim_s)

    def advance(self, sim_delta_s: float) -> None:
        if sim_delta_s < 0:
            raise ValueError("the sandbox clock never goes backwards; use set() to rewind")
        self._rebase(self.now_s() + sim_delta_s)

    def set_speed(self, speed: float) -> None:
        if speed < 0:
            raise ValueError("clock speed must be >= 0")
        now = self.now_s()
        self._speed = speed
        self._rebase(now)

    def on_change(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def _rebase(self, sim_s: float) -> None:
        self._base_sim_s = sim_s
        self._base_real_s = self._real_s()
        for listener in self._listeners:
            listener()
