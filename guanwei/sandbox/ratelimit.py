"""Rate limits and posting rules of a sandbox app (PLATFORM_APIS §4.1), counted in the database
in hourly (and, for follows, daily) windows so every web process sees the same counts.

An app's effective limits are its tier's table plus `App.limits` overrides. Keys (0 = unlimited):

=====================  =========================================================================
tier                   normal (default) | middle | advanced | partner | unlimited
ip_hourly              calls per server IP per hour, all apps                       → 10022
user_hourly            calls per user per app per hour                              → 10023
posts_hourly           statuses/share + repost per user per app per hour            → 10024
comments_hourly        comments/create + reply                                      → 10024
messages_hourly        messages/reply                                               → 10024
follows_hourly         friendships/create per user per app per hour                → 10024
follows_daily          … per day                                                    → 20521
commercial_ip_hourly   search/statuses/limited per IP per hour (50000)              → 10022
burst_posts, burst_window_s   more than N posts within the window: "发微博太多啦"     → 20016
duplicate_lookback     how many of the user's latest statuses are compared          → 20019
duplicate_window_s     … within this age (identical text, 20019; similar, 20017)
similar_ratio          difflib ratio at which two texts count as similar (0 = off)  → 20017
user_timeline_latest   statuses/user_timeline returns only the latest N (5)
=====================  =========================================================================
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F

from guanwei.core.clock import now

from .errors import ApiError
from .models import App, RateCounter

TIERS: dict[str, dict[str, int]] = {
    "normal": {
        "ip_hourly": 10000,
        "user_hourly": 150,
        "posts_hourly": 30,
        "comments_hourly": 60,
        "messages_hourly": 60,
        "follows_hourly": 60,
        "follows_daily": 200,
    },
    "middle": {
        "ip_hourly": 20000,
        "user_hourly": 300,
        "posts_hourly": 60,
        "comments_hourly": 120,
        "messages_hourly": 120,
        "follows_hourly": 120,
        "follows_daily": 400,
    },
    "advanced": {
        "ip_hourly": 30000,
        "user_hourly": 450,
        "posts_hourly": 90,
        "comments_hourly": 180,
        "messages_hourly": 180,
        "follows_hourly": 180,
        "follows_daily": 600,
    },
    "partner": {
        "ip_hourly": 40000,
        "user_hourly": 0,
        "posts_hourly": 120,
        "comments_hourly": 240,
        "messages_hourly": 240,
        "follows_hourly": 240,
        "follows_daily": 800,
    },
    "unlimited": {
        "ip_hourly": 0,
        "user_hourly": 0,
        "posts_hourly": 0,
        "comments_hourly": 0,
        "messages_hourly": 0,
        "follows_hourly": 0,
        "follows_daily": 0,
    },
}
RULES: dict[str, Any] = {
    "commercial_ip_hourly": 50000,
    "burst_posts": 5,
    "burst_window_s": 60,
    "duplicate_lookback": 10,
    "duplicate_window_s": 24 * 3600,
    "similar_ratio": 0.9,
    "user_timeline_latest": 5,
}
# The unlimited tier is for benchmarks and tests: no throttling, no similarity rule (identical
# posts are still refused — that is a content rule, not a rate).
UNLIMITED_RULES = {"burst_posts": 0, "similar_ratio": 0, "commercial_ip_hourly": 0}

# API category → (limit key, name shown in 10024 and rate_limit_status).
CATEGORIES = {
    "posts": ("posts_hourly", "update_status"),
    "comments": ("comments_hourly", "create_comment"),
    "messages": ("messages_hourly", "send_message"),
    "follows": ("follows_hourly", "follow_app"),
}


def limits_for(app: App | None) -> dict[str, Any]:
    overrides = dict(app.limits) if app is not None else {}
    tier = overrides.pop("tier", "normal")
    if tier not in TIERS:
        tier = "normal"
    merged: dict[str, Any] = {**TIERS[tier], **RULES}
    if tier == "unlimited":
        merged.update(UNLIMITED_RULES)
    merged.update(overrides)
    return merged


def hour_start(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


def day_start(at: datetime) -> datetime:
    return at.replace(hour=0, minute=0, second=0, microsecond=0)


def _increment(bucket: str, window: datetime) -> int:
    """Count one call in (bucket, window) and return the new count."""
    with transaction.atomic():
        if not RateCounter.objects.filter(bucket=bucket, window_start=window).update(
            count=F("count") + 1
        ):
            try:
                with transaction.atomic():
                    RateCounter.objects.create(bucket=bucket, window_start=window, count=1)
                # A new window: forget windows older than two days while we are here.
                RateCounter.objects.filter(window_start__lt=window - timedelta(days=2)).delete()
                return 1
            except IntegrityError:
                RateCounter.objects.filter(bucket=bucket, window_start=window).update(
                    count=F("count") + 1
                )
        return RateCounter.objects.values_list("count", flat=True).get(
            bucket=bucket, window_start=window
        )


def _take(bucket: str, window: datetime, limit: int, error: ApiError) -> None:
    if not limit:
        return
    if _increment(bucket, window) > limit:
        # Refused calls do not use up the bucket.
        RateCounter.objects.filter(bucket=bucket, window_start=window).update(count=F("count") - 1)
        raise error


def used(bucket: str, window: datetime) -> int:
    return (
        RateCounter.objects.filter(bucket=bucket, window_start=window)
        .values_list("count", flat=True)
        .first()
        or 0
    )


def ip_bucket(ip: str, commercial: bool = False) -> str:
    return f"{'cip' if commercial else 'ip'}:{ip}"


def user_bucket(app: App, uid: int, category: str = "user") -> str:
    return f"{category}:{app.pk}:{uid}"


def check(
    app: App | None, uid: int | None, ip: str, category: str = "", *, commercial: bool = False
) -> None:
    """Count one API call; raise 10022/10023/10024 when a bucket is full (one window each)."""
    limits = limits_for(app)
    window = hour_start(now())
    ip_limit = limits["commercial_ip_hourly"] if commercial else limits["ip_hourly"]
    _take(ip_bucket(ip, commercial), window, ip_limit, ApiError(10022))
    if app is None or uid is None:
        return
    _take(user_bucket(app, uid), window, limits["user_hourly"], ApiError(10023))
    if category:
        key, name = CATEGORIES[category]
        _take(user_bucket(app, uid, category), window, limits[key], ApiError(10024, name))


def check_daily_follows(app: App, uid: int) -> None:
    """The per-day follow cap ("加关注 200/day"); Weibo's 20521 "followed too many today"."""
    limit = limits_for(app)["follows_daily"]
    _take(user_bucket(app, uid, "follows_day"), day_start(now()), limit, ApiError(20521))


