"""The shared counter registry renders Prometheus text format."""

from __future__ import annotations

import pytest

from pipeline.metrics import MetricsRegistry


def test_counters_render_with_labels_help_and_type() -> None:
    registry = MetricsRegistry()
    refused = registry.counter("wapipe_x_total", "Refused.", ("reason",))
    refused.inc(reason="signature")
    refused.inc(2, reason='a "quoted"\nreason')
    registry.counter("wapipe_y_total", "Nothing yet.")
    text = registry.render()
    assert text.splitlines() == [
        "# HELP wapipe_x_total Refused.",
        "# TYPE wapipe_x_total counter",
        'wapipe_x_total{reason="a \\"quoted\\"\\nreason"} 2',
        'wapipe_x_total{reason="signature"} 1',
        "# HELP wapipe_y_total Nothing yet.",
        "# TYPE wapipe_y_total counter",
        "wapipe_y_total 0",
    ]
    assert refused.value(reason="signature") == 1


def test_a_counter_is_shared_by_name_and_its_labels_are_fixed() -> None:
    registry = MetricsRegistry()
    assert registry.counter("c", "doc", ("a",)) is registry.counter("c", "doc", ("a",))
    with pytest.raises(ValueError, match="labels"):
        registry.counter("c", "doc", ("b",))
