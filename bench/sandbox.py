"""Benchmark the sandbox platform over real HTTP, and the CED replay into it.

    .venv/bin/python bench/sandbox.py [--quick]

Set-up: a fresh SQLite database in a temporary directory (or `BENCH_DATABASE_URL`), migrated;
a sandbox app and one official account with a token, made with `world.make_app_and_user`; the
server is `waitress` serving `guanwei.wsgi` in a child process on a free 127.0.0.1 port (4
threads), the client is the Weibo connector (`guanwei.platforms.get_connector("weibo", …)`)
in this process — the same path guanwei takes to the real Weibo.

Limits: the app uses the sandbox's **unlimited** tier (no hourly buckets, no burst or
similarity rule) and the connector's local token buckets are off (`rates={}`): with Weibo's
normal limits an account may post 30 times an hour, which would measure the limiter, not the
platform. Identical consecutive texts are still refused (a content rule), so every text is
unique, and every text carries a link under the app's safe domain, as statuses/share requires.

Figures:
* `share_per_s` — statuses/share through `connector.publish`, sequential, one account.
* `mentions_poll_per_s` — `connector.mentions(max_pages=1)` on an account mentioned by
  `mentions_seeded` statuses: each poll is one statuses/mentions request returning a full page
  (`mentions_page_size` items); `mentions_items_per_s` = items parsed per second;
  `mentions_incremental_poll_per_s` = polls with `since_id` = the newest (nothing new).
* `replay_events_per_s` — `guanwei sandbox replay ced` as fast as possible (speed 0: validate the
  selection, then one transaction through the store), events (source posts + reposts) per second,
  wall time including parsing. Real CED data from `$GUANWEI_DATA_DIR` (default `../shared/data`
  next to the repo); without it, synthetic cascades of the same shape (`replay_source` says
  which).

`--quick` (≤ 60 s): 300 shares, 200 polls, 20 cascades. Full: 2,000 shares, 1,000 polls,
200 cascades. The last line is `RESULT {json}`.
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(url: str, proc: subprocess.Popen, timeout_s: float = 30.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited early with {proc.returncode}")
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit(f"server did not answer at {url}")


def synthetic_ced(path: Path, cascades: int, seed: int = 1) -> None:
    """Cascades shaped like CED's (a source post, reposts with parents and times)."""
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8") as f:
        for c in range(cascades):
            t0 = 1_350_000_000 + c * 86_400
            reposts, mids = [], [f"S{c}"]
            for i in range(rng.randint(50, 600)):
                mid = f"S{c}r{i}"
                parent = rng.choice(mids[-30:]) if rng.random() < 0.4 else None
                t0 += rng.randint(1, 600)
                text = rng.choice(
                    ["", "", "转发微博", "[蜡烛]", "真的假的？", "太可怕了，大家注意"]
                )
                reposts.append({"mid": mid, "parent": parent, "uid": str(rng.randint(1, 50_000)),
                                "text": text, "time": time.strftime("%Y-%m-%dT%H:%M:%S+08:00", time.gmtime(t0 + 8 * 3600))})  # fmt: skip
                mids.append(mid)
            row = {"id": f"S{c}", "label": "rumor", "reposts": reposts,
                   "source": {"mid": f"S{c}", "uid": str(c), "text": f"网传消息{c}", "user": None,
                              "time": time.strftime("%Y-%m-%dT%H:%M:%S+08:00", time.gmtime(1_350_000_000 + c * 86_400 + 8 * 3600))}}  # fmt: skip
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="finish within 60 s")
    args = parser.parse_args()
    shares, polls, cascades = (300, 200, 20) if args.quick else (2000, 1000, 200)
    mentions_seeded = 500 if args.quick else 2000

    tmp = Path(tempfile.mkdtemp(prefix="guanwei-bench-sandbox-"))
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": os.environ.get("BENCH_DATABASE_URL", f"sqlite:///{tmp / 'bench.db'}"),
        "GUANWEI_VAR_DIR": str(tmp / "var"),
        "GUANWEI_BASE_URL": f"http://127.0.0.1:{port}",
        "GUANWEI_LOG_LEVEL": "WARNING",
        "GUANWEI_DEBUG": "false",
        "DJANGO_SETTINGS_MODULE": "guanwei.settings",
    }
    os.environ.update(env)
    sys.path.insert(0, str(REPO))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)

    from guanwei.platforms import get_connector
    from guanwei.sandbox import runs, store
    from guanwei.sandbox.models import AppLevel
    from guanwei.sandbox.world import make_app_and_user

    app, account, token = make_app_and_user(
        screen_name="示例乳业官方微博", level=AppLevel.DEVELOPER, limits={"tier": "unlimited"}
    )
    fan = store.create_user("基准网友")
    store.bulk_create_statuses(
        [
            {"user": fan, "text": f"@示例乳业官方微博 第{i}次提问：订单什么时候发货？"}
            for i in range(mentions_seeded)
        ]
    )

    server = subprocess.Popen(
        [sys.executable, "-m", "waitress", "--listen", f"127.0.0.1:{port}", "--threads", "4",
         "guanwei.wsgi:application"],
        env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    result: dict[str, object] = {"shares": shares, "polls": polls}
    try:
        base = f"http://127.0.0.1:{port}/sandbox"
        wait_for(base + "/2/statuses/mentions.json", server)
        connector = get_connector(
            "sandbox", base_url=base, app_key=app.app_key, app_secret=app.app_secret,
            access_token=token.token, uid=str(account.pk), rates={}, level="partner",
            default_rip="127.0.0.1",
        )  # fmt: skip

        # warm-up (connection, first queries)
        connector.publish("基准预热 http://demo.guanwei.local/warm")
        t = time.perf_counter()
        for i in range(shares):
            connector.publish(f"基准测试第{i}条：新品上市 http://demo.guanwei.local/b/{i}")
        elapsed = time.perf_counter() - t
        result["share_per_s"] = round(shares / elapsed, 1)

        # "stopped after max_pages" is the point here, not news
        logging.getLogger("guanwei.platforms.weibo").setLevel(logging.ERROR)
        newest = connector.mentions(max_pages=1)[0].id
        t = time.perf_counter()
        items = 0
        for _ in range(polls):
            items += len(connector.mentions(max_pages=1))
        elapsed = time.perf_counter() - t
        result["mentions_poll_per_s"] = round(polls / elapsed, 1)
        result["mentions_items_per_s"] = round(items / elapsed, 1)
        result["mentions_page_size"] = items // polls
        result["mentions_seeded"] = mentions_seeded
        # the steady state of a poller: nothing new since the last poll
        t = time.perf_counter()
        for _ in range(polls):
            connector.mentions(since_id=newest, max_pages=1)
        result["mentions_incremental_poll_per_s"] = round(polls / (time.perf_counter() - t), 1)
        connector.close()
    finally:
        server.terminate()
        server.wait(timeout=10)

    data_dir = os.environ.get("GUANWEI_DATA_DIR") or str(REPO.parent / "shared" / "data")
    if (Path(data_dir) / "ced" / "cascades.jsonl.gz").exists():
        result["replay_source"] = "ced"
    else:
        data_dir = str(tmp / "data")
        synthetic_ced(Path(data_dir) / "ced" / "cascades.jsonl.gz", cascades)
        result["replay_source"] = "synthetic"
    run = runs.replay_run("ced", speed=0, limit=cascades)
    run.params["data_dir"] = data_dir
    run.save()
    t = time.perf_counter()
    runs.execute(run)
    elapsed = time.perf_counter() - t
    if run.state != "done":
        raise SystemExit(f"replay failed: {run.error}")
    result["replay_events"] = run.done
    result["replay_cascades"] = cascades
    result["replay_events_per_s"] = round(run.done / elapsed, 1)
    result["database"] = "postgresql" if "postgres" in env["DATABASE_URL"] else "sqlite"
    result["limits"] = "sandbox app tier 'unlimited', connector buckets off"
    print(f"share {result['share_per_s']}/s, mentions poll {result['mentions_poll_per_s']}/s, "
          f"replay {result['replay_events_per_s']} events/s ({run.done} events)")  # fmt: skip
    print("RESULT " + json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
