"""A campaign as written in YAML, checked once and carried as JSON on the control topic.

    id: spring-sale
    business_number_id: "106540352242922"
    category: marketing
    template: {name: spring_sale, language: en_US,
               parameters: ["{{customer.first_name|there}}", "20%"]}
    segment: vip and not dormant
    schedule: {start: "2025-06-01T10:00:00+09:00"}
    send_windows: ["10-12", "20-22"]     # customer local time; [] = any time
    budget_usd: 150
    variants:
      - {name: A, weight: 50}
      - {name: B, weight: 50, template: {name: spring_sale_b}}

:meth:`CampaignSpec.to_mapping` is the canonical form (what ``spec_json`` holds);
:meth:`CampaignSpec.from_mapping` reads it back, and YAML files are read the same way.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from pipeline.campaigns.errors import CampaignSpecError
from pipeline.campaigns.identity import bucket_of
from pipeline.campaigns.parameters import ParameterTemplate
from pipeline.campaigns.segments import Segment, parse_segment, tags_in, to_text
from pipeline.policy.durations import HOUR_MS
from pipeline.policy.pricing import MICROS_PER_USD
from pipeline.policy.send_windows import (
    DEFAULT_SEND_WINDOWS,
    DEFAULT_WINDOWS,
    LocalWindow,
    SendWindows,
)

CATEGORIES = ("marketing", "utility", "authentication")
#: segment_efficiency (infra/clickhouse/queries) compares campaigns by these strategies.
SEGMENTATIONS = ("none", "frequency", "value", "heat", "mixed")
_FAMILY_STRATEGY = {"freq": "frequency", "value": "value", "vip": "value", "heat": "heat"}
_DEFAULT_TTL_HOURS = 72
_KNOWN_KEYS = frozenset(
    {
        "id",
        "business_number_id",
        "category",
        "template",
        "segment",
        "segmentation",
        "schedule",
        "send_windows",
        "default_zone",
        "budget_usd",
        "ttl_hours",
        "variants",
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class TemplateRef:
    name: str
    language: str
    parameters: tuple[ParameterTemplate, ...] = ()

    def to_mapping(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "language": self.language,
            "parameters": [p.text for p in self.parameters],
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Variant:
    name: str
    weight: float
    template: TemplateRef


@dataclass(frozen=True, slots=True, kw_only=True)
class CampaignSpec:
    id: str
    business_number_id: str
    category: str
    template: TemplateRef
    segment: Segment | None = None  # None: every customer
    segmentation: str = "none"
    start_ms: int | None = None  # None: as soon as launched
    send_windows: SendWindows | None = DEFAULT_SEND_WINDOWS  # None: any time of day
    budget_micros: int | None = None  # None: no cap
    ttl_ms: int = _DEFAULT_TTL_HOURS * HOUR_MS
    variants: tuple[Variant, ...] = ()

    def variant_for(self, customer: str) -> Variant | None:
        """The customer's A/B variant: fixed by (campaign id, customer), in every process."""
        if not self.variants:
            return None
        total = sum(v.weight for v in self.variants)
        point = bucket_of(self.id, customer) * total
        for variant in self.variants:
            point -= variant.weight
            if point < 0:
                return variant
        return self.variants[-1]  # float rounding at the very top of the range

    def to_mapping(self) -> dict[str, Any]:
        windows = self.send_windows
        return {
            "id": self.id,
            "business_number_id": self.business_number_id,
            "category": self.category,
            "template": self.template.to_mapping(),
            "segment": to_text(self.segment) if self.segment is not None else None,
            "segmentation": self.segmentation,
            "schedule": {"start_ms": self.start_ms},
            "send_windows": [_window_text(w) for w in windows.windows] if windows else [],
            "default_zone": windows.default_zone if windows else None,
            "budget_usd": (
                str(Decimal(self.budget_micros) / MICROS_PER_USD)
                if self.budget_micros is not None
                else None
            ),
            "ttl_hours": self.ttl_ms / HOUR_MS,
            "variants": [
                {"name": v.name, "weight": v.weight, "template": v.template.to_mapping()}
                for v in self.variants
            ],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_mapping(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> CampaignSpec:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise CampaignSpecError(f"campaign spec is not JSON: {exc}") from None
        return cls.from_mapping(data)

    @classmethod
    def from_mapping(cls, data: Any) -> CampaignSpec:
        return _read_spec(data)


def load_spec(path: Path) -> CampaignSpec:
    """Read a campaign YAML file; :class:`CampaignSpecError` naming the file and the field."""
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise CampaignSpecError(f"cannot read campaign file {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise CampaignSpecError(f"{path} is not valid YAML: {exc}") from None
    try:
        return CampaignSpec.from_mapping(data)
    except CampaignSpecError as exc:
        exc.args = (f"{path}: {exc}",)  # keep the type (SegmentSyntaxError), name the file
        raise


# --- reading ---------------------------------------------------------------------------------


def _read_spec(data: Any) -> CampaignSpec:
    if not isinstance(data, Mapping):
        raise CampaignSpecError("a campaign is a mapping with at least id, template and segment")
    unknown = sorted(set(data) - _KNOWN_KEYS)
    if unknown:
        raise CampaignSpecError(
            f"unknown campaign field(s) {unknown}; known fields: {sorted(_KNOWN_KEYS)}"
        )
    campaign_id = _text(data, "id")
    if any(ch.isspace() for ch in campaign_id):
        raise CampaignSpecError(f"id {campaign_id!r} must not contain spaces; use '-' instead")
    category = str(data.get("category", "marketing"))
    if category not in CATEGORIES:
        raise CampaignSpecError(f"category {category!r} must be one of {', '.join(CATEGORIES)}")
    template = _template(data.get("template"), where="template", base=None)
    segment_text = data.get("segment")
    segment = None
    if segment_text is not None and str(segment_text).strip() not in ("", "all", "*"):
        segment = parse_segment(str(segment_text))
    segmentation = str(data.get("segmentation") or _strategy(segment))
    if segmentation not in SEGMENTATIONS:
        raise CampaignSpecError(
            f"segmentation {segmentation!r} must be one of {', '.join(SEGMENTATIONS)}"
        )
    return CampaignSpec(
        id=campaign_id,
        business_number_id=_text(data, "business_number_id"),
        category=category,
        template=template,
        segment=segment,
        segmentation=segmentation,
        start_ms=_start_ms(data.get("schedule")),
        send_windows=_windows(data),
        budget_micros=_budget_micros(data.get("budget_usd")),
        ttl_ms=_ttl_ms(data.get("ttl_hours", _DEFAULT_TTL_HOURS)),
        variants=_variants(data.get("variants"), base=template),
    )


def _text(data: Mapping[str, Any], key: str, *, where: str = "") -> str:
    value = data.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise CampaignSpecError(f"{where}{key} is required")
    if isinstance(value, Mapping | Sequence) and not isinstance(value, str):
        raise CampaignSpecError(f"{where}{key} must be text, got {type(value).__name__}")
    return str(value).strip()


def _template(raw: Any, *, where: str, base: TemplateRef | None) -> TemplateRef:
    if raw is None and base is not None:
        return base
    if not isinstance(raw, Mapping):
        raise CampaignSpecError(
            f"{where} must be a mapping: {{name: ..., language: ..., parameters: [...]}}"
        )
    unknown = sorted(set(raw) - {"name", "language", "parameters"})
    if unknown:
        raise CampaignSpecError(
            f"{where}: unknown field(s) {unknown}; use name, language, parameters"
        )
    name = raw.get("name") or (base.name if base else None)
    if not name:
        raise CampaignSpecError(f"{where}.name is required (the approved template's name)")
    language = raw.get("language") or (base.language if base else "en_US")
    params_raw = raw.get("parameters")
    if params_raw is None:
        parameters = base.parameters if base else ()
    elif isinstance(params_raw, list):
        parameters = tuple(
            ParameterTemplate.parse(str(p), where=f"{where}.parameters[{i}]")
            for i, p in enumerate(params_raw)
        )
    else:
        raise CampaignSpecError(f"{where}.parameters must be a list of texts")
    return TemplateRef(name=str(name), language=str(language), parameters=parameters)


def _strategy(segment: Segment | None) -> str:
    """The segment_efficiency strategy a segment implies: the one tag family it selects on."""
    if segment is None:
        return "none"
    strategies = {
        _FAMILY_STRATEGY[family]
        for family in (tag.split(":", 1)[0] for tag in tags_in(segment))
        if family in _FAMILY_STRATEGY
    }
    if not strategies:
        return "none"  # only exclusions such as "not opted-out"
    return strategies.pop() if len(strategies) == 1 else "mixed"


def _start_ms(raw: Any) -> int | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise CampaignSpecError("schedule must be a mapping: {start: 2025-06-01T10:00:00+09:00}")
    if raw.get("start_ms") is not None:
        return int(raw["start_ms"])
    start = raw.get("start")
    if start is None:
        return None
    if isinstance(start, str):
        try:
            start = datetime.fromisoformat(start)
        except ValueError:
            raise CampaignSpecError(
                f"schedule.start {start!r} is not an ISO time; write 2025-06-01T10:00:00+09:00"
            ) from None
    if isinstance(start, datetime):
        if start.tzinfo is None:
            raise CampaignSpecError("schedule.start needs a UTC offset, e.g. +09:00 or Z")
        return int(start.timestamp() * 1000)
    if isinstance(start, date):
        raise CampaignSpecError("schedule.start needs a time of day and offset, not just a date")
    raise CampaignSpecError(f"schedule.start must be an ISO time, got {start!r}")


def _windows(data: Mapping[str, Any]) -> SendWindows | None:
    raw = data.get("send_windows", None)
    zone = data.get("default_zone") or DEFAULT_SEND_WINDOWS.default_zone
    try:
        if raw is None:
            return SendWindows(windows=DEFAULT_WINDOWS, default_zone=str(zone))
        if isinstance(raw, str):
            raw = [p for p in raw.split(",") if p.strip()]
        if not isinstance(raw, list):
            raise CampaignSpecError('send_windows must be a list like ["10-12", "20-22"]')
        if not raw:
            return None
        return SendWindows(
            windows=tuple(LocalWindow.parse(str(w)) for w in raw), default_zone=str(zone)
        )
    except ValueError as exc:
        raise CampaignSpecError(f"send_windows: {exc}") from None


def _window_text(window: LocalWindow) -> str:
    end = window.end_minute
    return (
        f"{window.start_minute // 60:02d}:{window.start_minute % 60:02d}-"
        f"{end // 60:02d}:{end % 60:02d}"
    )


def _budget_micros(raw: Any) -> int | None:
    if raw is None:
        return None
    try:
        amount = Decimal(str(raw))
    except InvalidOperation:
        raise CampaignSpecError(f"budget_usd must be a number of dollars, got {raw!r}") from None
    if not amount.is_finite() or amount <= 0:
        raise CampaignSpecError(f"budget_usd must be > 0, got {raw!r}; omit it for no cap")
    return int(amount * MICROS_PER_USD)


def _ttl_ms(raw: Any) -> int:
    try:
        hours = float(raw)
    except (TypeError, ValueError):
        raise CampaignSpecError(f"ttl_hours must be a number, got {raw!r}") from None
    if hours <= 0:
        raise CampaignSpecError(f"ttl_hours must be > 0, got {raw!r}")
    return int(hours * HOUR_MS)


def _variants(raw: Any, *, base: TemplateRef) -> tuple[Variant, ...]:
    if raw is None or raw == []:
        return ()
    if not isinstance(raw, list):
        raise CampaignSpecError("variants must be a list of {name, weight, template?}")
    variants: list[Variant] = []
    for i, item in enumerate(raw):
        where = f"variants[{i}]"
        if not isinstance(item, Mapping):
            raise CampaignSpecError(f"{where} must be a mapping {{name, weight, template?}}")
        name = _text(item, "name", where=f"{where}.")
        try:
            weight = float(item.get("weight", 1))
        except (TypeError, ValueError):
            raise CampaignSpecError(f"{where}.weight must be a number") from None
        if not weight > 0:
            raise CampaignSpecError(f"{where}.weight must be > 0, got {item.get('weight')!r}")
        template = _template(item.get("template"), where=f"{where}.template", base=base)
        variants.append(Variant(name=name, weight=weight, template=template))
    names = [v.name for v in variants]
    if len(set(names)) != len(names):
        raise CampaignSpecError(f"variant names must be unique, got {names}")
    return tuple(variants)


def spec_start_ms(spec: CampaignSpec, launched_ms: int) -> int:
    """When sending may begin: the schedule's start, or the launch."""
    return launched_ms if spec.start_ms is None else max(spec.start_ms, launched_ms)


__all__ = [
    "CATEGORIES",
    "SEGMENTATIONS",
    "CampaignSpec",
    "TemplateRef",
    "Variant",
    "load_spec",
    "spec_start_ms",
]
