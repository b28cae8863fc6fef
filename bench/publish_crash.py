"""Benchmark exactly-once publishing (issue 14): SIGKILL the worker at random points mid-stream.

    .venv/bin/python bench/publish_crash.py [--quick] [--database sqlite|postgres|auto]
                                            [--seed N] [--real-timeouts] [--keep]

In a child process with a fresh database (PostgreSQL `gw_bench_crash` on 127.0.0.1 when it
answers — `auto`, the default — else SQLite in a temporary directory): a sandbox app at the
unlimited tier with 50 official accounts, connected to an enterprise; 30 posts × 50 accounts =
1,500 targets (`--quick`: 6 posts, 300 targets), approved and due spread evenly over the time the
kills are expected to take, so that they land mid-stream. The sandbox answers 10 % of
statuses/share calls with the "response lost" fault (the status is written, the client gets a
502 at once — `delay_s = 0`, so a lost answer does not hold the one worker for the HTTP timeout).

`guanwei run --no-worker` serves the sandbox in its own process, so killing a worker never
touches the platform. One worker at a time: each is started, left to work for a random
0.2–3 s after it registered its heartbeat (seeded RNG, `--seed`), then SIGKILLed (and reaped, so
the next worker's recovery sees its pid gone); a new one starts at once. 100 kills (`--quick`:
20). Then a last worker runs until every target is settled (published / failed / missed /
cancelled) or a deadline passes, and is stopped with SIGTERM.

**Shortcuts.** The worker is `guanwei worker --queues publish` (the same command and code: a
dedicated publishing worker, as a deployment may run one), started through this file's
`--worker` mode. Only the publish queue, because with every queue each new worker first resumes
the long tasks its killed predecessor left running (listening.poll, matrix.refresh_accounts,
requeued by ops.recovery) and is killed again before it reaches publishing: the kills would land
in listening, not mid-send. The `--worker` mode also shortens four timeouts of
guanwei.publishing.dispatch (no setting or environment variable exists for them): STALE_SEND
2 min → 5 s, STALE_CLAIM 30 min → 60 s, RECONCILE_AFTER 60 s → 15 s, RECONCILE_EVERY 10 s → 3 s.
Otherwise a target each kill leaves in `publishing` would wait 2 minutes (a claim lost between
the claim and its send task, 30 minutes) before it is reconciled, and 100 kills would take
hours. The shorter values are safe here because only one worker runs at a time and a sandbox
call takes milliseconds, so no live send is 5 s old when a worker's recovery looks at it.
`--real-timeouts` keeps the dispatcher's STALE_SEND, RECONCILE_AFTER and RECONCILE_EVERY
(STALE_CLAIM is still 60 s): the test that matters for the 5-deep timeline. The first version of
this bench found, with real timeouts, that a killed worker's post had been pushed out of the
account's latest 5 statuses (the only ones user_timeline shows) by the time it was looked for, so
it was sent again (12 duplicates, and 5 resends refused as repeats and wrongly failed, in 1,500);
the dispatcher now holds an account while one of its sends is unsettled (dispatch.claim_due).
The sandbox's own rules are the unlimited tier's, unchanged, as on
Weibo: identical text is refused against the account's last 10 statuses (20019), and
user_timeline shows only the latest 5.

`RESULT`:
- `kills`, `posts` (targets), `published` (targets in state published);
- `duplicates`: sandbox statuses beyond one per target (matched by account and the target's
  unique text);
- `lost`: targets whose database and platform disagree, or that are nowhere — the sum of
  `lost_nowhere` (not published in our database and not on the sandbox),
  `lost_on_platform_not_published` (on the sandbox, but not published in our database — e.g.
  failed because a resend was refused as a repeat) and `lost_published_not_on_platform`
  (published in our database, absent from the sandbox);
- `unconfirmed_left`: targets still `publishing` or `unconfirmed` at the end; `unsettled`: any
  target not in a final state (scheduled included);
- `kills_with_sends_in_hand` (kills after which a target was in publishing: claimed or being
  sent by the dead worker), `recovered_mid_send` (targets moved publishing → unconfirmed by
  recovery), `found_by_reconciliation` (published targets settled from the timeline),
  `lost_responses` (times the fault fired), `resent` (targets claimed more than once),
  `refused_as_repeat` (targets a send of which got 20019/20017), `failed`, `missed`,
  `stray_statuses` (sandbox statuses of no target);
- `database`, `seconds` (wall time of the whole bench, set-up included), `kill_phase_s`,
  `settle_s`, `quick`, `seed`, `timeouts` (short / real). Goal: duplicates = lost = unconfirmed_left = 0.

For every target counted as a duplicate, lost or unconfirmed, its state events, publication
errors and sandbox statuses are printed to stderr (`ANOMALY …`, at most 20). `--keep` keeps the
temporary directory (server and worker logs, the SQLite file); the PostgreSQL database stays
until the next run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
ACCOUNTS = 50
DOMAIN = "demo.guanwei.local"
PG_NAME = "gw_bench_crash"
FINAL_STATES = ("published", "failed", "missed", "cancelled", "deleted")
# The dispatcher's timeouts the --worker mode shortens (module docstring: why, and why it is
# safe here). STALE_CLAIM stays above the publish queue's latency, or claims waiting in the
# queue are recovered, claimed again and recovered again, and nothing goes out.
SHORTENED = {
    "STALE_SEND": timedelta(seconds=5),
    "STALE_CLAIM": timedelta(seconds=60),
    "RECONCILE_AFTER": timedelta(seconds=15),
    "RECONCILE_EVERY": timedelta(seconds=3),
}
# --real-timeouts: the dispatcher's own values but for STALE_CLAIM (30 minutes is longer than
# the bench).
SHORTENED_REAL = {"STALE_CLAIM": SHORTENED["STALE_CLAIM"]}
TIMEOUTS_ENV = "BENCH_CRASH_REAL_TIMEOUTS"
# One kill cycle: worker start-up (imports, its own 0–1 s random start delay) plus the random
# time it is left working — about 3 s measured on 2 cores. Due times spread over kills × this.
CYCLE_S = 3.0
KILL_AFTER_S = (0.2, 3.0)


def pg_url() -> str:
    return os.environ.get("BENCH_PG_URL", f"postgres://postgres@127.0.0.1:5432/{PG_NAME}")


def pg_answers() -> bool:
    try:
        import psycopg

        with psycopg.connect(
            "postgres://postgres@127.0.0.1:5432/postgres", connect_timeout=2, autocommit=True
        ) as c:
            c.execute(f"DROP DATABASE IF EXISTS {PG_NAME} WITH (FORCE)")
            c.execute(f"CREATE DATABASE {PG_NAME}")
        return True
    except Exception:  # noqa: BLE001 - no PostgreSQL here
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def worker_main() -> None:
    """`guanwei worker`, with the dispatcher's recovery timeouts shortened (module docstring)."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "guanwei.settings")
    django.setup()
    from django.core.management import execute_from_command_line

    from guanwei.publishing import dispatch

    shortened = SHORTENED_REAL if os.environ.get(TIMEOUTS_ENV) == "1" else SHORTENED
    for name, value in shortened.items():
        if not isinstance(getattr(dispatch, name, None), timedelta):
            sys.exit(f"publish_crash: guanwei.publishing.dispatch.{name} is gone; update SHORTENED")
        setattr(dispatch, name, value)
    execute_from_command_line(["guanwei", "worker", "--queues", "publish"])


