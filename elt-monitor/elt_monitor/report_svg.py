"""Inline SVG for the report: a chart of points in their expected band, and the strip of
run verdicts. Plain strings, no script and no external reference, so the page draws the
same offline, in a mail attachment or from a file share.

Points are spaced evenly in label order (event dates or runs): a gap of quiet days or a
late row for an old date does not squeeze the days that matter. Colours live in the
page's CSS by class (`band`, `line`, `point`, `point out`, `sev-<severity>`).
"""

from __future__ import annotations

from html import escape

from elt_monitor.report_data import Point, RunMark, Series

WIDTH, HEIGHT = 640, 150
LEFT, RIGHT, TOP, BOTTOM = 56, 10, 8, 20


def _format(value: float, unit: str) -> str:
    if unit == "share":
        return f"{value:.0%}"
    return f"{value:,.0f}" if abs(value) >= 100 or value == int(value) else f"{value:.3g}"


def _scale(points: list[Point]) -> float:
    top = max(
        [p.value for p in points] + [p.high for p in points if p.high is not None], default=0.0
    )
    return top * 1.08 if top > 0 else 1.0


def _bands(points: list[Point], xs: list[float], y) -> list[str]:
    """One polygon per run of consecutive points that have a band."""
    polygons, segment = [], []
    for point, x in [*zip(points, xs, strict=True), (None, None)]:
        if point is not None and point.low is not None and point.high is not None:
            segment.append((x, y(point.high), y(max(point.low, 0.0))))
            continue
        if segment:
            if len(segment) == 1:  # a lone day: a short bar around it
                x0, hi, lo = segment[0]
                segment = [(x0 - 3, hi, lo), (x0 + 3, hi, lo)]
            upper = " ".join(f"{x:.1f},{hi:.1f}" for x, hi, _ in segment)
            lower = " ".join(f"{x:.1f},{lo:.1f}" for x, _, lo in reversed(segment))
            polygons.append(f'<polygon class="band" points="{upper} {lower}"/>')
            segment = []
    return polygons


def chart(series: Series, kind: str, width: int = WIDTH, height: int = HEIGHT) -> str:
    """`kind` (volume, full-load, column) is the svg's second class."""
    points = series.points
    plot_w, plot_h = width - LEFT - RIGHT, height - TOP - BOTTOM
    top = _scale(points)

    def y(value: float) -> float:
        return TOP + plot_h - min(max(value, 0.0), top) / top * plot_h

    if len(points) == 1:
        xs = [LEFT + plot_w / 2]
    else:
        step = plot_w / (len(points) - 1)
        xs = [LEFT + i * step for i in range(len(points))]
    out = [
        f'<svg class="chart {escape(kind)}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(series.title)}" '
        f'data-stream="{escape(series.stream)}">',
        f'<line class="axis" x1="{LEFT}" y1="{TOP + plot_h}" x2="{width - RIGHT}" '
        f'y2="{TOP + plot_h}"/>',
        f'<text class="tick" x="{LEFT - 4}" y="{TOP + 8}" text-anchor="end">'
        f"{escape(_format(top, series.unit))}</text>",
        f'<text class="tick" x="{LEFT - 4}" y="{TOP + plot_h}" text-anchor="end">0</text>',
        *_bands(points, xs, y),
    ]
    if len(points) > 1:
        line = " ".join(f"{x:.1f},{y(p.value):.1f}" for p, x in zip(points, xs, strict=True))
        out.append(f'<polyline class="line" points="{line}"/>')
    for point, x in zip(points, xs, strict=True):
        kind = "point out" if point.outside else "point"
        out.append(
            f'<circle class="{kind}" cx="{x:.1f}" cy="{y(point.value):.1f}" r="3" '
            f'data-label="{escape(point.label)}" data-value="{point.value:g}">'
            f"<title>{escape(point.note or point.label)}</title></circle>"
        )
    labels = [(xs[0], points[0].label, "start")]
    if len(points) > 1:
        labels.append((xs[-1], points[-1].label, "end"))
    out += [
        f'<text class="tick" x="{x:.1f}" y="{height - 5}" text-anchor="{anchor}">'
        f"{escape(label)}</text>"
        for x, label, anchor in labels
    ]
    out.append("</svg>")
    return "".join(out)


def verdict_strip(marks: list[RunMark], width: int = WIDTH, height: int = 26) -> str:
    """One coloured cell per job run, oldest left: a bad night stands out at a glance."""
    if not marks:
        return ""
    cell = width / len(marks)
    out = [
        f'<svg class="strip" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        'role="img" aria-label="verdict per job run, oldest first">'
    ]
    for index, mark in enumerate(marks):
        severity = mark.severity or "none"
        out.append(
            f'<rect class="sev-{severity}" x="{index * cell:.1f}" y="2" '
            f'width="{max(cell - 1, 1):.1f}" height="{height - 4}">'
            f"<title>{escape(mark.job_run_id)}: {escape(severity)}</title></rect>"
        )
    out.append("</svg>")
    return "".join(out)
