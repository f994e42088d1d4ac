"""The Cloud API answering 5xx and losing requests while campaign sends flow: every command
still ends in one SendResult and no customer gets a message twice."""

from __future__ import annotations

import pytest

from tests.faults.api_faults import SENDS, run_through_faults, stack
from tests.faults.fault_proxy import FaultProxy
from tests.faults.stack import FaultStack

pytestmark = [pytest.mark.slow]
__all__ = ["stack"]  # the fixture

#: Each fault for a while, then healthy again. A message meets a fault twice at most (see
#: FaultProxy), so the sender's six attempts always suffice and every command is accepted.
REFUSING = (("5xx", 2.0), ("pass", 1.0), ("lost", 2.0), ("pass", 1.0))


def test_api_5xx_and_lost_requests_are_retried_and_send_each_message_once(
    stack: tuple[FaultStack, FaultProxy],
) -> None:
    run_through_faults(*stack, REFUSING, "Cloud API 5xx / lost requests", sends=SENDS)
