"""Benchmark: expanding a campaign over 100,000 customers (issue 8 goal: under 10 s).

    .venv/bin/python bench/campaigns.py [--customers 100000] [--partitions 12]

Three measurements over the same generated customers (Korean, US and German numbers, tags
drawn like the engagement agent's, a third with a recent marketing message):

* place: reading country and time zone off every number (phonenumbers). The agent pays this
  once per customer, when the customer first appears, not at launch.
* expand: the pure expansion with places known, as the agent has them.
* agent path: what the agent does per launch, on every partition: decode its table rows,
  pick the partition's customers (murmur2), expand with the partition's budget share.
"""

from __future__ import annotations

import argparse
import random
import time

from pipeline.campaigns.audience import AudienceRow, CampaignCustomer
from pipeline.campaigns.budget import budget_share_micros
from pipeline.campaigns.expansion import expand
from pipeline.campaigns.local_time import place_of
from pipeline.campaigns.partitions import PartitionIndex
from pipeline.campaigns.spec import CampaignSpec

NOW_MS = 1_748_829_600_000  # 2025-06-02 02:00 UTC: morning in Seoul, night in New York
TAG_SETS = [
    frozenset({"vip", "value:high", "heat:hot", "freq:monthly"}),
    frozenset({"value:mid", "heat:warm", "freq:quarterly"}),
    frozenset({"value:low", "heat:cold", "freq:lapsed", "dormant"}),
    frozenset({"value:high", "heat:warm", "freq:quarterly"}),
    frozenset({"freq:none", "opted-out"}),
    frozenset({"freq:none"}),
]


def customers(n: int, seed: int = 7) -> list[CampaignCustomer]:
    rng = random.Random(seed)
    made = []
    for i in range(n):
        kind = i % 3
        number = (
            f"8210{rng.randrange(10**8):08d}",
            f"1212{rng.randrange(2, 10)}{rng.randrange(10**6):06d}",
            f"49151{rng.randrange(10**8):08d}",
        )[kind]
        made.append(
            CampaignCustomer(
                customer=number,
                tags=rng.choice(TAG_SETS),
                profile_name=rng.choice(["Min-jun Kim", "Ana Souza", None]),
                last_marketing_ms=NOW_MS - rng.randrange(48) * 3_600_000 if i % 3 == 0 else None,
                value_minor=rng.randrange(1_000_000),
            )
        )
    return made


SPEC = CampaignSpec.from_mapping(
    {
        "id": "bench-spring",
        "business_number_id": "106540352242922",
        "template": {
            "name": "spring_sale",
            "language": "en_US",
            "parameters": ["{{customer.first_name|there}}", "20%"],
        },
        "segment": "(vip or value:high or freq:monthly) and not dormant",
        "budget_usd": 2000,
        "variants": [{"name": "A", "weight": 50}, {"name": "B", "weight": 50}],
    }
)


def _now() -> float:
    # CPU time of this process: the machine is shared, and wall time there measures the
    # neighbours as much as the code. Both are printed.
    return time.process_time()


def main() -> None:
    wall0 = time.perf_counter()
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--partitions", type=int, default=12)
    args = parser.parse_args()
    people = customers(args.customers)

    t0 = _now()
    placed = [
        CampaignCustomer(
            customer=c.customer,
            tags=c.tags,
            profile_name=c.profile_name,
            last_marketing_ms=c.last_marketing_ms,
            value_minor=c.value_minor,
            place=place_of(c.customer),
        )
        for c in people
    ]
    place_s = _now() - t0

    t0 = _now()
    result = expand(SPEC, placed, NOW_MS)
    expand_s = _now() - t0

    table = {c.customer: AudienceRow(customer=c).to_json() for c in placed}
    t0 = _now()
    share = budget_share_micros(SPEC.budget_micros, partitions=args.partitions)
    agent_commands = 0
    partition_of = PartitionIndex(args.partitions)
    for partition in range(args.partitions):
        owned = [
            AudienceRow.from_json(key, value).customer
            for key, value in table.items()
            if partition_of.of(key) == partition
        ]
        agent_commands += len(expand(SPEC, owned, NOW_MS, budget_micros=share).commands)
    agent_s = _now() - t0

    print(f"wall time, all       {time.perf_counter() - wall0:>9.2f} s (CPU times below)")
    print(f"customers            {len(people):>9,}")
    print(f"in the segment       {result.audience:>9,}")
    print(f"commands             {len(result.commands):>9,}  (deferred {result.deferred:,})")
    print(f"skipped              {dict(sorted(result.skipped.items()))}")
    print(f"place (once/customer){place_s:>9.2f} s")
    print(f"expand, places known {expand_s:>9.2f} s")
    print(f"agent path, {args.partitions} parts {agent_s:>9.2f} s  ({agent_commands:,} commands)")


if __name__ == "__main__":
    main()
