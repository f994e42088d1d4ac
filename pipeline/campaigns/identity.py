"""Deterministic identities for a campaign's messages: command ids and A/B buckets.

Both come from BLAKE2b over ``(campaign id, customer)``, never from Python's ``hash()``, which
is salted per process: a worker that restarts after a crash, or another worker, must produce
the same command id (so the sender's idempotency drops the duplicate) and put the customer in
the same variant. Different ``person`` strings keep the two derivations independent.
"""

from __future__ import annotations

from hashlib import blake2b

_COMMAND_PERSON = b"wapipe-command"
_VARIANT_PERSON = b"wapipe-variant"
_BUCKET_BITS = 64
_BUCKETS = 1 << _BUCKET_BITS


def _digest(campaign_id: str, customer: str, *, person: bytes, size: int) -> bytes:
    # The NUL separator keeps ("ab", "c") and ("a", "bc") apart.
    data = f"{campaign_id}\x00{customer}".encode()
    return blake2b(data, digest_size=size, person=person).digest()


def command_id_for(campaign_id: str, customer: str) -> str:
    """The id of ``campaign_id``'s message to ``customer``; the phone number never shows in it."""
    return "cmp-" + _digest(campaign_id, customer, person=_COMMAND_PERSON, size=16).hex()


def bucket_of(campaign_id: str, customer: str) -> float:
    """A uniform number in [0, 1) fixed by the pair: the customer's place in the A/B split."""
    raw = _digest(campaign_id, customer, person=_VARIANT_PERSON, size=_BUCKET_BITS // 8)
    return int.from_bytes(raw, "big") / _BUCKETS


__all__ = ["bucket_of", "command_id_for"]
