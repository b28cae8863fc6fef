"""Template filters of the shell."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

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


@register.filter
def zone_name(value: datetime | None) -> str:
    """The time zone a shown time is in, unambiguously: "北京时间" / "Beijing time" for
    Asia/Shanghai (whose abbreviation "CST" also means US Central), else "UTC+8"-style."""
    if value is None:
        return ""
    local = timezone.localtime(value)
    name = str(timezone.get_current_timezone())
    if name in ("Asia/Shanghai", "Asia/Chongqing", "PRC"):
        return str(_("北京时间"))
    offset = local.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    sign = "+" if minutes >= 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


def _chinese() -> bool:
    return (get_language() or "").startswith("zh")


@register.simple_tag
def colon() -> str:
    """The colon after a label or a name: full-width "：" in Chinese, ": " in English."""
    return "：" if _chinese() else ": "


@register.simple_tag
def paren(value: object) -> str:
    """A value in brackets after a word: "（12）" in Chinese, " (12)" in English."""
    return f"（{value}）" if _chinese() else f" ({value})"


@register.simple_tag
def enum_comma() -> str:
    """Between the items of a list written out: "、" in Chinese, ", " in English."""
    return "、" if _chinese() else ", "