def set_up(n_posts: int, spread_s: float) -> list[int]:
    """The sandbox app, accounts, enterprise and approved targets; returns the accounts' uids."""
    from django.contrib.auth.models import User

    from guanwei.core import clock
    from guanwei.core.models import Enterprise, Member, Role
    from guanwei.matrix.models import Account, Connection, PlatformKind
    from guanwei.publishing.models import Post, Target
    from guanwei.sandbox import faults, store

    base = os.environ["GUANWEI_BASE_URL"]
    app = store.create_app(
        "bench", safe_domains=DOMAIN, redirect_uris=base + "/", limits={"tier": "unlimited"}
    )
    faults.add_fault(
        "response_lost", "statuses/share", app=app, probability=0.1, delay_s=0, note="publish_crash"
    )
    users = store.bulk_create_users(
        [{"screen_name": f"崩溃压测{i:02d}", "is_official": True} for i in range(ACCOUNTS)]
    )
    tokens = [store.issue_token(app, u) for u in users]
    enterprise = Enterprise.objects.create(name="崩溃压测企业", slug="bench-crash")
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
    posts = Post.objects.bulk_create([
        Post(enterprise=enterprise, author=author, text=f"崩溃压测第 {i} 条 https://{DOMAIN}/c/{i}", approved_by=author,
             rip="127.0.0.1")
        for i in range(n_posts)
    ])  # fmt: skip
    # Post-major order: one account's consecutive posts are ACCOUNTS targets apart, so each
    # account posts every spread_s / n_posts seconds (its timeline shows only the latest 5).
    start = clock.now() + timedelta(seconds=5)
    total = n_posts * ACCOUNTS
    targets = [
        Target(enterprise=enterprise, post=post, account=account, state="scheduled",
               due_at=start + timedelta(seconds=spread_s * (i * ACCOUNTS + j) / total))
        for i, post in enumerate(posts)
        for j, account in enumerate(accounts)
    ]  # fmt: skip
    Target.objects.bulk_create(targets, batch_size=1000)
    return [int(a.platform_uid) for a in accounts]


