"""Which asyncio event loop the HTTP servers run on: uvloop when installed, else asyncio's.

The sandbox and the ingest worker spend most of their CPU per request in the event loop and
the socket layer; uvloop does that work in C (measured on this 2-core VM with a trivial
aiohttp handler: ≈ 330 → 230 µs of server CPU per request, docs/benchmarks.md). Both fall
back to the standard loop when uvloop is missing; ``WAPIPE_EVENT_LOOP=asyncio`` (the
``event_loop`` setting) forces the standard loop, for comparisons or if uvloop misbehaves.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import structlog

log = structlog.get_logger(__name__)

T = TypeVar("T")


def loop_factory(choice: str = "uvloop") -> Callable[[], asyncio.AbstractEventLoop]:
    """A factory for new event loops of the chosen kind ("uvloop" or "asyncio")."""
    wanted = choice.strip().lower()
    if wanted == "uvloop":
        try:
            import uvloop
        except ImportError:
            log.warning("event_loop.uvloop_missing", fallback="asyncio")
        else:
            return uvloop.new_event_loop
    elif wanted != "asyncio":
        log.warning("event_loop.unknown", wanted=wanted, fallback="asyncio")
    return asyncio.new_event_loop


def loop_name(loop: asyncio.AbstractEventLoop) -> str:
    return "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"


def run(main: Coroutine[Any, Any, T], *, choice: str = "uvloop") -> T:
    """``asyncio.run`` on the chosen loop."""
    with asyncio.Runner(loop_factory=loop_factory(choice)) as runner:
        return runner.run(main)


def install_policy(choice: str = "uvloop") -> str:
    """Make ``asyncio.new_event_loop`` (and so libraries that create their own loop, like
    Faust's worker) use the chosen loop; returns the loop's name."""
    factory = loop_factory(choice)
    if factory is asyncio.new_event_loop:
        return "asyncio"
    import uvloop

    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    # uvloop's policy, unlike asyncio's, does not make a main-thread loop on first
    # ``get_event_loop()``; code that asks before a loop runs (Faust, mode) expects one.
    asyncio.set_event_loop(asyncio.new_event_loop())
    return "uvloop"