def status(app: App, uid: int, ip: str) -> dict[str, Any]:
    """The account/rate_limit_status reply, mirroring the buckets."""
    limits = limits_for(app)
    at = now()
    window = hour_start(at)
    reset = window + timedelta(hours=1)

    def remaining(limit: int, count: int) -> int:
        return max(limit - count, 0) if limit else -1

    api_limits = []
    for category, (key, name) in CATEGORIES.items():
        count = used(user_bucket(app, uid, category), window)
        api_limits.append(
            {
                "api": name,
                "limit": limits[key] or -1,
                "limit_time_unit": "HOURS",
                "remaining_hits": remaining(limits[key], count),
            }
        )
    api_limits.append(
        {
            "api": "follow_app_daily",
            "limit": limits["follows_daily"] or -1,
            "limit_time_unit": "DAYS",
            "remaining_hits": remaining(
                limits["follows_daily"], used(user_bucket(app, uid, "follows_day"), day_start(at))
            ),
        }
    )
    from .serializers import CHINA

    return {
        "ip_limit": limits["ip_hourly"] or -1,
        "limit_time_unit": "HOURS",
        "remaining_ip_hits": remaining(limits["ip_hourly"], used(ip_bucket(ip), window)),
        "remaining_user_hits": remaining(
            limits["user_hourly"], used(user_bucket(app, uid), window)
        ),
        "reset_time": reset.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S"),
        "reset_time_in_seconds": int((reset - at).total_seconds()),
        "user_limit": limits["user_hourly"] or -1,
        "api_rate_limits": api_limits,
    }
