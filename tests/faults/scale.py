"""How big the fault scenarios run: ``WAPIPE_FAULTS_SCALE`` = small (default) or full.

small keeps the folder inside ``make test`` (a few hundred events per scenario); full is the
issue's 50,000-event stream (`make faults`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultScale:
    name: str
    events: int  # webhook items + purchase rows of the mixed stream
    sends: int  # campaign commands beside them
    kills: int  # SIGKILLs of the worker during the stream
    events_per_post: int
    timeout_s: float  # longest wait for the pipeline to settle after the fault
    stream_s: float  # how long the stream's first attempts are spread over
    # How long a restarted sender waits for a status webhook naming an in-flight command.
    # At full size dozens of sends are in flight at a kill, and their statuses come back
    # only on the sandbox's next callback retry after the restart (back-off up to 30 s).
    evidence_wait_s: float


SCALES = {
    "small": FaultScale(
        name="small",
        events=300,
        sends=40,
        kills=2,
        events_per_post=5,
        timeout_s=90,
        stream_s=25,
        evidence_wait_s=5,
    ),
    "full": FaultScale(
        name="full",
        events=50_000,
        sends=2_000,
        kills=6,
        events_per_post=20,
        timeout_s=900,
        stream_s=300,
        evidence_wait_s=45,
    ),
}


def fault_scale() -> FaultScale:
    name = os.environ.get("WAPIPE_FAULTS_SCALE", "small")
    if name not in SCALES:
        raise ValueError(f"WAPIPE_FAULTS_SCALE={name!r}: use one of {sorted(SCALES)}")
    return SCALES[name]
