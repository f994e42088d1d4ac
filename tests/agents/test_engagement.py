"""The engagement agent through the real broker: tags from events, redelivery, decay by ticks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline import topics
from pipeline.agents.engagement import SOURCES
from pipeline.agents.state_codec import StateJsonCodec, to_plain
from pipeline.errors import SchemaError
from pipeline.events import InboundMessage, Purchase
from pipeline.policy.durations import DAY_MS
from pipeline.policy.tag_timeline import TaggedCustomer, fold_events, sweep
from pipeline.runtime.broker import EmbeddedBroker
from tests.agents.conftest import PARTITIONS
from tests.agents.streams import produce, read_all, send_ticks, wait_caught_up, wait_for
from tests.agents.world import T0, final_tags, keyed, shop_world
from tests.policy.customer_events import event_strategy
from tests.support.workers import WorkerProcess


def read_tags(bootstrap: str) -> list[object]:
    return read_all(bootstrap, topics.TAGS, partitions=PARTITIONS)


def test_event_streams_give_the_expected_tags_and_redelivery_changes_nothing(
    fresh_broker: EmbeddedBroker, start_worker: Callable[..., WorkerProcess]
) -> None:
    bootstrap = fresh_broker.bootstrap_servers
    world = shop_world(customers=40, seed=6)
    expected = world.expected_tags()
    produce(bootstrap, keyed(world.events))
    start_worker("engagement")

    changes = wait_for(
        lambda: read_tags(bootstrap),
        lambda got: final_tags(got) == expected,
        timeout_s=60,
        what="the tags of every customer",
    )
    assert all(c.reason for c in changes), "every TagChange carries its reason"
    assert {c.event_id for c in changes} == {c.event_id for c in changes if c.event_id}

    # Redeliver every purchase and message: nothing may be counted twice or republished.
    produce(bootstrap, keyed(world.events))
    marker = InboundMessage(
        event_id="marker", business_number_id="n", customer="821099999999", ts_ms=T0, text="x"
    )
    produce(bootstrap, keyed([marker]))
    after = wait_for(
        lambda: read_tags(bootstrap),
        lambda got: any(c.customer == marker.customer for c in got),
        timeout_s=60,
        what="the marker customer's tags (all redelivered events processed before it)",
    )
    repeated = [c for c in after if c.customer != marker.customer]
    assert len(repeated) == len(changes), (
        f"redelivered events published {len(repeated) - len(changes)} more tag changes: "
        f"{repeated[len(changes) :][:5]}"
    )


def test_time_moves_heat_at_the_exact_boundaries_and_purchases_age_out(
    fresh_broker: EmbeddedBroker, start_worker: Callable[..., WorkerProcess]
) -> None:
    bootstrap = fresh_broker.bootstrap_servers
    customer = "821055550000"
    last = T0 + 10 * DAY_MS
    events = [
        Purchase(
            order_id=f"o{i}",
            customer=customer,
            amount_minor=150_000,
            currency="KRW",
            ts_ms=T0 + i * DAY_MS,
        )
        for i in range(3)
    ] + [InboundMessage(event_id="m1", business_number_id="n", customer=customer, ts_ms=last)]
    produce(bootstrap, keyed(events))
    worker = start_worker("engagement")

    def tags_now() -> frozenset[str]:
        return final_tags(read_tags(bootstrap)).get(customer, frozenset())

    wait_for(lambda: [tags_now()], lambda got: "vip" in got[0], timeout_s=60, what="vip")
    assert tags_now() == {"freq:monthly", "value:high", "heat:hot", "vip"}

    steps = [
        (last + 7 * DAY_MS, {"freq:monthly", "value:high", "heat:hot", "vip"}),  # inclusive
        (last + 7 * DAY_MS + 1, {"freq:monthly", "value:high", "heat:warm"}),
        (last + 30 * DAY_MS + 1, {"freq:monthly", "value:high", "heat:cold"}),
        (T0 + 90 * DAY_MS + 1, {"freq:quarterly", "value:high", "heat:cold"}),  # o0 ages out
        (last + 90 * DAY_MS + 1, {"freq:lapsed", "value:high", "heat:cold", "dormant"}),
    ]
    for now_ms, want in steps:
        send_ticks(bootstrap, worker.app_id, now_ms=now_ms, partitions=PARTITIONS)
        got = wait_for(
            lambda: [tags_now()],
            lambda g, w=want: g[0] == w,
            timeout_s=30,  # type: ignore[misc]
            what=f"tags {sorted(want)} at T0+{(now_ms - T0) / DAY_MS:.5f} d",
            settle_s=0.5,
        )
        assert got[0] == want
    changes = [c for c in read_tags(bootstrap) if c.customer == customer]
    decay = [c for c in changes if c.tag == "heat:warm" and c.change == "added"]
    assert [c.ts_ms for c in decay] == [last + 7 * DAY_MS + 1], "decay stamped with tick time"
    assert "warm = within 30 days" in decay[0].reason, decay[0].reason


@settings(max_examples=60, deadline=None)
@given(events=st.lists(event_strategy, max_size=20))
def test_the_written_out_table_encoding_equals_the_generic_one_and_round_trips(
    events: list[object],
) -> None:
    value, _ = fold_events(TaggedCustomer(), events, source=("wa.inbound.v1", 7))
    generic = {
        "@": "TaggedCustomer",
        "f": [
            to_plain(value.state),
            to_plain(value.tags),
            value.judged_ms,
            value.next_change_ms,
            value.stamped_ms,
            to_plain(value.changed_from),
            to_plain(value.changed_by),
        ],
    }
    assert to_plain(value) == generic
    codec = StateJsonCodec()
    assert codec.loads(codec.dumps(value)) == value


def test_a_value_written_before_fields_were_appended_reads_them_as_their_defaults() -> None:
    """changed_from and changed_by came after stamped_ms: a changelog written by the code
    before them still recovers (a value that owes no republishing); a value with more
    fields than the class, or a missing field without a default, is refused."""
    value, _ = fold_events(
        TaggedCustomer(),
        [InboundMessage(event_id="m", business_number_id="n", customer="c", ts_ms=T0)],
    )
    codec = StateJsonCodec()
    plain = to_plain(value)
    older = {**plain, "f": plain["f"][:5]}
    assert codec.loads(orjson.dumps(older)) == replace(value, changed_from=None, changed_by=None)
    with pytest.raises(SchemaError, match="rebuild the table"):
        codec.loads(orjson.dumps({**plain, "f": [*plain["f"], None]}))
    with pytest.raises(SchemaError, match="rebuild the table"):
        codec.loads(orjson.dumps({"@": "PurchaseRecord", "f": [T0]}))


def test_a_restarted_worker_recovers_customers_from_the_changelog_it_wrote_in_batches(
    fresh_broker: EmbeddedBroker, start_worker: Callable[..., WorkerProcess]
) -> None:
    """The agent writes table values and their changelog records itself (BatchOutput): a new
    worker must rebuild the same customers from that changelog, not from the inputs."""
    bootstrap = fresh_broker.bootstrap_servers
    customer = "821077770000"

    def buy(i: int) -> Purchase:
        return Purchase(
            order_id=f"r{i}", customer=customer, amount_minor=150_000, currency="KRW", ts_ms=T0 + i
        )

    def tags_now() -> list[frozenset[str]]:
        return [final_tags(read_tags(bootstrap)).get(customer, frozenset())]

    produce(bootstrap, keyed([buy(0), buy(1)]))
    first = start_worker("engagement", app_id="agents-recovery")
    wait_for(tags_now, lambda g: "freq:quarterly" in g[0], timeout_s=60, what="2 purchases")
    # Every input committed: the next worker starts after them and knows them only through
    # the changelog.
    wait_caught_up(bootstrap, "agents-recovery", [spec.name for spec in SOURCES], timeout_s=60)
    first.stop()

    produce(bootstrap, keyed([buy(2)]))
    start_worker("engagement", app_id="agents-recovery")
    wait_for(tags_now, lambda g: "freq:monthly" in g[0], timeout_s=90, what="3rd purchase")
    changes = [c for c in read_tags(bootstrap) if c.customer == customer]
    added = [c.tag for c in changes if c.change == "added" and c.tag.startswith("freq:")]
    assert added == ["freq:quarterly", "freq:monthly"], "state lost across the restart"
    monthly = next(c for c in changes if c.tag == "freq:monthly")
    assert monthly.reason.startswith("3 purchases"), monthly.reason


def test_a_due_time_written_again_unchanged_is_still_swept_from_its_first_index_entry(
    fresh_broker: EmbeddedBroker, start_worker: Callable[..., WorkerProcess]
) -> None:
    """The sweep's due index is pushed only when a customer's due time moves. A customer
    written twice with the same due time has one entry, from the first write, and a later
    tick must find it there. The index must be live (not rebuilt from the table at the tick),
    so a first tick, made visible by another customer's decay, rebuilds it before the writes.
    """
    bootstrap = fresh_broker.bootstrap_servers
    early, later = "821055550001", "821055550002"
    early_at, later_at = T0 - 20 * DAY_MS, T0
    message = InboundMessage(
        event_id="m-later", business_number_id="n", customer=later, ts_ms=later_at
    )
    # Older than the message: it adds a purchase, and the next change stays hot → warm.
    purchase = Purchase(
        order_id="o-later",
        customer=later,
        amount_minor=5_000,
        currency="KRW",
        ts_ms=later_at - DAY_MS,
    )
    first, _ = fold_events(TaggedCustomer(), [message])
    second, _ = fold_events(first, [purchase])
    assert second.state != first.state and second.next_change_ms == first.next_change_ms
    due_ms = first.next_change_ms
    assert due_ms == later_at + 7 * DAY_MS + 1

    def tags_of(customer: str) -> frozenset[str]:
        return final_tags(read_tags(bootstrap)).get(customer, frozenset())

    def wait_tags(customer: str, want: frozenset[str], what: str) -> None:
        got = wait_for(lambda: [tags_of(customer)], lambda g: g[0] == want, timeout_s=60, what=what)
        assert got[0] == want

    early_message = InboundMessage(
        event_id="m-early", business_number_id="n", customer=early, ts_ms=early_at
    )
    early_hot, _ = fold_events(TaggedCustomer(), [early_message])
    early_tick = early_at + 7 * DAY_MS + 1
    early_warm, _ = sweep(early_hot, early_tick)
    assert "heat:hot" in early_hot.tags and "heat:warm" in early_warm.tags

    produce(bootstrap, keyed([early_message]))
    worker = start_worker("engagement")
    wait_tags(early, early_hot.tags, "the early customer hot")
    send_ticks(bootstrap, worker.app_id, now_ms=early_tick, partitions=PARTITIONS)
    wait_tags(early, early_warm.tags, "the first tick (the index rebuilt) done")

    produce(bootstrap, keyed([message]))  # first write: due_ms is indexed
    wait_tags(later, first.tags, "the first write")
    produce(bootstrap, keyed([purchase]))  # second write, same due_ms: nothing indexed
    wait_tags(later, second.tags, "the second write")
    assert second.tags != first.tags, "the second write must be visible to wait for it"

    swept, _ = sweep(second, due_ms)
    assert "heat:warm" in swept.tags
    send_ticks(bootstrap, worker.app_id, now_ms=due_ms, partitions=PARTITIONS)
    wait_tags(later, swept.tags, "the later customer swept at its due time")
