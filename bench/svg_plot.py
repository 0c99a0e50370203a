"""A small SVG line chart: stacked panels sharing a time axis, no plotting library needed."""

from html import escape

WIDTH, PANEL_HEIGHT, LEFT, RIGHT, TOP, GAP = 760, 150, 70, 20, 30, 45
COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]


def _nice_max(value):
    if value <= 0:
        return 1
    step = 10 ** (len(str(int(value))) - 1)
    return (int(value / step) + 1) * step


def line_chart(title, times, panels, marks=()):
    """panels: [(y label, {series name: [values]})]; marks: [(time, label)] drawn as lines."""
    height = TOP + len(panels) * (PANEL_HEIGHT + GAP) + 10
    t_max = max(times) if times else 1
    plot_w = WIDTH - LEFT - RIGHT
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
           f'font-family="sans-serif" font-size="11">',
           '<rect width="100%" height="100%" fill="white"/>',
           f'<text x="{WIDTH / 2}" y="18" text-anchor="middle" font-size="14">{escape(title)}</text>']

    def x_of(t):
        return LEFT + plot_w * t / t_max

    for index, (label, series) in enumerate(panels):
        top = TOP + index * (PANEL_HEIGHT + GAP)
        bottom = top + PANEL_HEIGHT
        y_max = _nice_max(max((max(v) for v in series.values() if v), default=1))
        out.append(f'<rect x="{LEFT}" y="{top}" width="{plot_w}" height="{PANEL_HEIGHT}" '
                   f'fill="none" stroke="#999"/>')
        out.append(f'<text x="14" y="{(top + bottom) / 2}" transform="rotate(-90 14 '
                   f'{(top + bottom) / 2})" text-anchor="middle">{escape(label)}</text>')
        for fraction in (0, 0.5, 1):
            y = bottom - PANEL_HEIGHT * fraction
            out.append(f'<text x="{LEFT - 5}" y="{y + 4}" text-anchor="end">'
                       f'{y_max * fraction:g}</text>')
        for t, text in marks:
            out.append(f'<line x1="{x_of(t):.1f}" y1="{top}" x2="{x_of(t):.1f}" y2="{bottom}" '
                       f'stroke="#bbb" stroke-dasharray="4 3"/>')
            if index == 0:
                out.append(f'<text x="{x_of(t) + 3:.1f}" y="{top + 12}" fill="#666">'
                           f'{escape(text)}</text>')
        for n, (name, values) in enumerate(series.items()):
            color = COLORS[n % len(COLORS)]
            points = " ".join(f"{x_of(t):.1f},{bottom - PANEL_HEIGHT * v / y_max:.1f}"
                              for t, v in zip(times, values))
            out.append(f'<polyline points="{points}" fill="none" stroke="{color}" '
                       f'stroke-width="1.5"/>')
            out.append(f'<text x="{LEFT + 8 + 150 * n}" y="{bottom + 14}" fill="{color}">'
                       f'— {escape(name)}</text>')
        out.append(f'<text x="{LEFT + plot_w}" y="{bottom + 28}" text-anchor="end">'
                   f'seconds</text>')
        for t in range(0, int(t_max) + 1, 5):
            out.append(f'<text x="{x_of(t):.1f}" y="{bottom + 28}" text-anchor="middle">'
                       f'{t}</text>')
    out.append("</svg>")
    return "\n".join(out)
