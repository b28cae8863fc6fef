"""Benchmark the inbox (issue 16): the agent's pages over many open items, assignment, and replies
sent to the sandbox exactly once.

    .venv/bin/python bench/inbox.py [--quick] [--database sqlite|postgres|both]

In a child process per database (SQLite in a temporary directory; PostgreSQL `gw_bench_inbox` on
127.0.0.1, dropped and created, when it answers): the server runs in a thread of the child
(waitress on 127.0.0.1, so the connectors reach the sandbox over HTTP), the demo is seeded
(`ops.seed.seed_demo`, without history: 6 sandbox accounts), 20 agents join one team, and
ITEMS open items (`--quick`: 20,000) across the 6 accounts are written directly — their
customers (one per 4 items), mentions and items in bulk, as the `inbox` consumer would leave them
after a busy month (the consumer itself is measured by its tests, not here); categories,
priorities and the assignee spread round-robin, the times over 30 days.

* `list_p95_ms`: the agent's inbox page (`/inbox/`, through Django's test client, logged in as an
  agent), 60 requests over a mix of filters: mine, unassigned, complaints, urgent, an account, a
  text search, and the next page of each (its cursor).
* `customer_panel_p95_ms`: an item's page with its customer panel (`/inbox/items/<id>/`) for 60
  random items.
* `assign_per_s`: `actions.do_assign` for 1,000 items, one after another.
* `reply_per_s`: REPLIES complaints that exist on the sandbox as comments on the accounts' posts
  are answered (`actions.do_reply`, then `replies.send` over HTTP), with 10 % of the sandbox's
  comments/reply calls answering "response lost" (the reply lands, the answer does not): those
  are reconciled by `replies.run` (the thread read back). Wall time of the whole, replies ÷
  seconds.
* `duplicate_replies`: on the sandbox, comments by our accounts answering the same complaint,
  beyond the first; `missing_replies`: complaints with none.

Goals (issue 16): list p95 ≤ 300 ms and customer panel p95 ≤ 300 ms at 100,000 items;
duplicate_replies = 0.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
ITEMS, QUICK_ITEMS = 100_000, 20_000
AGENTS = 20
REPLIES = 200
REQUESTS = 60
PG = "postgres://postgres@127.0.0.1:5432/gw_bench_inbox"


def pg_answers() -> bool:
    try:
        import psycopg

        with psycopg.connect("postgres://postgres@127.0.0.1:5432/postgres", connect_timeout=2, autocommit=True) as c:
            c.execute("DROP DATABASE IF EXISTS gw_bench_inbox WITH (FORCE)")
            c.execute("CREATE DATABASE gw_bench_inbox")
        return True
    except Exception:  # noqa: BLE001 - no PostgreSQL here
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _signed(value: int) -> int:
    """A 64-bit unsigned fingerprint as the signed BIGINT the column holds (as listening.store does)."""
    return value - (1 << 64) if value >= 1 << 63 else value


def p95(values: list[float]) -> float:
    values = sorted(values)
    return round(values[min(len(values) - 1, int(0.95 * len(values)))], 1)


def child(n_items: int) -> dict[str, Any]:
    import django
    import time_machine

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "guanwei.settings")
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.test import Client
    from waitress.server import create_server

    from guanwei.core import clock
    from guanwei.core.models import Member, Role
    from guanwei.inbox import actions, replies
    from guanwei.inbox.models import Item, Team
    from guanwei.listening.models import Author, Mention
    from guanwei.matrix.models import Account
    from guanwei.ops.seed import seed_demo
    from guanwei.sandbox import faults
    from guanwei.sandbox import store as sandbox
    from guanwei.sandbox.models import App, Comment, Fault, SandboxUser
    from guanwei.textkit.fingerprint import fingerprint
    from guanwei.textkit.normalize import fold

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    settings.BASE_URL = base
    settings.ALLOWED_HOSTS = ["*"]
    from guanwei.wsgi import application

    server = create_server(application, host="127.0.0.1", port=port, threads=4)
    threading.Thread(target=server.run, daemon=True).start()
    report = seed_demo(base, with_history=False)
    enterprise = report.enterprise
    accounts = list(Account.objects.filter(enterprise=enterprise).select_related("connection"))
    rng = random.Random(16)

    # 20 agents in one team (rows written directly: a bench, not a sign-up)
    users = User.objects.bulk_create([User(username=f"agent{i:02d}", first_name=f"客服{i:02d}") for i in range(AGENTS)])
    agents = Member.objects.bulk_create([Member(enterprise=enterprise, user=u, role=Role.AGENT, display_name=u.first_name)
                                         for u in users])  # fmt: skip
    team, _new = Team.objects.get_or_create(enterprise=enterprise, name="客服中心")  # the demo's team
    Team.objects.filter(pk=team.pk).update(max_open_per_agent=100_000)
    team.members.set(agents)

    # the items, as the consumer leaves them
    started = time.perf_counter()
    texts = ["买的酸奶变质了，怎么退货？", "请问这个奶粉适合几岁的孩子？", "快递三天了还没到，客服也不回", "你们的新品很好喝，点赞",
             "建议出个小包装", "订单 {n} 一直显示待发货，怎么回事", "喝完肚子疼，要投诉", "活动什么时候开始？"]  # fmt: skip
    categories = ["complaint", "inquiry", "complaint", "praise", "suggestion", "inquiry", "complaint", "inquiry"]
    customers = max(1, n_items // 4)
    now = clock.now()
    authors = Author.objects.bulk_create([
        Author(enterprise=enterprise, platform="sandbox:builtin", remote_id=f"c{i}", screen_name=f"顾客{i}",
               verified_type=rng.choice([-1, -1, -1, 0, 2]), followers_count=rng.randint(0, 50_000), refreshed_at=now)
        for i in range(customers)
    ], batch_size=2000)  # fmt: skip
    batch = 5000
    made = 0
    while made < n_items:
        size = min(batch, n_items - made)
        mentions, rows = [], []
        for k in range(made, made + size):
            which = k % len(texts)
            text = texts[which].format(n=100000 + k)
            at = now - timedelta(seconds=rng.randint(0, 30 * 86400))
            account = accounts[k % len(accounts)]
            author = authors[k % customers]
            mentions.append(Mention(enterprise=enterprise, platform="sandbox:builtin", remote_id=f"b{k}", kind="comment",
                                    account=account, author=author, text=text, normalized=fold(text), thread_id=f"t{k % 500}",
                                    sentiment="negative" if categories[which] == "complaint" else "neutral", emotion="neutral",
                                    fingerprint=_signed(fingerprint([text])[0]), created_at=at, received_at=at))  # fmt: skip
        Mention.objects.bulk_create(mentions, batch_size=2000)
        for k, m in zip(range(made, made + size), mentions, strict=True):
            which = k % len(texts)
            urgent = categories[which] == "complaint" and k % 5 == 0
            rows.append(Item(enterprise=enterprise, mention=m, account=m.account, author=m.author, kind="comment",
                             conversation=f"t:{m.account_id}:{m.thread_id}:{m.author.remote_id}", excerpt=m.text[:140],
                             category=categories[which], priority="urgent" if urgent else "normal", sentiment=m.sentiment,
                             team=team, assignee=agents[k % AGENTS] if k % 10 else None, said_at=m.created_at,
                             created_at=m.created_at, updated_at=m.created_at,
                             first_response_due=m.created_at + timedelta(hours=2),
                             resolution_due=m.created_at + timedelta(days=1)))  # fmt: skip
        Item.objects.bulk_create(rows, batch_size=2000)
        made += size
    written_s = time.perf_counter() - started
    print(f"  {n_items:,} items written in {written_s:.0f} s", file=sys.stderr)

    agent = agents[3]
    client = Client()
    client.force_login(agent.user)
    service = next(a for a in accounts if a.screen_name.endswith("客服"))
    filters = [{}, {"assignee": "mine"}, {"assignee": "unassigned"}, {"category": "complaint"},
               {"priority": "urgent"}, {"account": str(service.pk)}, {"q": "退货"}, {"status": "open", "category": "inquiry"}]  # fmt: skip
    list_ms: list[float] = []
    errors: list[str] = []
    for i in range(REQUESTS):
        params = filters[i % len(filters)]
        t = time.perf_counter()
        response = client.get("/inbox/", params)
        list_ms.append((time.perf_counter() - t) * 1000)
        if response.status_code != 200:
            errors.append(f"/inbox/ {params} → {response.status_code}")
        found = re.search(r'rel="next" href="\?([^"]+)"', response.content.decode())
        if found and i % 2:  # the next page, by its cursor (the pager's own link)
            t = time.perf_counter()
            response = client.get("/inbox/?" + html.unescape(found.group(1)))
            list_ms.append((time.perf_counter() - t) * 1000)
            if response.status_code != 200:
                errors.append(f"/inbox/ next page → {response.status_code}")
    ids = list(Item.objects.filter(enterprise=enterprise).values_list("pk", flat=True)[: n_items : max(1, n_items // 500)])
    panel_ms: list[float] = []
    for pk in rng.sample(ids, min(REQUESTS, len(ids))):
        t = time.perf_counter()
        response = client.get(f"/inbox/items/{pk}/")
        panel_ms.append((time.perf_counter() - t) * 1000)
        if response.status_code != 200:
            errors.append(f"/inbox/items/{pk}/ → {response.status_code}")

    # assignment
    admin = Member.objects.filter(enterprise=enterprise, role=Role.ADMIN).first() or agent
    sample = list(Item.objects.filter(enterprise=enterprise).order_by("?")[:1000]) if n_items <= 20_000 else \
        [Item.objects.get(pk=pk) for pk in rng.sample(ids, min(1000, len(ids)))]  # fmt: skip
    t = time.perf_counter()
    for k, item in enumerate(sample):
        actions.do_assign(admin, item, agents[(k * 7) % AGENTS])
    assign_per_s = len(sample) / (time.perf_counter() - t)

    # replies to real sandbox comments, 10 % of them losing their response
    app = App.objects.get(app_key=accounts[0].connection.app_key)
    fans = sandbox.bulk_create_users([{"screen_name": f"投诉的顾客{i}"} for i in range(REPLIES)])
    targets = []
    for i, fan in enumerate(fans):
        account = accounts[i % len(accounts)]
        ours = SandboxUser.objects.get(pk=int(account.platform_uid))
        status = sandbox.post_status(ours, f"客服值班通知 {i}")
        comment = sandbox.comment(fan, status, f"第 {i} 盒酸奶变质了，怎么处理？")
        author = Author.objects.create(enterprise=enterprise, platform="sandbox:builtin", remote_id=str(fan.pk),
                                       screen_name=fan.screen_name, refreshed_at=now)  # fmt: skip
        mention = Mention.objects.create(enterprise=enterprise, platform="sandbox:builtin", remote_id=str(comment.pk),
                                         kind="comment", account=account, author=author, text=comment.text,
                                         normalized=fold(comment.text), thread_id=str(status.pk), sentiment="negative",
                                         emotion="angry", fingerprint=_signed(fingerprint([comment.text])[0]), created_at=now)  # fmt: skip
        targets.append(Item.objects.create(enterprise=enterprise, mention=mention, account=account, author=author,
                                           kind="comment", conversation=f"x{i}", excerpt=comment.text, category="complaint",
                                           team=team, assignee=agent, said_at=now,
                                           first_response_due=now + timedelta(hours=2)))  # fmt: skip
    faults.add_fault("response_lost", "comments/reply", app=app, probability=0.1, delay_s=0)
    t = time.perf_counter()
    states: dict[str, int] = {}
    for k, item in enumerate(targets):
        reply = actions.do_reply(agent, item, f"您好，第 {k} 号问题已登记，我们今天联系您。")
        state = replies.send(reply.pk)
        states[state] = states.get(state, 0) + 1
    Fault.objects.all().delete()
    rounds = 0
    while Item.objects.filter(pk__in=[i.pk for i in targets], replies__state__in=["unconfirmed", "queued", "sending"]).exists() and rounds < 20:
        with time_machine.travel(clock.now() + timedelta(seconds=31 * (rounds + 1))):
            replies.run.call()
        rounds += 1
    reply_s = time.perf_counter() - t
    on_platform: dict[int, int] = {}
    ours = {int(a.platform_uid) for a in accounts}
    for reply_to in Comment.objects.filter(user_id__in=ours, reply_to__isnull=False).values_list("reply_to_id", flat=True):
        on_platform[reply_to] = on_platform.get(reply_to, 0) + 1
    wanted = {int(i.mention.remote_id) for i in targets}
    duplicates = sum(max(0, on_platform.get(c, 0) - 1) for c in wanted)
    missing = sum(1 for c in wanted if not on_platform.get(c))
    server.close()
    return {
        "items": n_items, "agents": AGENTS, "accounts": len(accounts),
        "list_p50_ms": round(statistics.median(list_ms), 1), "list_p95_ms": p95(list_ms),
        "customer_panel_p50_ms": round(statistics.median(panel_ms), 1), "customer_panel_p95_ms": p95(panel_ms),
        "assign_per_s": round(assign_per_s, 1), "replies": len(targets), "reply_per_s": round(len(targets) / reply_s, 1),
        "first_send_outcomes": states, "duplicate_replies": duplicates, "missing_replies": missing,
        "errors": errors[:10], "write_s": round(written_s, 1),
    }  # fmt: skip


def run_child(database: str, n_items: int, tmp: str) -> dict[str, Any]:
    url = PG if database == "postgres" else f"sqlite:///{tmp}/bench.db"
    env = dict(os.environ, GUANWEI_ENV="development", GUANWEI_VAR_DIR=tmp, GUANWEI_LOG_LEVEL="WARNING",
               GUANWEI_DEBUG="false", DATABASE_URL=url, GUANWEI_OUTBOUND_ALLOW="127.0.0.1")  # fmt: skip
    out = subprocess.run([sys.executable, __file__, "--child", str(n_items)], env=env, cwd=REPO, stdout=subprocess.PIPE,
                         text=True, check=True)  # fmt: skip
    line = [x for x in out.stdout.splitlines() if x.startswith("CHILD ")][-1]
    return json.loads(line[len("CHILD ") :])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_ITEMS:,} items instead of {ITEMS:,}")
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print("CHILD " + json.dumps(child(args.child), ensure_ascii=False))
        return
    n_items = QUICK_ITEMS if args.quick else ITEMS
    result: dict[str, Any] = {"quick": args.quick}
    if args.database in ("sqlite", "both"):
        with tempfile.TemporaryDirectory(prefix="bench-inbox-") as tmp:
            print("SQLite:", file=sys.stderr)
            result.update(run_child("sqlite", n_items, tmp))
            result["database"] = "sqlite"
    postgres = None
    if args.database in ("postgres", "both") and pg_answers():
        with tempfile.TemporaryDirectory(prefix="bench-inbox-") as tmp:
            print("PostgreSQL:", file=sys.stderr)
            postgres = run_child("postgres", n_items, tmp)
    if args.database == "postgres":
        result.update(postgres or {"error": "PostgreSQL does not answer"})
        result["database"] = "postgres"
    else:
        result["postgres"] = postgres
    print("RESULT " + json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
