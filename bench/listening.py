"""Benchmark listening (issue 13): polling the sandbox during a launch, and the store stage.

    .venv/bin/python bench/listening.py [--quick] [--part poll|store|both]

Each part runs in a child process with a fresh SQLite database in a temporary directory
(GUANWEI_ENV=development, sandbox on).

(a) Polling. The demo is seeded (6 sandbox accounts, without history), `guanwei run` serves it on a
free port with its worker, and the sandbox's `product_launch` scenario plays live for
`--minutes` simulated minutes (default 30; `--quick` 10) at 60× speed, while the sandbox's fault
injection fails 5 % of reads (HTTP 503, "unavailable") for the demo app. After the scenario the
bench waits for one more poll interval plus 10 s, then compares: what the sandbox holds that
listening should have (statuses that @-mention an official account, comments on an official
account's statuses, and direct messages to one; written after the seed) with the Mentions
stored. `lost` = items the sandbox holds that have no Mention; `duplicates` = Mention rows beyond
one per platform item (the unique constraint makes it 0 unless it is broken). `polled_per_s`:
stream reads per second of wall time; `p95_lag_s`: 95th percentile of (received_at − the item's
time on the sandbox) over polled mentions (pushed DMs are counted apart: `push_p95_lag_s`).

(b) Store stage. The items of the CED cascades (`$GUANWEI_DATA_DIR/ced/cascades.jsonl.gz`: all
1,274,456 reposts and the 3,387 sources, reposts without words included; `--quick` the first
100,000) are fed to
`listening.store.store` in batches of 1,000 (normalise, sentiment, emotion, fingerprint and
voices, bulk insert) inside one transaction per batch, as a stream's read does.
`mentions_per_s` = stored mentions / wall seconds.

The last line is `RESULT {json}`.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    env = os.environ.get("GUANWEI_DATA_DIR")
    return Path(env) if env else REPO.parent / "shared" / "data"


def _setup_django() -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "guanwei.settings")
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


# --- (b) the store stage --------------------------------------------------------------------


def ced_items(limit: int | None):  # type: ignore[no-untyped-def]
    from guanwei.listening.store import Incoming

    path = data_dir() / "ced" / "cascades.jsonl.gz"
    n = 0
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            cascade = json.loads(line)
            source = cascade["source"]
            for post in [source, *cascade["reposts"]]:
                text = post.get("text") or ""  # a repost without words is an item too
                try:
                    at = datetime.fromisoformat(str(post.get("time")))  # "2012-09-11T11:35:48+08:00"
                except (TypeError, ValueError, OverflowError):
                    at = datetime(2014, 1, 1, tzinfo=UTC)
                yield Incoming(
                    platform="weibo:ced", remote_id=str(post["mid"]), kind="repost" if post is not source else "status",
                    text=text, created_at=at, author_id=str(post.get("uid") or ""),
                    in_reply_to_id=str(source["mid"]) if post is not source else "",
                )  # fmt: skip
                n += 1
                if limit is not None and n >= limit:
                    return


def part_store(quick: bool) -> dict:
    _setup_django()
    from django.db import transaction

    from guanwei.core.models import Enterprise
    from guanwei.listening.models import Mention, Voice
    from guanwei.listening.store import prepare, store

    if not (data_dir() / "ced" / "cascades.jsonl.gz").exists():
        return {"store_skipped": "no CED data (set GUANWEI_DATA_DIR)"}
    enterprise = Enterprise.objects.create(name="bench", slug="bench")
    batch: list = []
    stored = received = 0
    t0 = time.perf_counter()
    last = t0
    for item in ced_items(100_000 if quick else None):
        batch.append(item)
        if len(batch) == 1000:
            prepared = prepare(enterprise, batch)  # as listening's callers: outside the transaction
            with transaction.atomic():
                result = store(enterprise, prepared)
            stored += result.stored
            received += result.received
            batch = []
            if time.perf_counter() - last > 30:
                last = time.perf_counter()
                print(f"  store: {stored:,} stored, {stored / (last - t0):,.0f}/s", file=sys.stderr)
    if batch:
        with transaction.atomic():
            result = store(enterprise, batch)
        stored += result.stored
        received += result.received
    seconds = time.perf_counter() - t0
    return {
        "store_received": received,
        "store_stored": stored,
        "store_seconds": round(seconds, 1),
        "mentions_per_s": round(stored / seconds),
        "store_voices": Voice.objects.filter(enterprise=enterprise).count(),
        "store_rows": Mention.objects.filter(enterprise=enterprise).count(),
    }


# --- (a) polling ----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def part_poll(quick: bool, minutes: int) -> dict:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    os.environ["GUANWEI_BASE_URL"] = base
    _setup_django()
    from django.db.models import Count

    from guanwei.listening.models import Mention, StreamRun
    from guanwei.matrix.models import Account
    from guanwei.ops.seed import seed_demo
    from guanwei.sandbox import faults
    from guanwei.sandbox.models import App, Comment, Message, Status

    seed_demo(base, with_history=False)
    app = App.objects.get(app_key=Account.objects.first().connection.app_key)
    official = {int(uid) for uid in Account.objects.values_list("platform_uid", flat=True)}
    seeded_at = datetime.now(UTC)
    env = dict(os.environ)
    server = subprocess.Popen(
        [sys.executable, "-m", "guanwei", "run", "--port", str(port)], cwd=REPO, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(120):
            try:
                import urllib.request

                urllib.request.urlopen(base + "/healthz", timeout=2)
                break
            except Exception:  # noqa: BLE001 - not up yet
                time.sleep(0.5)
        # 5 % of the demo app's calls fail with HTTP 503 (the scenario writes in-process: only
        # guanwei's calls, its reads, go through the fault gate).
        fault = faults.add_fault("http_5xx", "*", app=app, probability=0.05, note="bench/listening")
        t0 = time.perf_counter()
        runs_before = StreamRun.objects.count()
        subprocess.run(
            [sys.executable, "-m", "guanwei", "sandbox", "scenario", "product_launch",
             "--minutes", str(minutes), "--speed", "60"],
            cwd=REPO, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        time.sleep(30 + 10)  # one poll interval (30 s at the demo's partner level) plus 10 s
        wall = time.perf_counter() - t0
    finally:
        server.terminate()
        server.wait(60)
    # What the sandbox holds that listening should have.
    mentioning = set(
        Status.objects.filter(created_at__gte=seeded_at, mentioned__in=official, deleted_at=None)
        .exclude(user_id__in=official).values_list("pk", flat=True)
    )
    comments = set(
        Comment.objects.filter(created_at__gte=seeded_at, status__user_id__in=official)
        .exclude(user_id__in=official).values_list("pk", flat=True)
    )
    dms = Message.objects.filter(
        created_at__gte=seeded_at, receiver_id__in=official, type__in=["text", "image", "voice", "position"]
    ).count()
    have = set(Mention.objects.values_list("remote_id", flat=True))
    lost_statuses = {str(pk) for pk in mentioning} - have
    lost_comments = {str(pk) for pk in comments} - have
    duplicates = (
        Mention.objects.values("platform", "remote_id").annotate(n=Count("id")).filter(n__gt=1).count()
    )
    polled = Mention.objects.filter(source="poll", received_at__gte=seeded_at)
    lags = sorted((m.received_at - m.created_at).total_seconds() for m in polled)
    pushed = Mention.objects.filter(source="push", received_at__gte=seeded_at)
    push_lags = sorted((m.received_at - m.created_at).total_seconds() for m in pushed)
    runs = StreamRun.objects.count() - runs_before
    failed = StreamRun.objects.exclude(outcome="ok").count()

    def p95(values: list[float]) -> float | None:
        return round(values[max(0, int(0.95 * len(values)) - 1)], 1) if values else None

    return {
        "mentions": Mention.objects.filter(received_at__gte=seeded_at).count(),
        "expected_statuses": len(mentioning),
        "expected_comments": len(comments),
        "expected_dms": dms,
        "pushed_dms": pushed.count(),
        "duplicates": duplicates,
        "lost": len(lost_statuses) + len(lost_comments) + max(0, dms - pushed.count()),
        "polled_per_s": round(runs / wall, 2),
        "stream_reads": runs,
        "failed_reads": failed,
        # 503s the sandbox injected; the connector retries a read (idempotent) before it fails
        "faults_injected": type(fault).objects.get(pk=fault.pk).hits,
        "p95_lag_s": p95(lags),
        "push_p95_lag_s": p95(push_lags),
        "poll_wall_s": round(wall, 1),
    }


def child(args: argparse.Namespace) -> None:
    if args.part == "store":
        result = part_store(args.quick)
    else:
        result = part_poll(args.quick, args.minutes)
    print("CHILD " + json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--part", choices=["poll", "store", "both"], default="both")
    parser.add_argument("--minutes", type=int, default=None)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.minutes is None:
        args.minutes = 10 if args.quick else 30
    if args.child:
        child(args)
        return
    result: dict = {"quick": args.quick}
    parts = ["poll", "store"] if args.part == "both" else [args.part]
    for part in parts:
        with tempfile.TemporaryDirectory(prefix=f"bench-listening-{part}-") as tmp:
            env = dict(os.environ, GUANWEI_ENV="development", GUANWEI_VAR_DIR=tmp,
                       DATABASE_URL=f"sqlite:///{tmp}/bench.db", GUANWEI_LOG_LEVEL="WARNING",
                       GUANWEI_DEBUG="false", GUANWEI_SANDBOX="true")  # fmt: skip
            env.pop("GUANWEI_BASE_URL", None)
            cmd = [sys.executable, __file__, "--child", "--part", part, "--minutes", str(args.minutes)]
            if args.quick:
                cmd.append("--quick")
            out = subprocess.run(cmd, env=env, cwd=REPO, stdout=subprocess.PIPE, text=True, check=True)
            line = [x for x in out.stdout.splitlines() if x.startswith("CHILD ")][-1]
            result.update(json.loads(line[len("CHILD "):]))
            print(f"{part}: {line[len('CHILD '):]}", file=sys.stderr)
    print("RESULT " + json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
