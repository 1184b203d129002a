"""A dependency-free SVG line chart for benchmark results."""

from __future__ import annotations

from html import escape

COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]
WIDTH, HEIGHT, MARGIN = 720, 400, 60


def line_chart(
    *, title: str, x_label: str, y_label: str, series: dict[str, list[tuple[float, float]]]
) -> str:
    points = [p for values in series.values() for p in values]
    if not points:
        return "<svg xmlns='http://www.w3.org/2000/svg'/>"
    x_max = max(x for x, _ in points) or 1
    y_max = max(y for _, y in points) * 1.1 or 1
    plot_w, plot_h = WIDTH - 2 * MARGIN, HEIGHT - 2 * MARGIN

    def sx(x: float) -> float:
        return MARGIN + x / x_max * plot_w

    def sy(y: float) -> float:
        return HEIGHT - MARGIN - y / y_max * plot_h

    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{WIDTH}' height='{HEIGHT}' "
        "font-family='sans-serif' font-size='12'>",
        f"<rect width='{WIDTH}' height='{HEIGHT}' fill='white'/>",
        f"<text x='{WIDTH / 2}' y='24' text-anchor='middle' font-size='15'>{escape(title)}</text>",
        f"<line x1='{MARGIN}' y1='{HEIGHT - MARGIN}' x2='{WIDTH - MARGIN}' "
        f"y2='{HEIGHT - MARGIN}' stroke='black'/>",
        f"<line x1='{MARGIN}' y1='{MARGIN}' x2='{MARGIN}' y2='{HEIGHT - MARGIN}' stroke='black'/>",
        f"<text x='{WIDTH / 2}' y='{HEIGHT - 20}' text-anchor='middle'>{escape(x_label)}</text>",
        f"<text x='16' y='{HEIGHT / 2}' transform='rotate(-90 16 {HEIGHT / 2})' "
        f"text-anchor='middle'>{escape(y_label)}</text>",
    ]
    for i in range(5):
        y = y_max * i / 4
        parts.append(f"<text x='{MARGIN - 6}' y='{sy(y) + 4:.1f}' text-anchor='end'>{y:.0f}</text>")
        x = x_max * i / 4
        parts.append(
            f"<text x='{sx(x):.1f}' y='{HEIGHT - MARGIN + 16}' text-anchor='middle'>{x:.0f}</text>"
        )
    for n, (name, values) in enumerate(v for v in series.items() if v[1]):
        colour = COLOURS[n % len(COLOURS)]
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in sorted(values))
        parts.append(f"<polyline fill='none' stroke='{colour}' stroke-width='2' points='{path}'/>")
        parts.append(
            f"<text x='{WIDTH - MARGIN - 150}' y='{MARGIN + 16 * n}' fill='{colour}'>"
            f"{escape(name)}</text>"
        )
    parts.append("</svg>")
    return "\n".join(parts)


def bar_chart(*, title: str, y_label: str, groups: dict[str, dict[str, float]]) -> str:
    """Grouped bars: one group per label (e.g. a path), one bar per series, values written on
    the bars (so small ones stay readable next to tall ones)."""
    series = list(dict.fromkeys(name for bars in groups.values() for name in bars))
    values = [v for bars in groups.values() for v in bars.values()]
    if not values:
        return "<svg xmlns='http://www.w3.org/2000/svg'/>"
    y_max = max(values) * 1.15 or 1
    plot_w, plot_h = WIDTH - 2 * MARGIN, HEIGHT - 2 * MARGIN
    group_w = plot_w / len(groups)
    bar_w = group_w * 0.8 / len(series)
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{WIDTH}' height='{HEIGHT}' "
        "font-family='sans-serif' font-size='12'>",
        f"<rect width='{WIDTH}' height='{HEIGHT}' fill='white'/>",
        f"<text x='{WIDTH / 2}' y='24' text-anchor='middle' font-size='15'>{escape(title)}</text>",
        f"<line x1='{MARGIN}' y1='{HEIGHT - MARGIN}' x2='{WIDTH - MARGIN}' "
        f"y2='{HEIGHT - MARGIN}' stroke='black'/>",
        f"<text x='16' y='{HEIGHT / 2}' transform='rotate(-90 16 {HEIGHT / 2})' "
        f"text-anchor='middle'>{escape(y_label)}</text>",
    ]
    for g, (label, bars) in enumerate(groups.items()):
        left = MARGIN + g * group_w + group_w * 0.1
        parts.append(
            f"<text x='{left + group_w * 0.4:.1f}' y='{HEIGHT - MARGIN + 16}' "
            f"text-anchor='middle'>{escape(label)}</text>"
        )
        for s, name in enumerate(series):
            if name not in bars:
                continue
            height = bars[name] / y_max * plot_h
            x, y = left + s * bar_w, HEIGHT - MARGIN - height
            parts.append(
                f"<rect x='{x:.1f}' y='{y:.1f}' width='{bar_w * 0.9:.1f}' height='{height:.1f}' "
                f"fill='{COLOURS[s % len(COLOURS)]}'/>"
            )
            parts.append(
                f"<text x='{x + bar_w * 0.45:.1f}' y='{y - 4:.1f}' text-anchor='middle'>"
                f"{bars[name]:g}</text>"
            )
    for s, name in enumerate(series):
        parts.append(
            f"<text x='{WIDTH - MARGIN - 150}' y='{MARGIN + 16 * s}' "
            f"fill='{COLOURS[s % len(COLOURS)]}'>{escape(name)}</text>"
        )
    parts.append("</svg>")
    return "\n".join(parts)
