"""partition_for agrees with the Java client's murmur2 partitioner."""

from __future__ import annotations

import pytest

from pipeline.campaigns.partitions import PartitionIndex, partition_for


@pytest.mark.parametrize(
    ("key", "java_murmur2"),
    [
        # org.apache.kafka.common.utils.UtilsTest#testMurmur2
        ("21", -973932308),
        ("foobar", -790332482),
        ("a-little-bit-long-string", -985981536),
        ("a-little-bit-longer-string", -1486304829),
        ("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
        ("abc", 479470107),
    ],
)
def test_partitions_match_the_java_clients_murmur2(key: str, java_murmur2: int) -> None:
    for partitions in (1, 4, 12, 100):
        assert partition_for(key, partitions) == (java_murmur2 & 0x7FFFFFFF) % partitions


def test_partitions_must_be_positive() -> None:
    with pytest.raises(ValueError, match="partitions must be ≥ 1"):
        partition_for("1", 0)


def test_the_index_answers_like_partition_for() -> None:
    index = PartitionIndex(12)
    keys = [f"8210{n:08d}" for n in range(500)]
    assert [index.of(k) for k in keys] == [partition_for(k, 12) for k in keys]
    assert [index.of(k) for k in keys] == [partition_for(k, 12) for k in keys]  # cached
