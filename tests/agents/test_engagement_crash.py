"""A worker killed between storing a batch's values and publishing their TagChanges: the
restarted worker publishes exactly those changes, once (docs/agents.md, "State before
changes")."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from faust.types import TP

from pipeline import topics
from pipeline.agents.engagement import TABLE, unconfirmed
from pipeline.policy.tag_timeline import TaggedCustomer
from pipeline.runtime.broker import EmbeddedBroker
from tests.agents.conftest import PARTITIONS
from tests.agents.dying_worker import EXIT_STATUS
from tests.agents.streams import produce, read_all, wait_for
from tests.agents.test_acked_output import records
from tests.agents.world import final_tags, keyed, shop_world
from tests.support.workers import WorkerProcess

ROOT = Path(__file__).resolve().parents[2]


def test_changes_stored_but_not_published_at_a_kill_are_published_once_after_the_restart(
    fresh_broker: EmbeddedBroker, start_worker: Callable[..., WorkerProcess]
) -> None:
    bootstrap = fresh_broker.bootstrap_servers
    app_id = "agents-state-first"
    importable = {
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    }
    world = shop_world(customers=30, seed=17)
    expected = world.expected_tags()

    dying = start_worker(
        "engagement", app_id=app_id, env=importable, module="tests.agents.dying_worker"
    )
    produce(bootstrap, keyed(world.events))
    assert dying.proc is not None
    assert dying.proc.wait(timeout=90) == EXIT_STATUS, dying.log_tail()
    changelog = f"{app_id}-{TABLE}-changelog"
    stored = records(bootstrap, changelog)
    assert stored, "the kill came before the values were stored: nothing to test"
    assert read_all(bootstrap, topics.TAGS, partitions=PARTITIONS) == [], "changes went out"

    start_worker("engagement", app_id=app_id)
    changes = wait_for(
        lambda: read_all(bootstrap, topics.TAGS, partitions=PARTITIONS),
        lambda got: final_tags(got) == expected,
        timeout_s=90,
        what="every customer's tags after the restart",
    )
    # final_tags refuses a tag added twice or removed while absent: no change was lost (the
    # tags match) and none was published twice, under one id or two.
    assert final_tags(changes) == expected
    assert len({c.event_id for c in changes}) == len(changes)


def test_a_value_is_unconfirmed_while_the_input_that_made_it_is_not_committed() -> None:
    value = TaggedCustomer(changed_from=frozenset(), changed_by=("wa.inbound.v1", 41))
    tp = TP("wa.inbound.v1", 2)
    assert unconfirmed(value, 2, {})  # nothing committed
    assert unconfirmed(value, 2, {tp: None})
    assert unconfirmed(value, 2, {tp: 41})  # committed = the next offset to read
    assert not unconfirmed(value, 2, {tp: 42})
    assert unconfirmed(value, 3, {tp: 42}), "another partition's commit says nothing"
    assert not unconfirmed(TaggedCustomer(), 2, {}), "a value that changed no tag owes none"
