"""Inline SVG charts for the HTML report: no JavaScript, no external files, no fonts to fetch.

Each function returns one ``<svg>`` element as text (valid XML, so tests can parse it). Values
are drawn to scale from zero; labels are escaped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

PALETTE = ("#2563eb", "#16a34a", "#f59e0b", "#dc2626", "#7c3aed", "#0891b2")
_FONT = 'font-family="system-ui, sans-serif" font-size="12"'

ValueFormat = Callable[[float], str]


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.3g}"


def _empty(width: int, title: str) -> str:
    return (
        f'<svg role="img" width="{width}" height="40" viewBox="0 0 {width} 40">'
        f"<title>{escape(title)}</title>"
        f'<text x="8" y="24" {_FONT} fill="#666">no data</text></svg>'
    )


def _plot_frame(
    width: int, height: int, *, title: str, left: int, top_pad: int, plot_h: int, top_label: str
) -> list[str]:
    """The opening of a chart with a y scale: svg element, title, baseline, top value."""
    return [
        f'<svg role="img" width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{left}" y1="{top_pad + plot_h}" x2="{width - 10}" y2="{top_pad + plot_h}" '
        'stroke="#999"/>',
        f'<text x="{left - 6}" y="{top_pad + 4}" text-anchor="end" {_FONT}>'
        f"{escape(top_label)}</text>",
    ]


def _legend_entry(index: int, name: str, color: str, *, left: int) -> str:
    x = left + index * 140
    return (
        f'<rect x="{x}" y="6" width="10" height="10" fill="{color}"/>'
        f'<text x="{x + 14}" y="15" {_FONT}>{escape(name)}</text>'
    )


def horizontal_bars(
    items: Sequence[tuple[str, float]],
    *,
    title: str,
    value_format: ValueFormat = _number,
    width: int = 640,
    bar_height: int = 22,
) -> str:
    """One bar per (label, value), longest = the largest value."""
    if not items:
        return _empty(width, title)
    label_w, value_w = 170, 90
    plot_w = width - label_w - value_w
    top = max((value for _, value in items), default=0) or 1
    height = len(items) * (bar_height + 6) + 6
    parts = [
        f'<svg role="img" width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
        f"<title>{escape(title)}</title>",
    ]
    for i, (label, value) in enumerate(items):
        y = 6 + i * (bar_height + 6)
        bar_w = max(0.0, value) / top * plot_w
        parts.append(
            f'<text x="{label_w - 8}" y="{y + bar_height * 0.7:.1f}" text-anchor="end" '
            f"{_FONT}>{escape(label)}</text>"
            f'<rect class="bar" x="{label_w}" y="{y}" width="{bar_w:.2f}" height="{bar_height}" '
            f'fill="{PALETTE[i % len(PALETTE)]}" data-value="{value}"/>'
            f'<text x="{label_w + bar_w + 6:.1f}" y="{y + bar_height * 0.7:.1f}" {_FONT}>'
            f"{escape(value_format(value))}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def grouped_bars(
    categories: Sequence[str],
    series: dict[str, Sequence[float]],
    *,
    title: str,
    value_format: ValueFormat = _number,
    width: int = 640,
    height: int = 260,
) -> str:
    """Vertical bars: one group per category, one bar per series, with a legend."""
    if not categories or not series:
        return _empty(width, title)
    left, bottom, top_pad = 60, 40, 28
    plot_w, plot_h = width - left - 10, height - bottom - top_pad
    top = max((v for values in series.values() for v in values), default=0) or 1
    group_w = plot_w / len(categories)
    bar_w = group_w * 0.8 / len(series)
    parts = _plot_frame(
        width,
        height,
        title=title,
        left=left,
        top_pad=top_pad,
        plot_h=plot_h,
        top_label=value_format(top),
    )
    for s, (name, values) in enumerate(series.items()):
        color = PALETTE[s % len(PALETTE)]
        parts.append(_legend_entry(s, name, color, left=left))
        for c, value in enumerate(values):
            bar_h = max(0.0, value) / top * plot_h
            x = left + c * group_w + group_w * 0.1 + s * bar_w
            parts.append(
                f'<rect class="bar" x="{x:.2f}" y="{top_pad + plot_h - bar_h:.2f}" '
                f'width="{bar_w:.2f}" height="{bar_h:.2f}" fill="{color}" data-value="{value}">'
                f"<title>{escape(name)} {escape(value_format(value))}</title></rect>"
            )
    for c, category in enumerate(categories):
        parts.append(
            f'<text x="{left + (c + 0.5) * group_w:.1f}" y="{height - bottom + 16}" '
            f'text-anchor="middle" {_FONT}>{escape(category)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def lines(
    x_labels: Sequence[str],
    series: dict[str, Sequence[float | None]],
    *,
    title: str,
    value_format: ValueFormat = _number,
    width: int = 640,
    height: int = 240,
) -> str:
    """One polyline per series over shared x labels; a None value breaks the line."""
    if not x_labels or not series:
        return _empty(width, title)
    left, bottom, top_pad = 60, 36, 28
    plot_w, plot_h = width - left - 10, height - bottom - top_pad
    top = max((v for values in series.values() for v in values if v is not None), default=0) or 1
    step = plot_w / max(1, len(x_labels) - 1)
    parts = _plot_frame(
        width,
        height,
        title=title,
        left=left,
        top_pad=top_pad,
        plot_h=plot_h,
        top_label=value_format(top),
    )
    parts += [
        f'<text x="{left}" y="{height - 8}" {_FONT}>{escape(x_labels[0])}</text>',
        f'<text x="{width - 10}" y="{height - 8}" text-anchor="end" {_FONT}>'
        f"{escape(x_labels[-1])}</text>",
    ]
    for s, (name, values) in enumerate(series.items()):
        color = PALETTE[s % len(PALETTE)]
        parts.append(_legend_entry(s, name, color, left=left))
        segment: list[str] = []
        for i, value in enumerate([*values, None]):
            if value is None:
                if segment:
                    parts.append(
                        f'<polyline fill="none" stroke="{color}" stroke-width="2" '
                        f'points="{" ".join(segment)}"/>'
                    )
                segment = []
                continue
            y = top_pad + plot_h - value / top * plot_h
            segment.append(f"{left + i * step:.1f},{y:.1f}")
    parts.append("</svg>")
    return "".join(parts)