def wait_until_up(base: str, server: subprocess.Popen[bytes]) -> None:
    for _ in range(240):
        if server.poll() is not None:
            raise SystemExit(f"publish_crash: the sandbox server exited with {server.returncode}")
        try:
            urllib.request.urlopen(base + "/healthz?check=db", timeout=2)
            return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:  # not listening yet
            time.sleep(0.25)
    raise SystemExit("publish_crash: the sandbox server did not come up in 60 s")


def start_worker(env: dict[str, str], log: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, __file__, "--worker"], cwd=REPO, env=env, stdout=log, stderr=log
    )


def wait_registered(proc: subprocess.Popen[bytes], timeout_s: float = 30.0) -> None:
    """Until the worker has written its heartbeat (it is past start-up and about to work)."""
    from django.db import close_old_connections

    from guanwei.ops.models import WorkerHeartbeat

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(
                f"publish_crash: worker pid {proc.pid} exited with {proc.returncode} (see its log)"
            )
        if WorkerHeartbeat.objects.filter(pid=proc.pid, stopped_at__isnull=True).exists():
            return
        close_old_connections()
        time.sleep(0.05)
    raise SystemExit(f"publish_crash: worker pid {proc.pid} did not register in {timeout_s:.0f} s")


def open_count() -> int:
    from guanwei.publishing.models import Target

    return Target.objects.exclude(state__in=FINAL_STATES).count()


def kill_phase(kills: int, rng: random.Random, env: dict[str, str], log: Any) -> int:
    """SIGKILL `kills` workers in turn; returns how many kills left a target in publishing."""
    from guanwei.publishing.models import Target

    mid_send = 0
    for k in range(kills):
        proc = start_worker(env, log)
        wait_registered(proc)
        time.sleep(rng.uniform(*KILL_AFTER_S))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()  # reaped: recovery at the next start sees the pid gone
        # Only one worker runs, and targets it claimed but never sent wait here too (their
        # send tasks are requeued): "in publishing" = the kill landed with sends in hand.
        mid_send += Target.objects.filter(state="publishing").exists()
        if (k + 1) % 10 == 0:
            print(f"  {k + 1}/{kills} kills, {open_count():,} targets open", file=sys.stderr)
    return mid_send


