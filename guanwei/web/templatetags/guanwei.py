"""Template filters of the shell."""

from __future__ import annotations

from django import template
from django.utils.translation import get_language

register = template.Library()


@register.filter
def count(value: int | None) -> str:
    """A count as people read it: 12.3万 / 1.2亿 in Chinese, 123,456 in English."""
    if value is None:
        return "—"
    n = int(value)
    if (get_language() or "").startswith("zh"):
        for unit, size in (("亿", 100_000_000), ("万", 10_000)):
            if abs(n) >= size:
                text = f"{n / size:.1f}".rstrip("0").rstrip(".")
                return f"{text}{unit}"
        return str(n)
    return f"{n:,}"
