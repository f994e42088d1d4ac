"""``wapipe run`` whose engagement output dies, as by SIGKILL, at the worst instant: after the
broker acknowledged a batch's table values (the changelog) and before its TagChanges are sent.

Run as ``python -m tests.agents.dying_worker run --roles engagement``; the process exits
with status 137 at its first flush that holds TagChanges.
"""

from __future__ import annotations

import os
from typing import Any

from pipeline import topics
from pipeline.agents.batch_output import BatchOutput
from pipeline.cli import main

EXIT_STATUS = 137  # what a shell reports for a SIGKILLed process
_send = BatchOutput._send


async def _send_or_die(self: BatchOutput, producer: Any, pending: Any) -> Any:
    if any(topic == topics.TAGS.name for topic, _ in pending):
        os._exit(EXIT_STATUS)  # no cleanup, no flush: the process is gone
    return await _send(self, producer, pending)


BatchOutput._send = _send_or_die  # type: ignore[method-assign]

if __name__ == "__main__":
    main()
