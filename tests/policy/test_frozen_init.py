"""fast_init builds the same objects as a frozen dataclass's generated __init__, faster."""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.policy.customer_state import CurrencyTotal, CustomerState, PurchaseRecord
from pipeline.policy.frozen_init import fast_init
from pipeline.policy.tag_timeline import TaggedCustomer, TimedDelta
from pipeline.policy.tags import TagDelta

DECORATED = (CustomerState, CurrencyTotal, PurchaseRecord, TaggedCustomer, TimedDelta, TagDelta)


@dataclass(frozen=True, slots=True)
class Plain:
    a: int
    b: str = "b"
    c: tuple[int, ...] = field(default_factory=tuple, kw_only=True)
    d: list[int] = field(default_factory=list, kw_only=True)


@fast_init
@dataclass(frozen=True, slots=True)
class Fast:
    a: int
    b: str = "b"
    c: tuple[int, ...] = field(default_factory=tuple, kw_only=True)
    d: list[int] = field(default_factory=list, kw_only=True)


def _as_fields(obj: Any) -> tuple[Any, ...]:
    return tuple(getattr(obj, f.name) for f in dataclasses.fields(obj))


@given(
    a=st.integers(),
    b=st.none() | st.text(max_size=5),
    c=st.none() | st.tuples(st.integers()),
    d=st.none() | st.lists(st.integers(), max_size=3),
)
def test_same_fields_as_the_generated_init(
    a: int, b: str | None, c: tuple[int, ...] | None, d: list[int] | None
) -> None:
    given_kwargs: dict[str, Any] = {
        k: v for k, v in {"b": b, "c": c, "d": d}.items() if v is not None
    }
    plain, fast = Plain(a, **given_kwargs), Fast(a, **given_kwargs)
    assert _as_fields(fast) == _as_fields(plain)
    generated = object.__new__(Fast)
    Fast.__init__.__wrapped__(generated, a, **given_kwargs)  # type: ignore[attr-defined]
    assert generated == fast  # fast_init keeps the generated __init__ it replaced
    assert fast == Fast(a=a, **given_kwargs)


def test_default_factories_make_a_new_value_each_time() -> None:
    assert Fast(1).d is not Fast(1).d


def test_same_errors_as_the_generated_init() -> None:
    for cls in (Plain, Fast):
        with pytest.raises(TypeError):
            cls()  # type: ignore[call-arg]
        with pytest.raises(TypeError):
            cls(1, "b", (), [])  # type: ignore[call-arg]  # c and d are keyword-only
        with pytest.raises(TypeError):
            cls(1, e=2)  # type: ignore[call-arg]
        with pytest.raises(dataclasses.FrozenInstanceError):
            cls(1).a = 2  # type: ignore[misc]


@pytest.mark.parametrize("cls", DECORATED, ids=lambda c: c.__name__)
def test_domain_classes_keep_their_signature_and_stay_frozen(cls: type) -> None:
    """Each decorated class takes what its dataclass declares: the same names, kinds and
    defaults (a factory's default shows as a sentinel and is called per instance)."""
    params = inspect.signature(cls).parameters
    declared = dataclasses.fields(cls)
    assert list(params) == [f.name for f in declared]
    for f in declared:
        p = params[f.name]
        kind = (
            inspect.Parameter.KEYWORD_ONLY if f.kw_only else inspect.Parameter.POSITIONAL_OR_KEYWORD
        )
        assert p.kind == kind
        if f.default is not dataclasses.MISSING:
            assert p.default is f.default
        elif f.default_factory is not dataclasses.MISSING:
            assert getattr(cls(**_required(cls)), f.name) == f.default_factory()
        else:
            assert p.default is inspect.Parameter.empty
    instance = cls(**_required(cls))
    assert hash(instance) == hash(cls(**_required(cls)))
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(instance, declared[0].name, None)


def _required(cls: type) -> dict[str, Any]:
    samples = {"ts_ms": 1, "amount_minor": 2, "currency": "KRW", "order_id": "o1", "orders": 1}
    samples |= {"tag": "heat:hot", "change": "added", "reason": "r"}
    samples |= {"delta": TagDelta(tag="vip", change="added", reason="r")}
    return {
        f.name: samples[f.name]
        for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }


def test_refuses_what_it_does_not_handle() -> None:
    @dataclass(slots=True)
    class Mutable:
        a: int

    @dataclass(frozen=True, slots=True)
    class WithPostInit:
        a: int

        def __post_init__(self) -> None:
            pass

    for cls in (Mutable, WithPostInit):
        with pytest.raises(TypeError, match=cls.__name__):
            fast_init(cls)
