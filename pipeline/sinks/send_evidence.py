"""Proof that a command reached Meta: the status webhooks that echo its command id.

Every send carries ``biz_opaque_callback_data = command_id`` and Meta echoes it in each status
of the message. After a crash the sender cannot know whether an interrupted request arrived;
a status naming the command settles it. The book keeps the most recent ids only (bounded):
the question is asked within seconds of a restart, about sends made just before it.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict

DEFAULT_CAPACITY = 200_000


class SendEvidence:
    def __init__(self, *, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be ≥ 1, got {capacity}")
        self._capacity = capacity
        self._wamids: OrderedDict[str, str] = OrderedDict()
        self._waiters: dict[str, list[asyncio.Future[str]]] = {}

    def saw(self, command_id: str, wamid: str) -> None:
        self._wamids[command_id] = wamid
        self._wamids.move_to_end(command_id)
        while len(self._wamids) > self._capacity:
            self._wamids.popitem(last=False)
        for waiter in self._waiters.pop(command_id, ()):
            if not waiter.done():
                waiter.set_result(wamid)

    def wamid_for(self, command_id: str) -> str | None:
        return self._wamids.get(command_id)

    async def wait_for(self, command_id: str, *, timeout_s: float) -> str | None:
        """The wamid once a status names ``command_id``, or None after ``timeout_s``."""
        known = self._wamids.get(command_id)
        if known is not None or timeout_s <= 0:
            return known
        waiter: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(command_id, []).append(waiter)
        try:
            return await asyncio.wait_for(waiter, timeout=timeout_s)
        except TimeoutError:
            return None
        finally:
            waiters = self._waiters.get(command_id)
            if waiters is not None and waiter in waiters:
                waiters.remove(waiter)
                if not waiters:
                    del self._waiters[command_id]
