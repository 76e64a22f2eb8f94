"""Stacked bar charts as SVG markup, drawn by the server: the page needs no script, and
the CSP allows no inline style, so every colour is a class (`series-0`...) the
stylesheet paints, for light and dark alike. Every text is escaped here, since the
markup is handed to the page as is."""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 900, 260
_LEFT, _RIGHT, _TOP, _BOTTOM = 48, 8, 28, 36
_X_LABELS = 12  # at most this many labels under the bars


@dataclass(frozen=True)
class Bar:
    label: str  # under the bar (only every few bars get theirs shown)
    title: str  # the hover text's heading
    values: dict[str, int]  # series -> value


def nice_ceiling(value: int) -> int:
    """The axis top: the value rounded up to 1, 2 or 5 times a power of ten."""
    if value <= 0:
        return 1
    power = int(10 ** (len(str(value)) - 1))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= value)


def _text(x: float, y: float, content: str, css: str, anchor: str = "start") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" class="{css}" text-anchor="{anchor}">'
        f"{escape(content)}</text>"
    )


def stacked_bars(title: str, bars: list[Bar], series: list[tuple[str, str]], unit: str) -> str:
    """Bars stacked in `series` order ((name, CSS class), first at the bottom), a y axis
    with three ticks, x labels under every few bars, a legend, and a <title> per bar."""
    plot_w, plot_h = WIDTH - _LEFT - _RIGHT, HEIGHT - _TOP - _BOTTOM
    top = nice_ceiling(max((sum(b.values.values()) for b in bars), default=0))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'class="chart" role="img"><title>{escape(title)}</title>'
    ]
    for tick in (0, top // 2, top) if top > 1 else (0, top):
        y = _TOP + plot_h - plot_h * tick / top
        parts.append(
            f'<line x1="{_LEFT}" x2="{WIDTH - _RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
        )
        parts.append(_text(_LEFT - 6, y + 4, f"{tick:,}", "axis", "end"))
    slot = plot_w / max(len(bars), 1)
    every = max(1, math.ceil(len(bars) / _X_LABELS))
    for i, bar in enumerate(bars):
        x, y = _LEFT + i * slot, float(_TOP + plot_h)
        total = sum(bar.values.values())
        shown = ", ".join(
            f"{s or '(none)'} {bar.values[s]:,}" for s, _ in series if bar.values.get(s)
        )
        hover = f"{bar.title}: {total:,} {unit}" + (f" ({shown})" if shown else "")
        parts.append(f'<g class="bar"><title>{escape(hover)}</title>')
        parts.append(
            f'<rect x="{x:.1f}" y="{_TOP}" width="{slot:.1f}" height="{plot_h}" class="hit"/>'
        )
        for name, css in series:
            value = bar.values.get(name, 0)
            if not value:
                continue
            h = plot_h * value / top
            y -= h
            parts.append(
                f'<rect x="{x + slot * 0.1:.1f}" y="{y:.1f}" width="{slot * 0.8:.1f}" '
                f'height="{h:.1f}" class="{css}"/>'
            )
        parts.append("</g>")
        if i % every == 0:
            parts.append(_text(x + slot / 2, HEIGHT - _BOTTOM + 16, bar.label, "axis", "middle"))
    x = float(_LEFT)
    for name, css in series:
        parts.append(f'<rect x="{x:.1f}" y="8" width="10" height="10" class="{css}"/>')
        label = name or "(none)"
        parts.append(_text(x + 14, 17, label, "legend"))
        x += 24 + 7.5 * len(label)
    parts.append("</svg>")
    return "".join(parts)
