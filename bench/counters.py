"""Benchmark monitoring's counters over long periods (issue 15): the sums the dashboard, the
counts API and share of voice read, from the hour rollups, against the same sums from minute rows.

    .venv/bin/python bench/counters.py [--quick] [--runs N] [--database sqlite|postgres|both]

Per database, in a child process (SQLite in a temporary directory; PostgreSQL `gw_bench_counters`
on 127.0.0.1, dropped and created, when it answers): migrated, seeded with the demo enterprise
(`ops.seed.seed_demo`, no history), then MONITORS monitors (`--quick`: 5) each get a MinuteCount
row in every minute of the last 30 days — the worst case, 43,200 rows a monitor — and their
HourCount rows are rolled up from them as the migration does (the consumer's own writing is
measured by bench/monitoring.py and checked by its `hour_counter_mismatches`). Then ANALYZE.

Measured, `--runs` times each after a warm-up, p95 of wall times:
* `series_<period>_p95_ms` — `queries.series` of one monitor for 24h (by hour), 7d (by hour) and
  30d (by day), as the dashboard and `GET /api/v1/monitors/<id>/counts` read it;
* `series_<period>_minutes_p95_ms` — the same series summed from the minute rows alone (how it
  was read before the rollups), to compare;
* `dashboard_30d_p95_ms` — the monitor's page for 30 days through Django's test client, signed in
  as the analyst (everything else on it included: top posts, voices, terms — empty here);
* `share_30d_p95_ms` — the share-of-voice page for 30 days over all the monitors;
* `sums_equal` — every series equal to its minute-only twin.

The last line is `RESULT {json}`: the figures of the last database measured, and `by_database`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
MONITORS, QUICK_MONITORS = 20, 5
DAYS = 30
PG = "postgres://postgres@127.0.0.1:5432/gw_bench_counters"


def pg_answers() -> bool:
    try:
        import psycopg

        psycopg.connect(PG.rsplit("/", 1)[0] + "/postgres", connect_timeout=3).close()
        return True
    except Exception:
        return False


def recreate_pg() -> None:
    import psycopg

    with psycopg.connect(PG.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute('DROP DATABASE IF EXISTS "gw_bench_counters" WITH (FORCE)')
        conn.execute('CREATE DATABASE "gw_bench_counters"')


def p95_ms(run, runs: int) -> float:  # noqa: ANN001
    run()  # warm-up
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        run()
        times.append((time.perf_counter() - t0) * 1000)
    return round(statistics.quantiles(times, n=20)[-1] if len(times) > 1 else times[0], 1)


def child(args: argparse.Namespace) -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "guanwei.settings")
    django.setup()
    import importlib
    from zoneinfo import ZoneInfo

    from django.apps import apps
    from django.core.management import call_command
    from django.db import connection
    from django.db.models import Sum
    from django.test import Client

    from guanwei.core import clock
    from guanwei.core.models import Member
    from guanwei.monitoring import queries
    from guanwei.monitoring.models import COUNTERS, HourCount, MinuteCount, Monitor
    from guanwei.ops.seed import seed_demo

    t0 = time.perf_counter()
    call_command("migrate", verbosity=0)
    report = seed_demo("http://127.0.0.1:8000", with_history=False)
    enterprise = report.enterprise
    tz = ZoneInfo(enterprise.time_zone)
    count = QUICK_MONITORS if args.quick else MONITORS
    monitors = [Monitor.objects.create(enterprise=enterprise, name=f"压测 {i}", group="competitor" if i % 4 == 0 else "brand",
                                       rule=f"压测词{i}") for i in range(count)]  # fmt: skip
    now = clock.now().replace(second=0, microsecond=0)
    minutes = DAYS * 24 * 60
    for n, monitor in enumerate(monitors):
        rows = []
        for i in range(minutes):
            volume = 1 + (i * 7 + n) % 5
            negative = volume // 3
            rows.append(MinuteCount(monitor=monitor, minute=now - timedelta(minutes=i), volume=volume,
                                    negative=negative, neutral=volume - negative, calm=volume, reach=100 * volume))  # fmt: skip
            if len(rows) == 10_000:
                MinuteCount.objects.bulk_create(rows)
                rows = []
        MinuteCount.objects.bulk_create(rows)
    importlib.import_module("guanwei.monitoring.migrations.0008_hour_counts").roll_up(apps, None)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    setup_s = time.perf_counter() - t0
    print(f"{args.database}: {MinuteCount.objects.count():,} minute rows in {setup_s:.0f} s", file=sys.stderr)

    def from_minutes(monitor: Monitor, since: Any, bucket: str) -> list[dict[str, Any]]:
        """The series as it was read before the hour rows: every minute row summed."""
        rows = (MinuteCount.objects.filter(monitor=monitor, minute__gte=since)
                .annotate(at=queries.TRUNC[bucket]("minute", tzinfo=tz)).values("at")
                .annotate(**{k: Sum(k) for k in COUNTERS}).order_by("at"))  # fmt: skip
        found = {r["at"].astimezone(tz).replace(tzinfo=None): r for r in rows}
        out, at = [], queries.TRUNC_PY[bucket](since.astimezone(tz).replace(tzinfo=None))
        end = clock.now().astimezone(tz).replace(tzinfo=None)
        while at <= end:
            row = found.get(at) or {}
            out.append({"at": at, **{k: int(row.get(k) or 0) for k in COUNTERS}})
            at += queries.STEP[bucket]
        return out

    busy = monitors[1]
    result: dict[str, Any] = {"monitors": count, "minute_rows": MinuteCount.objects.count(),
                              "hour_rows": HourCount.objects.count(), "sums_equal": True}  # fmt: skip
    for name in queries.PERIODS:
        _name, since, bucket = queries.period_of(name)
        result[f"series_{name}_p95_ms"] = p95_ms(lambda: queries.series(busy, since, bucket, tz), args.runs)  # noqa: B023
        result[f"series_{name}_minutes_p95_ms"] = p95_ms(lambda: from_minutes(busy, since, bucket), args.runs)  # noqa: B023
        result["sums_equal"] &= queries.series(busy, since, bucket, tz) == from_minutes(busy, since, bucket)
    client = Client()
    client.force_login(Member.objects.get(enterprise=enterprise, user__username="zhaolei").user)

    def page(url: str) -> None:
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)

    result["dashboard_30d_p95_ms"] = p95_ms(lambda: page(f"/monitoring/{busy.pk}/?period=30d"), args.runs)
    result["share_30d_p95_ms"] = p95_ms(lambda: page("/monitoring/share?period=30d"), args.runs)
    result["setup_s"] = round(setup_s, 1)
    print("CHILD " + json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_MONITORS} monitors instead of {MONITORS}")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    databases = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    if "postgres" in databases and not pg_answers():
        print("PostgreSQL does not answer at 127.0.0.1:5432: measuring SQLite only", file=sys.stderr)
        databases.remove("postgres")
    by_database: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-counters-") as tmp:
        for db in databases:
            env = dict(os.environ, GUANWEI_ENV="development", GUANWEI_VAR_DIR=tmp, GUANWEI_LOG_LEVEL="WARNING",
                       GUANWEI_DEBUG="false", DATABASE_URL=f"sqlite:///{tmp}/bench.db" if db == "sqlite" else PG)  # fmt: skip
            if db == "postgres":
                recreate_pg()
            cmd = [sys.executable, __file__, "--child", "--database", db, "--runs", str(args.runs)]
            cmd += ["--quick"] if args.quick else []
            out = subprocess.run(cmd, env=env, cwd=REPO, stdout=subprocess.PIPE, text=True, check=True)
            line = [x for x in out.stdout.splitlines() if x.startswith("CHILD ")][-1]
            by_database[db] = json.loads(line[len("CHILD ") :])
    result = {"database": databases[-1], **by_database[databases[-1]], "quick": args.quick, "runs": args.runs,
              "by_database": by_database}  # fmt: skip
    print("RESULT " + json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
