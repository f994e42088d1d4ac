"""The Cloud API accepting a message but answering after the sender's timeout: only Meta's
status webhook can then tell the sender the message went out."""

from __future__ import annotations

import pytest

from tests.faults.api_faults import SENDS, run_through_faults, stack
from tests.faults.fault_proxy import FaultProxy
from tests.faults.stack import FaultStack

pytestmark = [pytest.mark.slow]
__all__ = ["stack"]  # the fixture

LATE = (("slow", 2.0), ("pass", 1.0))


def test_api_answering_after_the_timeout_sends_each_message_once(
    stack: tuple[FaultStack, FaultProxy],
) -> None:
    run_through_faults(*stack, LATE, "Cloud API late answers", sends=SENDS // 2)
