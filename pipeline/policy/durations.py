"""Durations in milliseconds: every policy compares integer event times (Unix ms)."""

from __future__ import annotations

SECOND_MS = 1_000
MINUTE_MS = 60 * SECOND_MS
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS

__all__ = ["DAY_MS", "HOUR_MS", "MINUTE_MS", "SECOND_MS"]
