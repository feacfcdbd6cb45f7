"""Server-rendered charts (inline SVG, no JavaScript, no build chain): the view computes the bars, the template
`includes/bar_chart.html` draws them. Every chart has a text table next to it for screen readers."""

from decimal import Decimal

from parcours.counting import hours_text


def bars(items, *, targets=None, fmt=hours_text) -> dict:
    """Horizontal bars from (label, value) pairs; `targets` ({label: value}) draws a target mark on each row."""
    items = [(str(label), Decimal(value or 0)) for label, value in items]
    targets = {str(k): Decimal(v or 0) for k, v in (targets or {}).items()}
    top = max([value for _, value in items] + list(targets.values()) + [Decimal("1")])
    rows = []
    for index, (label, value) in enumerate(items):
        target = targets.get(label)
        rows.append(
            {
                "label": label,
                "value": value,
                "value_label": fmt(value),
                "width": round(float(value / top) * 100, 2),
                "target": None if target is None else round(float(target / top) * 100, 2),
                "target_label": "" if target is None else fmt(target),
                "y": index * 28,
            }
        )
    return {"rows": rows, "height": max(len(rows) * 28, 28)}
