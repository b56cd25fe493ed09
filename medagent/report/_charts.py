"""Inline SVG charts (no library, no network): a bar per category, pass/fail per step count."""

from __future__ import annotations

from medagent.pages import esc

_PASS = "#2f8f5b"
_FAIL = "#c8443c"
_BAR = "#2f5fb3"


def category_bars(rows: list[tuple[str, float | None, str]], *, width: int = 720) -> str:
    """Horizontal bars: ``(label, fraction 0–1 or None, note)`` per row (labels carry the
    category's name, so the label column is wide)."""
    row_h, left, right = 24, 230, 190
    height = row_h * len(rows) + 28
    span = width - left - right
    parts = [
        f'<svg id="chart-categories" role="img" aria-label="Success rate per category" '
        f'viewBox="0 0 {width} {height}" width="100%" xmlns="http://www.w3.org/2000/svg">'
    ]
    for tick in (0, 25, 50, 75, 100):
        x = left + span * tick / 100
        parts.append(f'<line x1="{x:.1f}" y1="4" x2="{x:.1f}" y2="{height - 20}" stroke="#d9dee7"/>')
        parts.append(f'<text x="{x:.1f}" y="{height - 6}" text-anchor="middle">{tick}%</text>')
    for i, (label, value, note) in enumerate(rows):
        y = 6 + i * row_h
        parts.append(f'<text x="{left - 8}" y="{y + 14}" text-anchor="end">{esc(label)}</text>')
        if value is not None:
            w = span * value
            parts.append(
                f'<rect class="bar" x="{left}" y="{y + 2}" width="{w:.1f}" height="{row_h - 8}" fill="{_BAR}">'
                f"<title>{esc(label)}: {value * 100:.1f}%</title></rect>"
            )
            shown = f"{value * 100:.1f}%  {note}"
        else:
            shown = f"—  {note}"
        parts.append(f'<text x="{left + span + 6}" y="{y + 14}">{esc(shown)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def steps_bars(counts: dict[int, tuple[int, int]], *, width: int = 560, height: int = 240) -> str:
    """Stacked columns per number of steps: ``{steps: (passed, failed)}``."""
    left, bottom, top = 40, 36, 20
    keys = sorted(counts)
    peak = max((p + f for p, f in counts.values()), default=0) or 1
    span_w = width - left - 10
    span_h = height - bottom - top
    col_w = span_w / max(len(keys), 1)
    parts = [
        f'<svg id="chart-steps" role="img" aria-label="Passed and failed trials by number of steps" '
        f'viewBox="0 0 {width} {height}" width="100%" xmlns="http://www.w3.org/2000/svg">',
        f'<line x1="{left}" y1="{top + span_h}" x2="{width - 10}" y2="{top + span_h}" stroke="#5d6678"/>',
        f'<text x="{left - 6}" y="{top + 8}" text-anchor="end">{peak}</text>',
        f'<text x="{left - 6}" y="{top + span_h}" text-anchor="end">0</text>',
        f'<text x="{left + span_w / 2:.1f}" y="{height - 4}" text-anchor="middle">steps per trial</text>',
    ]
    for i, steps in enumerate(keys):
        passed, failed = counts[steps]
        x = left + i * col_w + col_w * 0.15
        w = col_w * 0.7
        base = top + span_h
        for n, colour, what in ((passed, _PASS, "passed"), (failed, _FAIL, "failed")):
            h = span_h * n / peak
            base -= h
            if n:
                parts.append(
                    f'<rect x="{x:.1f}" y="{base:.1f}" width="{w:.1f}" height="{h:.1f}" fill="{colour}">'
                    f"<title>{steps} steps: {n} {what}</title></rect>"
                )
        total = passed + failed
        rate = f"{passed / total * 100:.0f}%" if total else ""
        parts.append(f'<text x="{x + w / 2:.1f}" y="{top + span_h + 14}" text-anchor="middle">{steps}</text>')
        parts.append(f'<text x="{x + w / 2:.1f}" y="{base - 3:.1f}" text-anchor="middle">{rate}</text>')
    parts.append("</svg>")
    return "".join(parts)
