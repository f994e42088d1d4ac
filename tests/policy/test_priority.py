"""Priority: class first, then customer value, then arrival order."""

from __future__ import annotations

import heapq
import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.events import OutboundCommand
from pipeline.policy.priority import category_rank, command_priority

commands = st.builds(
    lambda i, category, value, created: OutboundCommand(
        command_id=f"cmd-{i}",
        customer="821000000000",
        business_number_id="b1",
        kind="template",
        category=category,
        customer_value_minor=value,
        created_ms=created,
    ),
    st.integers(0, 10**6),
    st.sampled_from(["service", "utility", "authentication", "marketing", "other"]),
    st.integers(0, 10**6),
    st.integers(0, 10**6),
)


@settings(deadline=None)
@given(st.lists(commands, max_size=60, unique_by=lambda c: c.command_id))
def test_heap_order_is_class_then_value_then_fifo(batch: list[OutboundCommand]) -> None:
    heap = [(command_priority(c), c) for c in batch]
    heapq.heapify(heap)
    ordered = [heapq.heappop(heap)[1] for _ in range(len(heap))]
    for first, second in itertools.pairwise(ordered):
        a, b = category_rank(first.category), category_rank(second.category)
        assert a <= b, f"{first.category} went after {second.category}"
        if a == b:
            assert first.customer_value_minor >= second.customer_value_minor
            if first.customer_value_minor == second.customer_value_minor:
                assert (first.created_ms, first.command_id) < (second.created_ms, second.command_id)


def test_service_beats_a_richer_marketing_customer() -> None:
    service = OutboundCommand("a", "c", "b", "text", category="service", created_ms=9)
    rich = OutboundCommand(
        "b", "c", "b", "template", category="marketing", customer_value_minor=10**9, created_ms=1
    )
    assert command_priority(service) < command_priority(rich)
    assert category_rank("utility") < category_rank("marketing") == category_rank("unknown")
