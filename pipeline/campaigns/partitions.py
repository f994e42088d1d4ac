"""Which partition of a customer-keyed topic holds a customer's events.

Kafka's default partitioner: ``murmur2(key) & 0x7fffffff % partitions``. Faust produces with
aiokafka, whose ``murmur2`` is the Java client's, and wapipe's confluent-kafka producers use
``murmur2_random`` (pipeline/runtime/broker.py), which gives the same partition for a key.
The campaign agent uses this to expand a launch read from partition p over exactly the
customers whose events arrive on partition p.
"""

from __future__ import annotations

from aiokafka.partitioner import murmur2


def partition_for(key: str, partitions: int) -> int:
    if partitions < 1:
        raise ValueError(f"partitions must be ≥ 1, got {partitions}")
    return (murmur2(key.encode("utf-8")) & 0x7FFFFFFF) % partitions


class PartitionIndex:
    """Customer → partition, hashed once per customer.

    A launch arrives on every partition and each one selects its customers from the same
    table; murmur2 in pure Python costs microseconds, so 100,000 customers × 12 partitions
    would spend seconds hashing the same keys again.
    """

    def __init__(self, partitions: int) -> None:
        if partitions < 1:
            raise ValueError(f"partitions must be ≥ 1, got {partitions}")
        self.partitions = partitions
        self._known: dict[str, int] = {}

    def of(self, key: str) -> int:
        found = self._known.get(key)
        if found is None:
            found = self._known[key] = partition_for(key, self.partitions)
        return found


__all__ = ["PartitionIndex", "partition_for"]
