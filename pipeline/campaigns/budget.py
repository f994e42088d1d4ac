"""A campaign's budget cap: stop adding messages once their estimated cost would exceed it.

The estimate is Meta's list price for the category in the customer's country
(:mod:`pipeline.policy.pricing`), ignoring the monthly free allowance: a cap should hold even
when this month's free messages were already spent. A utility template sent while the
customer's service window is open is free, and so costs nothing against the cap.
"""

from __future__ import annotations

from dataclasses import dataclass


def budget_share_micros(budget_micros: int | None, *, partitions: int) -> int | None:
    """One partition's share of a campaign budget.

    Each worker expands only the customers it owns and cannot see the others' spending, so
    the cap is split evenly: the total never exceeds the budget, and since customers hash
    evenly over partitions, little of it stays unused.
    """
    if budget_micros is None:
        return None
    if partitions < 1:
        raise ValueError(f"partitions must be ≥ 1, got {partitions}")
    return budget_micros // partitions


@dataclass(slots=True)
class BudgetLedger:
    """Running spend against a cap (None = no cap); lives for one expansion."""

    limit_micros: int | None
    spent_micros: int = 0
    exhausted: bool = False

    def try_spend(self, cost_micros: int) -> bool:
        """Spend ``cost_micros`` if it fits; once something does not fit, nothing more does."""
        if self.exhausted:
            return False
        if self.limit_micros is not None and self.spent_micros + cost_micros > self.limit_micros:
            self.exhausted = True
            return False
        self.spent_micros += cost_micros
        return True


__all__ = ["BudgetLedger", "budget_share_micros"]
