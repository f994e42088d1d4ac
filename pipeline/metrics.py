"""A tiny counter registry, rendered in Prometheus text format at ``GET /metrics``.

Shared by every role of a worker: a module asks :func:`metrics_for` for the registry and adds
its counters; the first caller also serves the page. No client library: counters are all
wapipe needs, and the format is a few lines (prometheus.io "Exposition formats").
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipeline.app import WapipeApp

CONTENT_TYPE = "text/plain; version=0.0.4"


class Counter:
    """A monotonically increasing count per label values."""

    def __init__(self, name: str, doc: str, labels: tuple[str, ...] = ()) -> None:
        self.name = name
        self.doc = doc
        self.labels = labels
        self.values: dict[tuple[str, ...], int] = {}

    def inc(self, amount: int = 1, **labels: str) -> None:
        key = tuple(labels[name] for name in self.labels)
        self.values[key] = self.values.get(key, 0) + amount

    def value(self, **labels: str) -> int:
        return self.values.get(tuple(labels[name] for name in self.labels), 0)

    def render(self) -> Iterator[str]:
        yield f"# HELP {self.name} {self.doc}"
        yield f"# TYPE {self.name} counter"
        if not self.values and not self.labels:
            yield f"{self.name} 0"
        for key, count in sorted(self.values.items()):
            pairs = ",".join(f'{n}="{_escape(v)}"' for n, v in zip(self.labels, key, strict=True))
            yield f"{self.name}{{{pairs}}} {count}" if pairs else f"{self.name} {count}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class MetricsRegistry:
    def __init__(self) -> None:
        self._counters: dict[str, Counter] = {}

    def counter(self, name: str, doc: str, labels: tuple[str, ...] = ()) -> Counter:
        """The counter called ``name``, created on first use."""
        existing = self._counters.get(name)
        if existing is None:
            existing = self._counters[name] = Counter(name, doc, labels)
        elif existing.labels != labels:
            raise ValueError(f"counter {name} exists with labels {existing.labels}, not {labels}")
        return existing

    def render(self) -> str:
        lines = [line for c in self._counters.values() for line in c.render()]
        return "\n".join(lines) + "\n"


def metrics_for(wapp: WapipeApp) -> MetricsRegistry:
    """This worker's registry; serves ``GET /metrics`` from the first call on."""
    registry = wapp.extras.get("metrics")
    if isinstance(registry, MetricsRegistry):
        return registry
    registry = wapp.extras["metrics"] = MetricsRegistry()

    @wapp.app.page("/metrics")
    async def metrics(web: Any, request: Any) -> Any:
        return web.text(registry.render(), content_type=CONTENT_TYPE)

    return registry
