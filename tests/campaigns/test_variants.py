"""A/B variants: weights hold over many customers, and a customer's variant never moves."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter

import pytest

from pipeline.campaigns.expansion import expand
from tests.campaigns.audiences import NOW_MS, customer, kr, spec

AB = [{"name": "A", "weight": 70}, {"name": "B", "weight": 30, "template": {"name": "spring_b"}}]
THREE = [{"name": "x", "weight": 1}, {"name": "y", "weight": 1}, {"name": "z", "weight": 2}]


@pytest.mark.parametrize(
    ("variants", "shares"),
    [(AB, {"A": 0.70, "B": 0.30}), (THREE, {"x": 0.25, "y": 0.25, "z": 0.50})],
)
def test_weights_hold_within_two_points_over_10_000_customers(
    variants: list[dict[str, object]], shares: dict[str, float]
) -> None:
    campaign = spec(variants=variants)
    counts = Counter(campaign.variant_for(kr(n)).name for n in range(10_000))  # type: ignore[union-attr]
    for name, share in shares.items():
        assert abs(counts[name] / 10_000 - share) <= 0.02, (name, counts)


def test_variant_commands_use_the_variant_template() -> None:
    campaign = spec(variants=AB, send_windows=[])
    commands = expand(campaign, [customer(kr(n)) for n in range(200)], NOW_MS).commands
    for command in commands:
        assert command.variant in ("A", "B")
        assert command.template_name == ("spring_b" if command.variant == "B" else "spring_sale")
    assert {c.variant for c in commands} == {"A", "B"}


def test_a_customers_variant_is_the_same_in_every_run_and_process() -> None:
    campaign = spec(variants=AB)
    numbers = [kr(n) for n in range(300)]
    here = [campaign.variant_for(n).name for n in numbers]  # type: ignore[union-attr]
    script = (
        "from tests.campaigns.audiences import spec\n"
        f"campaign = spec(variants={AB!r})\n"
        f"print(' '.join(campaign.variant_for(n).name for n in {numbers!r}))\n"
    )
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
        ).stdout.split()
        assert out == here, f"variants moved under PYTHONHASHSEED={seed}"


def test_another_campaign_splits_customers_independently() -> None:
    first, second = spec(id="one", variants=AB), spec(id="two", variants=AB)
    same = sum(
        first.variant_for(kr(n)) == second.variant_for(kr(n))  # type: ignore[union-attr]
        for n in range(2_000)
    )
    # Independent 70/30 splits agree on 0.7² + 0.3² = 58% of customers, not on all of them.
    assert 0.54 < same / 2_000 < 0.62
