"""Which partitions a worker stops fetching once recovery is done (pure selection)."""

from __future__ import annotations

from aiokafka import TopicPartition
from faust.types import TP
from hypothesis import given
from hypothesis import strategies as st

from pipeline.runtime.faust_unread_partitions import unread_partitions

LEADER = "app-__assignor-__leader"


def tps(topic: str, *partitions: int) -> set[TP]:
    return {TP(topic, p) for p in partitions}


def test_own_changelogs_and_the_leader_topic_are_unread_streams_and_standbys_are_read() -> None:
    active = tps("app-t-changelog", 0, 1)
    standby = tps("app-t-changelog", 2)
    assignment = active | standby | tps("wa.inbound.v1", 0, 1) | tps(LEADER, 0)
    got = unread_partitions(
        active=active,
        standby=standby,
        recovery_buffer_size=dict.fromkeys(active | standby, 1000),
        assignment=assignment,
        leader_topic=LEADER,
    )
    assert got == {TopicPartition("app-t-changelog", p) for p in (0, 1)} | {
        TopicPartition(LEADER, 0)
    }
    assert all(isinstance(tp, TopicPartition) for tp in got), "aiokafka's pause wants its type"


def test_a_table_faust_keeps_resumed_on_purpose_is_left_alone() -> None:
    active = tps("app-buffered-changelog", 0) | tps("app-eager-changelog", 0)
    got = unread_partitions(
        active=active,
        standby=set(),
        recovery_buffer_size={
            TP("app-buffered-changelog", 0): 1000,
            TP("app-eager-changelog", 0): 1,
        },
        assignment=active,
        leader_topic=LEADER,
    )
    assert got == {TopicPartition("app-buffered-changelog", 0)}


topic_partitions = st.sets(
    st.builds(
        TP, st.sampled_from(["a-changelog", "b-changelog", "stream", LEADER]), st.integers(0, 5)
    )
)


@given(active=topic_partitions, standby=topic_partitions, streams=topic_partitions)
def test_never_a_standby_and_only_active_changelogs_or_the_leader(
    active: set[TP], standby: set[TP], streams: set[TP]
) -> None:
    got = unread_partitions(
        active=active,
        standby=standby,
        recovery_buffer_size={},
        assignment=active | standby | streams,
        leader_topic=LEADER,
    )
    # Both kinds are (topic, partition) named tuples: they compare and hash as tuples.
    leaders = {tp for tp in active | standby | streams if tp.topic == LEADER}
    assert got <= (active - standby) | leaders
    assert (active - standby) <= got
    assert leaders <= got