def settle(deadline_s: float, env: dict[str, str], log: Any) -> None:
    proc = start_worker(env, log)
    try:
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            left = open_count()
            if left == 0:
                break
            print(f"  settling: {left:,} targets open", file=sys.stderr)
            time.sleep(2)
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def count(uids: list[int]) -> dict[str, Any]:
    """Compare our database with the sandbox, target by target (see RESULT in the docstring)."""
    from guanwei.core.models import StateEvent
    from guanwei.publishing.models import Publication, Target
    from guanwei.sandbox.models import Fault, Status

    on_platform = Counter(
        (str(uid), text.strip())
        for uid, text in Status.objects.filter(user_id__in=uids).values_list("user_id", "text")
    )
    rows = list(
        Target.objects.values_list("pk", "state", "attempts", "account__platform_uid", "post__text")
    )
    seen: set[tuple[str, str]] = set()
    tally: Counter[str] = Counter()
    anomalies: list[tuple[int, str]] = []
    for pk, state, attempts, uid, text in rows:
        key = (uid, text.strip())
        seen.add(key)
        n = on_platform.get(key, 0)
        tally["duplicates"] += max(0, n - 1)
        tally["resent"] += attempts > 1
        tally[state] += 1
        problem = "duplicate" if n > 1 else ""
        if state == "published" and n == 0:
            problem = "lost_published_not_on_platform"
        elif state != "published" and n > 0:
            problem = "lost_on_platform_not_published"
        elif state != "published":
            problem = "lost_nowhere"
        if problem.startswith("lost"):
            tally[problem] += 1
        if state in ("publishing", "unconfirmed"):
            tally["unconfirmed_left"] += 1
        if problem:
            anomalies.append((pk, problem))
    repeats = sum(
        any(str(e.get("code")) in ("20019", "20017") for e in errors)
        for errors in Publication.objects.values_list("errors", flat=True)
    )
    lost_keys = ("lost_nowhere", "lost_on_platform_not_published", "lost_published_not_on_platform")
    result = {
        "posts": len(rows),
        "duplicates": tally["duplicates"],
        "lost": sum(tally[k] for k in lost_keys),
        "unconfirmed_left": tally["unconfirmed_left"],
        "published": tally["published"],
        **{k: tally[k] for k in lost_keys},
        "unsettled": sum(
            n for s, n in tally.items() if s in ("scheduled", "publishing", "unconfirmed")
        ),
        "found_by_reconciliation": Publication.objects.filter(
            found_by_reconciliation=True, target__state="published"
        ).count(),
        "lost_responses": sum(Fault.objects.values_list("hits", flat=True)),
        "recovered_mid_send": StateEvent.objects.filter(
            object_type="publishing.target", reason="worker lost mid-send"
        ).count(),
        "resent": tally["resent"],
        "refused_as_repeat": repeats,
        "failed": tally["failed"],
        "missed": tally["missed"],
        "stray_statuses": sum(n for key, n in on_platform.items() if key not in seen),
    }
    for pk, problem in anomalies[:20]:
        describe(pk, problem)
    return result


def describe(pk: int, problem: str) -> None:
    """One anomalous target's history, for the report of a dispatcher bug."""
    from guanwei.core.models import StateEvent
    from guanwei.publishing.models import Publication, Target
    from guanwei.sandbox.models import Status

    t = Target.objects.select_related("account", "post").get(pk=pk)
    uid, text = t.account.platform_uid, t.post.text
    lines = [
        f"ANOMALY {problem} target={pk} state={t.state} attempts={t.attempts} account_uid={uid} "
        f"text={text!r} due_at={t.due_at:%H:%M:%S.%f}"
    ]
    events = StateEvent.objects.filter(object_type="publishing.target", object_id=str(pk))
    for e in events.order_by("created_at", "pk"):
        lines.append(
            f"  event {e.created_at:%H:%M:%S.%f} {e.from_state} → {e.to_state} {e.reason!r}"
        )
    publication = Publication.objects.filter(target_id=pk).first()
    if publication:
        lines.append(
            f"  publication platform_id={publication.platform_id!r} "
            f"found={publication.found_by_reconciliation} errors={publication.errors}"
        )
    for st in Status.objects.filter(user_id=int(uid), text=text.strip()).order_by("pk"):
        lines.append(f"  sandbox status id={st.pk} created_at={st.created_at:%H:%M:%S.%f}")
    print("\n".join(lines), file=sys.stderr)


