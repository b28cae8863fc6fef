"""Benchmark the list pages as the data grows (issue 12).

    .venv/bin/python bench/pages.py [--quick] [--runs N] [--database sqlite|postgres|both]

Set-up, per database (each in a child process of its own, since Django settles its database
once per process): a fresh database — SQLite in a temporary directory, or PostgreSQL database
`gw_bench_pages` on 127.0.0.1:5432 when it answers (`BENCH_PG_URL` to choose another) — is
migrated and seeded with the demo enterprise (`guanwei.ops.seed.seed_demo`, without sandbox
history). It is then grown in two steps, measured at each:

| size  | audit entries | members | accounts | notifications |
|-------|--------------:|--------:|---------:|--------------:|
| small |        10,000 |      50 |        6 |         1,000 |
| full  |     1,000,000 |   5,000 |    1,000 |       100,000 |

(`--quick`: a tenth of "full"; "small" stays.) Rows are bulk-inserted as the app would hold
them: audit entries spread over a year with the real action codes, members with users, accounts
in a tree under the demo parent with encrypted tokens, notifications half of them resolved.

Each page is fetched `--runs` times (default 10, after one warm-up) with Django's test client
signed in as the owner (zhangwei); p95 is the 95th percentile of the wall times. Queries are
counted per page. `queries_grow` is true when any page's query count differs between the two
sizes. The export: its GET (`export_request_p95_ms`, at these sizes the offer to write the file in
the worker), its POST that records the Export and enqueues it (`export_start_p95_ms`), and one
export of the whole log written by a real `guanwei worker` process started for it, from the POST
until the file is there (`export_worker_s`, `export_rows`, `export_file_rows_ok`: the file has a
line per row plus the header).

The last line is `RESULT {json}`: the figures at full size of the last database measured, plus
`by_database` with every database's figures at both sizes.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SIZES = {
    "small": {"audit": 10_000, "members": 50, "accounts": 6, "notifications": 1_000},
    "full": {"audit": 1_000_000, "members": 5_000, "accounts": 1_000, "notifications": 100_000},
}
QUICK_FULL = {"audit": 100_000, "members": 500, "accounts": 100, "notifications": 10_000}


def pg_url() -> str:
    return os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/gw_bench_pages")


def pg_answers() -> bool:
    try:
        from urllib.parse import urlsplit

        import psycopg

        url = urlsplit(pg_url())._replace(path="/postgres").geturl()
        psycopg.connect(url, connect_timeout=3).close()
        return True
    except Exception:
        return False


def recreate_pg() -> None:
    from urllib.parse import urlsplit

    import psycopg

    parts = urlsplit(pg_url())
    name = parts.path.lstrip("/")
    with psycopg.connect(parts._replace(path="/postgres").geturl(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


# --- child: grow and measure one database -------------------------------------------------------


def grow(target: dict[str, int], have: dict[str, int], enterprise, owner) -> None:  # noqa: ANN001
    from django.contrib.auth.models import User
    from django.db import transaction

    from guanwei.core import clock
    from guanwei.core.audit import ACTION_LABELS
    from guanwei.core.models import AuditEntry, Member, Notification, Role
    from guanwei.matrix.models import Account, Connection, MatrixRole

    rng = random.Random(12)
    now = clock.now()
    roles = [r for r in Role.values if r != Role.OWNER]

    extra = target["members"] - have["members"]
    if extra > 0:
        start = have["members"]
        with transaction.atomic():
            users = User.objects.bulk_create(
                [User(username=f"bench{start + i}", password="!") for i in range(extra)],
                batch_size=1000,
            )
            if users[0].pk is None:
                users = list(User.objects.filter(username__startswith="bench").order_by("pk"))[-extra:]
            Member.objects.bulk_create(
                [
                    Member(enterprise=enterprise, user=u, role=roles[i % len(roles)],
                           display_name=f"成员{start + i:05d}", is_active=i % 17 != 0)
                    for i, u in enumerate(users)
                ],
                batch_size=1000,
            )
        have["members"] = target["members"]
    members = list(Member.objects.filter(enterprise=enterprise).values_list("pk", "display_name"))

    extra = target["accounts"] - have["accounts"]
    if extra > 0:
        connection = Connection.objects.get(enterprise=enterprise)
        parent = Account.objects.get(enterprise=enterprise, matrix_role=MatrixRole.PARENT)
        child_roles = [r for r in MatrixRole.values if r != MatrixRole.PARENT]
        with transaction.atomic():
            # Regions under the parent, and the rest under those regions: a tree 3 deep.
            regions = Account.objects.bulk_create(
                [
                    Account(enterprise=enterprise, connection=connection,
                            platform_uid=f"79{i:08d}", screen_name=f"示例乳业地区{i}",
                            matrix_role=MatrixRole.REGION, parent=parent,
                            token=f"2.00bench{i:06d}", refresh_token=f"r{i}",
                            token_expires_at=now + timedelta(days=30), followers_count=i * 10)
                    for i in range(min(20, extra))
                ]
            )
            if regions[0].pk is None:
                regions = list(Account.objects.filter(platform_uid__startswith="79"))
            Account.objects.bulk_create(
                [
                    Account(enterprise=enterprise, connection=connection,
                            platform_uid=f"78{i:08d}", screen_name=f"示例乳业门店{i}",
                            matrix_role=child_roles[i % len(child_roles)],
                            parent=regions[i % len(regions)],
                            token=f"2.00benchc{i:06d}", refresh_token=f"rc{i}",
                            token_expires_at=now + timedelta(days=30), followers_count=i)
                    for i in range(extra - len(regions))
                ],
                batch_size=500,
            )
        have["accounts"] = target["accounts"]

    extra = target["notifications"] - have["notifications"]
    if extra > 0:
        with transaction.atomic():
            Notification.objects.bulk_create(
                [
                    Notification(
                        enterprise=enterprise, action="account.manage", level="warning",
                        title=f"账号授权即将过期 {i}", body="请重新授权", url="/matrix/",
                        created_at=now - timedelta(minutes=i),
                        resolved_at=None if i % 2 else now - timedelta(minutes=i - 1),
                    )
                    for i in range(extra)
                ],
                batch_size=2000,
            )
        have["notifications"] = target["notifications"]

    extra = target["audit"] - have["audit"]
    actions = list(ACTION_LABELS)
    batch = 20_000
    done = 0
    while done < extra:
        n = min(batch, extra - done)
        with transaction.atomic():
            AuditEntry.objects.bulk_create(
                [
                    AuditEntry(
                        enterprise=enterprise,
                        actor_id=members[(done + i) % len(members)][0],
                        actor_label=members[(done + i) % len(members)][1],
                        action=actions[(done + i) % len(actions)],
                        object_type="core.member", object_id=str(members[(done + i) % len(members)][0]),
                        summary="基准测试记录", detail={}, ip="127.0.0.1",
                        created_at=now - timedelta(seconds=rng.randint(0, 365 * 86400)),
                    )
                    for i in range(n)
                ],
                batch_size=2000,
            )
        done += n
    have["audit"] = target["audit"]


def deep_audit_url(client) -> str:  # noqa: ANN001
    """The audit page 500 pages (25,000 entries) back, reached the way the page offers it: the
    "older" cursor of the entry there (the page pages by (created_at, id), not by number)."""
    from guanwei.core.lists import _encode, _field_names
    from guanwei.core.models import AuditEntry, Enterprise

    enterprise = Enterprise.objects.get(slug="demo")
    entries = AuditEntry.objects.filter(enterprise=enterprise).order_by("-created_at", "-id")
    depth = min(25_000, entries.count() - 1)  # at the small size: the last page
    entry = entries[depth : depth + 1].get()
    return f"/audit/?before={_encode(entry, _field_names(('-created_at',)))}"


def measure(client, runs: int) -> dict[str, dict[str, float]]:  # noqa: ANN001
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    pages = {
        "audit": "/audit/",
        "audit_deep_page": deep_audit_url(client),
        "matrix": "/matrix/",
        "dashboard": "/",
        "members": "/members/",
        "notifications": "/notifications/",
        # Above 5,000 rows the export's GET answers with the offer to write it in the worker.
        "export_request": "/audit/export.csv",
    }
    result: dict[str, dict[str, float]] = {}
    for name, url in pages.items():
        times = []
        queries = 0
        for i in range(runs + 1):
            with CaptureQueriesContext(connection) as ctx:
                t0 = time.perf_counter()
                response = client.get(url)
                if not response.streaming:
                    _ = response.content
                elapsed = (time.perf_counter() - t0) * 1000
            if response.status_code != 200:
                raise SystemExit(f"{url} answered {response.status_code}")
            if response.streaming:
                response.close()
            if i:  # the first run warms caches up
                times.append(elapsed)
                queries = len(ctx.captured_queries)
        times.sort()
        result[name] = {
            "p50_ms": round(statistics.median(times), 1),
            "p95_ms": round(times[min(len(times) - 1, int(0.95 * len(times)))], 1),
            "queries": queries,
        }
        print(f"  {name:16} p50 {result[name]['p50_ms']:8.1f} ms  p95 {result[name]['p95_ms']:8.1f} ms"
              f"  queries {queries}", file=sys.stderr)
    return result


def measure_export(client, runs: int) -> dict[str, float]:  # noqa: ANN001
    """The export's POST (records the Export, enqueues the task, redirects) timed like a page;
    then one export of the whole log written by a real `guanwei worker` process, timed from the
    POST until the Export is done, and its file checked."""
    from django.core.files.storage import storages

    from guanwei.core.models import Export

    times = []
    for i in range(runs + 1):
        t0 = time.perf_counter()
        response = client.post("/audit/export.csv")
        elapsed = (time.perf_counter() - t0) * 1000
        if response.status_code != 302:
            raise SystemExit(f"export POST answered {response.status_code}")
        # Not this one's turn: out of the queue, so the worker below writes only the last.
        Export.objects.filter(state="queued").update(state="failed", error="bench")
        if i:
            times.append(elapsed)
    from django_tasks_db.models import DBTaskResult

    DBTaskResult.objects.filter(status="READY").delete()
    times.sort()
    worker = subprocess.Popen(
        [sys.executable, "-m", "guanwei", "worker", "--no-schedule", "--interval", "0.2"],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        t0 = time.perf_counter()
        client.post("/audit/export.csv")
        export = Export.objects.latest("pk")
        while export.state in ("queued", "running"):
            time.sleep(0.5)
            export.refresh_from_db()
            if time.perf_counter() - t0 > 3600:
                raise SystemExit("the export did not finish within an hour")
        worker_s = time.perf_counter() - t0
    finally:
        worker.terminate()
        worker.wait(30)
    if export.state != "done":
        raise SystemExit(f"the export ended {export.state}: {export.error}")
    with storages["exports"].open(export.file_name, "rb") as fh:
        lines = sum(1 for _ in fh)
    result = {
        "export_start_p50_ms": round(statistics.median(times), 1),
        "export_start_p95_ms": round(times[min(len(times) - 1, int(0.95 * len(times)))], 1),
        "export_worker_s": round(worker_s, 1),
        "export_rows": export.rows_done,
        "export_file_rows_ok": lines == export.rows_done + 1,
        "export_mb": round(export.size / 1e6, 1),
    }
    print(f"  export          {result}", file=sys.stderr)
    return result


def child(args: argparse.Namespace) -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "guanwei.settings")
    django.setup()
    from django.core.management import call_command
    from django.test import Client

    from guanwei.core.models import Member
    from guanwei.ops.seed import seed_demo

    t0 = time.perf_counter()
    call_command("migrate", verbosity=0)
    report = seed_demo("http://127.0.0.1:8000", with_history=False)
    enterprise = report.enterprise
    owner = Member.objects.get(user__username="zhangwei")
    client = Client()
    client.force_login(owner.user)
    have = {"audit": 0, "members": Member.objects.filter(enterprise=enterprise).count(),
            "accounts": 6, "notifications": 0}
    figures = {}
    sizes = {"small": SIZES["small"], "full": QUICK_FULL if args.quick else SIZES["full"]}
    for size, target in sizes.items():
        t1 = time.perf_counter()
        grow(target, have, enterprise, owner)
        # As a running database would be: planner statistics up to date after the bulk load.
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        print(f"{args.database} {size} {target} grown in {time.perf_counter() - t1:.0f} s",
              file=sys.stderr)
        figures[size] = {"size": target, "pages": measure(client, args.runs),
                         "export": measure_export(client, args.runs)}
    figures["setup_s"] = round(time.perf_counter() - t0, 1)
    print("CHILD " + json.dumps(figures))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--runs", type=int, default=10)
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
    by_database: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="bench-pages-") as tmp:
        for db in databases:
            env = dict(os.environ, GUANWEI_ENV="development", GUANWEI_VAR_DIR=tmp,
                       GUANWEI_LOG_LEVEL="WARNING", GUANWEI_DEBUG="false")
            if db == "sqlite":
                env["DATABASE_URL"] = f"sqlite:///{tmp}/bench.db"
            else:
                recreate_pg()
                env["DATABASE_URL"] = pg_url()
            cmd = [sys.executable, __file__, "--child", "--database", db, "--runs", str(args.runs)]
            if args.quick:
                cmd.append("--quick")
            out = subprocess.run(cmd, env=env, cwd=REPO, stdout=subprocess.PIPE, text=True, check=True)
            line = [x for x in out.stdout.splitlines() if x.startswith("CHILD ")][-1]
            by_database[db] = json.loads(line[len("CHILD "):])

    def summary(db: str) -> dict:
        full = by_database[db]["full"]["pages"]
        small = by_database[db]["small"]["pages"]
        return {
            "database": db,
            **{f"{name}_p95_ms": full[name]["p95_ms"] for name in full},
            "max_queries_per_page": max(p["queries"] for p in full.values()),
            "queries_grow": any(full[n]["queries"] != small[n]["queries"] for n in full),
            **by_database[db]["full"]["export"],
        }

    result = summary(databases[-1])
    result["quick"] = args.quick
    result["runs"] = args.runs
    result["by_database"] = {db: {"summary": summary(db), **figs} for db, figs in by_database.items()}
    print("RESULT " + json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
