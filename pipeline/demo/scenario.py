"""What the demo simulates: who, how long, how fast, and which campaigns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

HOUR_S = 3600
DAY_S = 24 * HOUR_S


@dataclass(frozen=True, slots=True, kw_only=True)
class DemoScenario:
    customers: int = 5000
    days: float = 2.5
    seed: int = 7
    # Simulated seconds per real second between launches: two simulated hours a second show a
    # day of replies, opt-outs and purchases in 12 s (time runs slower while sending).
    speed: float = 7200.0
    business_number_id: str = "106540352242922"

    def __post_init__(self) -> None:
        if self.customers < 10:
            raise ValueError("the demo needs at least 10 customers")
        if self.days <= max(day for day, _spec in self.campaigns()):
            raise ValueError("run the demo for longer than the last campaign launch")

    def campaigns(self) -> list[tuple[float, dict[str, Any]]]:
        """(launch day, campaign spec mapping) in launch order.

        A little more than a day apart, because a customer gets at most one marketing message
        per 24 h (and sending a campaign takes a few simulated hours): the same template to
        everyone, then to a value segment, so segment efficiency compares the two strategies
        on the same customers and offer. (A third, frequency-segment campaign made the demo a
        minute longer and showed nothing new.)
        """
        base = {
            "business_number_id": self.business_number_id,
            "category": "marketing",
            "template": {
                "name": "spring_sale",
                "language": "ko_KR",
                "parameters": ["{{customer.first_name|고객}}"],
            },
            "send_windows": [],  # the simulated day is short; send at once
            "ttl_hours": 48,
        }
        return [
            (0.0, {**base, "id": "demo-everyone"}),
            (
                1.2,
                {
                    **base,
                    "id": "demo-high-value",
                    "segment": "value:high and not dormant",
                },
            ),
        ]
