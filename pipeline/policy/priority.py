"""Send order: service before utility before marketing; richer customers first; then FIFO.

design.md §7. The key is a plain tuple so a heap or ``sorted`` orders commands directly; equal
keys cannot happen because the command id breaks the last tie (a deterministic order keeps
replays identical).
"""

from __future__ import annotations

from typing import NamedTuple

from pipeline.events import OutboundCommand

#: Rank per message category, lower goes first; matches OutboundCommand.priority's doc
#: (0 service, 1 utility, 2 marketing). Authentication codes are time-critical, so they share
#: utility's rank; an unknown category queues with marketing, the most patient class.
CATEGORY_RANK: dict[str, int] = {"service": 0, "authentication": 1, "utility": 1, "marketing": 2}
_LAST_RANK = max(CATEGORY_RANK.values())


class PriorityKey(NamedTuple):
    rank: int
    minus_value_minor: int
    created_ms: int
    command_id: str


def category_rank(category: str) -> int:
    return CATEGORY_RANK.get(category, _LAST_RANK)


def priority_key(
    *, category: str, customer_value_minor: int, created_ms: int, command_id: str
) -> PriorityKey:
    """Sort key: smaller sends first."""
    return PriorityKey(category_rank(category), -customer_value_minor, created_ms, command_id)


def command_priority(command: OutboundCommand) -> PriorityKey:
    return priority_key(
        category=command.category,
        customer_value_minor=command.customer_value_minor,
        created_ms=command.created_ms,
        command_id=command.command_id,
    )


__all__ = ["CATEGORY_RANK", "PriorityKey", "category_rank", "command_priority", "priority_key"]