def child(args: argparse.Namespace) -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "guanwei.settings")
    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    kills = 20 if args.quick else 100
    n_posts = 6 if args.quick else 30
    uids = set_up(n_posts, spread_s=kills * CYCLE_S)
    connection.close()

    base = os.environ["GUANWEI_BASE_URL"]
    var = Path(os.environ["GUANWEI_VAR_DIR"])
    env = dict(os.environ)
    with open(var / "server.log", "ab") as server_log, open(var / "worker.log", "ab") as worker_log:
        port = base.rsplit(":", 1)[1]
        server = subprocess.Popen(
            [sys.executable, "-m", "guanwei", "run", "--no-worker", "--port", port],
            cwd=REPO, env=env, stdout=server_log, stderr=server_log,
        )  # fmt: skip
        try:
            wait_until_up(base, server)
            started = time.monotonic()
            kills_mid_send = kill_phase(kills, random.Random(args.seed), env, worker_log)
            kill_phase_s = time.monotonic() - started
            # --real-timeouts: a target a late kill left in publishing needs STALE_SEND (2 min)
            # and RECONCILE_AFTER (1 min) before it can be sent again.
            settle(300 if args.real_timeouts or not args.quick else 120, env, worker_log)
            settle_s = time.monotonic() - started - kill_phase_s
        finally:
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
    result = {
        "kills": kills,
        **count(uids),
        "kills_with_sends_in_hand": kills_mid_send,
        "kill_phase_s": round(kill_phase_s, 1),
        "settle_s": round(settle_s, 1),
    }
    print("CHILD " + json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="20 kills, 300 targets (default: 100, 1,500)"
    )
    parser.add_argument("--database", choices=["sqlite", "postgres", "auto"], default="auto")
    parser.add_argument("--seed", type=int, default=14, help="seed of the kill times (default 14)")
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary directory (logs, SQLite file)"
    )
    parser.add_argument(
        "--real-timeouts", action="store_true",
        help="keep the dispatcher's STALE_SEND, RECONCILE_AFTER and RECONCILE_EVERY (only STALE_CLAIM is shortened)",
    )  # fmt: skip
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker_main()
        return
    if args.child:
        child(args)
        return
    began = time.monotonic()
    database = args.database
    if database in ("auto", "postgres"):
        if pg_answers():
            database = "postgres"
        elif database == "postgres":
            sys.exit("publish_crash: PostgreSQL does not answer on 127.0.0.1:5432 (user postgres)")
        else:
            database = "sqlite"
    tmp = tempfile.mkdtemp(prefix="bench-crash-")
    try:
        port = _free_port()
        env = dict(os.environ, GUANWEI_ENV="development", GUANWEI_VAR_DIR=tmp, GUANWEI_LOG_LEVEL="INFO",
                   GUANWEI_DEBUG="false", GUANWEI_SANDBOX="true", GUANWEI_BASE_URL=f"http://127.0.0.1:{port}",
                   DATABASE_URL=pg_url() if database == "postgres" else f"sqlite:///{tmp}/bench.db")  # fmt: skip
        env.pop("GUANWEI_TASKS_IMMEDIATE", None)
        env[TIMEOUTS_ENV] = "1" if args.real_timeouts else "0"
        cmd = [
            sys.executable,
            __file__,
            "--child",
            "--database",
            database,
            "--seed",
            str(args.seed),
        ]
        cmd += (["--quick"] if args.quick else []) + (
            ["--real-timeouts"] if args.real_timeouts else []
        )
        out = subprocess.run(cmd, env=env, cwd=REPO, stdout=subprocess.PIPE, text=True, check=True)
        line = [x for x in out.stdout.splitlines() if x.startswith("CHILD ")][-1]
    finally:
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    result = json.loads(line[len("CHILD ") :])
    result.update(
        database=database,
        seconds=round(time.monotonic() - began, 1),
        quick=args.quick,
        seed=args.seed,
        timeouts="real" if args.real_timeouts else "short",
    )
    print("RESULT " + json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
