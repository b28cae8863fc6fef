"""Benchmark publishing (issue 14): a burst of targets due in the same minute.

    .venv/bin/python bench/publish_burst.py [--quick] [--database sqlite|postgres|auto]

In a child process with a fresh database (PostgreSQL `gw_bench_publish` on 127.0.0.1 when it
answers — `auto`, the default — else SQLite in a temporary directory): a sandbox app at the
unlimited tier with 50 official accounts, connected to an enterprise; 200 posts × 50 accounts =
10,000 targets (`--quick`: 20 posts, 1,000 targets), approved and due spread evenly over one
minute starting 30 s after set-up. `guanwei run` serves the sandbox and runs one worker; on
PostgreSQL a second `guanwei worker --queues publish` (a publish-only worker, as
operations.md recommends) runs beside it. The bench waits until every target is
settled (or 20 minutes pass).

`RESULT`: `posts` (targets), `published`, `duplicates` (sandbox statuses beyond one per target),
`missing` (targets neither published nor on the sandbox), `p50_lateness_s` / `p99_lateness_s`
(published_at − due_at), `posts_per_s` (published / seconds from the first due time to the last
publication), `workers`, `database`, `unsettled`.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ACCOUNTS = 50
DOMAIN = "demo.guanwei.local"


def pg_url() -> str:
    return os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/gw_bench_publish")


def pg_answers() -> bool:
    try:
        import psycopg

        with psycopg.connect("postgres://postgres@127.0.0.1:5432/postgres", connect_timeout=2, autocommit=True) as c:
            c.execute("DROP DATABASE IF EXISTS gw_bench_publish WITH (FORCE)")
            c.execute("CREATE DATABASE gw_bench_publish")
        return True
    except Exception:  # noqa: BLE001 - no PostgreSQL here
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def child(args: argparse.Namespace) -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "guanwei.settings")
    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import connection
    from django.db.models import Count

    from guanwei.core import clock
    from guanwei.core.models import Enterprise, Member, Role
    from guanwei.matrix.models import Account, Connection, PlatformKind
    from guanwei.publishing.models import Post, Publication, Target
    from guanwei.sandbox import store
    from guanwei.sandbox.models import Status

    call_command("migrate", verbosity=0)
    base = os.environ["GUANWEI_BASE_URL"]
    n_posts = 20 if args.quick else 200
    app = store.create_app("bench", safe_domains=DOMAIN, redirect_uris=base + "/", limits={"tier": "unlimited"})
    users = store.bulk_create_users([{"screen_name": f"压测官微{i:02d}", "is_official": True} for i in range(ACCOUNTS)])
    tokens = [store.issue_token(app, u) for u in users]
    enterprise = Enterprise.objects.create(name="压测企业", slug="bench")
    author = Member.objects.create(enterprise=enterprise, user=User.objects.create(username="bench-editor"),
                                   role=Role.EDITOR, display_name="压测编辑")  # fmt: skip
    conn = Connection.objects.create(enterprise=enterprise, name="sandbox", kind=PlatformKind.SANDBOX,
                                     base_url=base + "/sandbox", app_key=app.app_key, app_secret=app.app_secret,
                                     safe_domain=DOMAIN, app_level="unlimited")  # fmt: skip
    accounts = Account.objects.bulk_create([
        Account(enterprise=enterprise, connection=conn, platform_uid=str(u.pk), screen_name=u.screen_name,
                matrix_role="product", token=t.token_sealed)
        for u, t in zip(users, tokens, strict=True)
    ])  # fmt: skip
    start = clock.now() + timedelta(seconds=30)
    total = n_posts * ACCOUNTS
    posts = Post.objects.bulk_create([
        Post(enterprise=enterprise, author=author, text=f"压测第 {i} 条 https://{DOMAIN}/b/{i}", approved_by=author, rip="127.0.0.1")
        for i in range(n_posts)
    ])  # fmt: skip
    targets = []
    k = 0
    for post in posts:
        for account in accounts:
            targets.append(Target(enterprise=enterprise, post=post, account=account, state="scheduled",
                                  due_at=start + timedelta(seconds=60 * k / total)))  # fmt: skip
            k += 1
    Target.objects.bulk_create(targets, batch_size=1000)
    connection.close()

    env = dict(os.environ)
    server = subprocess.Popen([sys.executable, "-m", "guanwei", "run", "--port", base.rsplit(":", 1)[1]],
                              cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    extra = []
    if args.database == "postgres":
        # A worker for the publish queue alone (operations.md recommends one): a long periodic
        # job (matrix.refresh_accounts reads every account) never holds up the posts.
        extra.append(subprocess.Popen([sys.executable, "-m", "guanwei", "worker", "--no-schedule", "--queues", "publish"],
                                      cwd=REPO, env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))  # fmt: skip
    workers = 1 + len(extra)
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=2)
                break
            except Exception:  # noqa: BLE001 - not up yet
                time.sleep(0.5)
        deadline = time.time() + 20 * 60
        while time.time() < deadline:
            open_ = Target.objects.exclude(state__in=["published", "failed", "missed", "cancelled"]).count()
            if open_ == 0:
                break
            print(f"  {total - open_:,}/{total:,} settled", file=sys.stderr)
            time.sleep(5)
    finally:
        for p in [server, *extra]:
            p.terminate()
        for p in [server, *extra]:
            try:
                p.wait(60)
            except subprocess.TimeoutExpired:  # a worker finishing a long task: do not wait on
                p.kill()
    published = Target.objects.filter(state="published").count()
    unsettled = Target.objects.exclude(state__in=["published", "failed", "missed", "cancelled"]).count()
    uids = [int(a.platform_uid) for a in accounts]
    dup_groups = (
        Status.objects.filter(user_id__in=uids).values("user_id", "text").annotate(n=Count("id")).filter(n__gt=1)
    )
    duplicates = sum(g["n"] - 1 for g in dup_groups)
    on_platform = Status.objects.filter(user_id__in=uids).count()
    lateness = sorted(
        (p.published_at - p.target.due_at).total_seconds()
        for p in Publication.objects.filter(published_at__isnull=False).select_related("target")
    )
    last = max((p.published_at for p in Publication.objects.filter(published_at__isnull=False)), default=start)

    def pct(q: float) -> float | None:
        return round(lateness[min(len(lateness) - 1, int(q * len(lateness)))], 2) if lateness else None

    result = {
        "posts": total,
        "published": published,
        "duplicates": duplicates,
        "missing": max(0, total - on_platform),
        "p50_lateness_s": pct(0.50),
        "p99_lateness_s": pct(0.99),
        "posts_per_s": round(published / max(1e-9, (last - start).total_seconds()), 1),
        "workers": workers,
        "database": args.database,
        "unsettled": unsettled,
    }
    print("CHILD " + json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--database", choices=["sqlite", "postgres", "auto"], default="auto")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    database = args.database
    if database in ("auto", "postgres"):
        database = "postgres" if pg_answers() else "sqlite"
    with tempfile.TemporaryDirectory(prefix="bench-publish-") as tmp:
        port = _free_port()
        env = dict(os.environ, GUANWEI_ENV="development", GUANWEI_VAR_DIR=tmp, GUANWEI_LOG_LEVEL="WARNING",
                   GUANWEI_DEBUG="false", GUANWEI_SANDBOX="true", GUANWEI_BASE_URL=f"http://127.0.0.1:{port}",
                   DATABASE_URL=pg_url() if database == "postgres" else f"sqlite:///{tmp}/bench.db")  # fmt: skip
        cmd = [sys.executable, __file__, "--child", "--database", database] + (["--quick"] if args.quick else [])
        out = subprocess.run(cmd, env=env, cwd=REPO, stdout=subprocess.PIPE, text=True, check=True)
        line = [x for x in out.stdout.splitlines() if x.startswith("CHILD ")][-1]
    result = json.loads(line[len("CHILD "):])
    result["quick"] = args.quick
    print("RESULT " + json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
