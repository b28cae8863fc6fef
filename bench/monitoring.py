"""Benchmark monitoring (issue 15): CED through listening and monitoring, with 10,000 monitors.

    .venv/bin/python bench/monitoring.py [--quick] [--database sqlite|postgres|both]

Data: `$GUANWEI_DATA_DIR/ced/cascades.jsonl.gz` (default `../shared/data` beside the repo): all
1,274,456 reposts and the 3,387 source posts of the CED cascades, reposts without words included
(`--quick`: the first 100,000 items).

Monitors: 10,000, the rules bench/textkit.py generates (same seed, same mix: OR, AND, NOT, NEAR,
field filters, regexes) from the vocabulary of the first 50,000 non-empty texts, all in **one
enterprise** so that one matcher holds all 10,000. (The product caps an enterprise at
`monitoring.actions.MAX_MONITORS` = 200 monitors; the bench writes the rows directly to load
the matcher fifty times harder than any one enterprise can.)

End to end, as two worker processes run it on the two cores: one stores the items with
`listening.store.store` in batches of 1,000 (normalise, sentiment, emotion, fingerprint, voices,
bulk insert — one transaction per batch, as a stream's read does); the other runs the
`monitoring` consumer (`listening.consumers.dispatch`, batches of 1,000: the one matcher over the
batch, matches stored, minute counters upserted, the cursor moved — one transaction per batch)
until it has matched every stored mention. The consumer's 5-second settle delay is set to 0 (the
bench knows when the writer is done). `mentions_per_s` = stored mentions ÷ wall seconds from the
first store to the last mention matched. `--serial` does both in one process, one after the
other per batch (one core for Python).

Then, apart from the pipeline, on the same texts (`MatchText`s of the stored mentions, CPU time,
best of 2): `match_posts_per_s` (the project's matcher), `raw_automaton_posts_per_s` (one
pyahocorasick automaton over the same literals, folding included, hits only) and
`naive_regex_posts_per_s` (one Python regex per rule, on a 200-post sample — bench/textkit.py's
baseline).

Checks, independent of the consumer's code: `counter_mismatches` — (monitor, minute) cells
where the stored MinuteCount differs from a recount of the stored matches joined to their
mentions (volume, positive, neutral, negative), and `hour_counter_mismatches`, the same for the
(monitor, hour) cells of HourCount; `match_mismatches` — mentions whose stored
monitors differ from a fresh `Matcher.match` of the stored mention, and of them
`match_mismatches_author_changed`: those where every differing monitor's rule reads the author's
fields (verified, region, author), which a later item of the same author may have changed since
the mention was matched (a mention is matched with its author as listening knew them then).

Databases: SQLite in a temporary directory, and PostgreSQL (`gw_bench_monitoring` on 127.0.0.1,
dropped and created) when it answers — `both`, the default. A PostgreSQL server with autovacuum
off (this machine's) never analyses the new tables, and the planner then reads whole tables for
the store's lookups: the writer does autovacuum's ANALYZE itself every 10 batches, by
autovacuum's default rule (`autovacuum_emulated`, `analyze_runs` in the RESULT). `RESULT` has the SQLite figures at
the top level and PostgreSQL's under `postgres` (null when it does not answer).
"""

from __future__ import annotations

import argparse
import gc
import gzip
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
QUICK_ITEMS = 100_000
BATCH = 1000
NAIVE_SAMPLE = 200


def data_dir() -> Path:
    env = os.environ.get("GUANWEI_DATA_DIR")
    return Path(env) if env else REPO.parent / "shared" / "data"


def pg_answers() -> bool:
    try:
        import psycopg

        with psycopg.connect("postgres://postgres@127.0.0.1:5432/postgres", connect_timeout=2, autocommit=True) as c:
            c.execute("DROP DATABASE IF EXISTS gw_bench_monitoring WITH (FORCE)")
            c.execute("CREATE DATABASE gw_bench_monitoring")
        return True
    except Exception:  # noqa: BLE001 - no PostgreSQL here
        return False


def ced_items(limit: int | None) -> Any:
    """The CED items as listening's Incoming, in file order (source, then its reposts)."""
    from guanwei.listening.store import Incoming

    path = data_dir() / "ced" / "cascades.jsonl.gz"
    n = 0
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            cascade = json.loads(line)
            source = cascade["source"]
            user = source.get("user") or {}
            for post in [source, *cascade["reposts"]]:
                is_source = post is source
                try:
                    at = datetime.fromisoformat(str(post.get("time")))  # "2012-09-11T11:35:48+08:00"
                except (TypeError, ValueError, OverflowError):
                    at = datetime(2014, 1, 1, tzinfo=UTC)
                vt = user.get("verified_type") if is_source else None
                yield Incoming(
                    platform="weibo:ced", remote_id=str(post["mid"]), kind="status" if is_source else "repost",
                    text=post.get("text") or "", created_at=at, author_id=str(post.get("uid") or ""),
                    author_name=str(post.get("uid") or ""),
                    author_verified_type=vt if isinstance(vt, int) else None,
                    author_followers=user.get("followers_count") if is_source else None,
                    author_region=(user.get("location") or "") if is_source else "",
                    in_reply_to_id="" if is_source else str(source["mid"]), source="import",
                )  # fmt: skip
                n += 1
                if limit is not None and n >= limit:
                    return


def cpu_best(fn: Any, repeat: int = 2) -> float:
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        gc.disable()
        try:
            t0 = time.process_time()
            fn()
            best = min(best, time.process_time() - t0)
        finally:
            gc.enable()
    return best


def autovacuum_is_off() -> bool:
    from django.db import connection

    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SHOW autovacuum")
        return cursor.fetchone()[0] == "off"


def analyze_as_autovacuum_would() -> int:
    """ANALYZE each table as autovacuum's defaults would (more than 50 + 10 % of its rows changed
    since the last one). A new table's statistics say it is empty: without them the planner
    reads a 400,000-row table whole for each batch's lookups (seen: the store slowed from 5,200
    to 2,200 mentions/s within 500,000). Returns the tables analyzed."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname FROM pg_stat_user_tables WHERE n_mod_since_analyze > 50 + 0.1 * n_live_tup"
        )
        tables = [row[0] for row in cursor.fetchall()]
        for table in tables:
            cursor.execute(f'ANALYZE "{table}"')  # names from the catalogue, not input
    return len(tables)


def consume(done_flag: str) -> None:
    """The consumer process: dispatch until the writer is done and every mention is matched."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "guanwei.settings")
    django.setup()
    from guanwei.listening import consumers
    from guanwei.listening.models import ConsumerCursor, Mention
    from guanwei.monitoring import matching

    consumers.SETTLE_S = 0
    while True:
        given = consumers.dispatch(matching.CONSUMER, batch=BATCH, max_batches=50)
        if given:
            continue
        if os.path.exists(done_flag):
            top = Mention.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
            if ConsumerCursor.objects.get(name=matching.CONSUMER).last_id >= top:
                return
        time.sleep(0.05)


def child(quick: bool, serial: bool) -> dict[str, Any]:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "guanwei.settings")
    django.setup()
    from django.core.management import call_command
    from django.db import transaction

    call_command("migrate", verbosity=0)

    import ahocorasick

    sys.path.insert(0, str(BENCH))
    import textkit as tk  # bench/textkit.py: the rule generator and the naive baseline

    from guanwei.core.models import Enterprise
    from guanwei.listening import consumers
    from guanwei.listening.models import Mention
    from guanwei.listening.store import prepare, store
    from guanwei.monitoring import matching
    from guanwei.monitoring.models import HourCount, MinuteCount, Monitor, MonitorMatch
    from guanwei.textkit.normalize import fold
    from guanwei.textkit.query import parse

    path = data_dir() / "ced" / "cascades.jsonl.gz"
    limit = QUICK_ITEMS if quick else None
    t0 = time.perf_counter()
    vocab_posts, _seen, _skipped = tk.read_posts(path, 50_000)
    terms, phrases = tk.vocabulary([p.text for p in vocab_posts])
    rules = tk.generate_rules(vocab_posts, terms, phrases)
    del vocab_posts
    enterprise = Enterprise.objects.create(name="监控压测", slug="bench-monitoring")
    long_ago = datetime(2000, 1, 1, tzinfo=UTC)
    Monitor.objects.bulk_create(
        [Monitor(enterprise=enterprise, name=rid, rule=text, rule_since=long_ago) for rid, text in rules.items()],
        batch_size=1000,
    )
    print(f"  {len(rules):,} monitors in {time.perf_counter() - t0:.1f} s", file=sys.stderr)

    consumers.SETTLE_S = 0  # the bench is the only writer: nothing commits late
    stored = received = 0
    batch: list[Any] = []
    done_flag = os.path.join(os.environ["GUANWEI_VAR_DIR"], "store-done")
    consumer = None
    if not serial:
        consumer = subprocess.Popen([sys.executable, __file__, "--consume", done_flag], cwd=REPO)
    t0 = time.perf_counter()
    last_print = t0

    def flush() -> None:
        nonlocal stored, received
        prepared = prepare(enterprise, batch)  # as listening's callers: outside the transaction
        with transaction.atomic():
            result = store(enterprise, prepared)
        stored += result.stored
        received += result.received
        batch.clear()
        if serial:
            consumers.dispatch(matching.CONSUMER, batch=BATCH, max_batches=10_000)

    emulate = autovacuum_is_off()
    analyzed = 0
    batches = 0
    for item in ced_items(limit):
        batch.append(item)
        if len(batch) >= BATCH:
            flush()
            batches += 1
            if emulate and batches % 10 == 0:
                analyzed += analyze_as_autovacuum_would()
            if time.perf_counter() - last_print > 30:
                last_print = time.perf_counter()
                print(f"  {stored:,} stored and matched, {stored / (last_print - t0):,.0f}/s", file=sys.stderr)
    if batch:
        flush()
    if consumer is not None:
        store_seconds = time.perf_counter() - t0
        Path(done_flag).touch()
        consumer.wait()
        print(f"  stored in {store_seconds:.1f} s; matched {time.perf_counter() - t0 - store_seconds:.1f} s later",
              file=sys.stderr)  # fmt: skip
    seconds = time.perf_counter() - t0
    result: dict[str, Any] = {
        "processes": 1 if serial else 2,
        "mentions": stored,
        "received": received,
        "monitors": len(rules),
        "seconds": round(seconds, 1),
        "mentions_per_s": round(stored / seconds),
        "matches": MonitorMatch.objects.filter(enterprise=enterprise).count(),
        "minute_rows": MinuteCount.objects.count(),
        # PostgreSQL with autovacuum off (this machine's server): its ANALYZE done by the bench
        "autovacuum_emulated": emulate,
        "analyze_runs": analyzed,
    }
    print(f"  pipeline: {stored:,} in {seconds:.1f} s", file=sys.stderr)

    # The matcher alone, the raw automaton and the naive baseline on the stored texts.
    mentions = matching.rows_of(Mention.objects.filter(enterprise=enterprise).order_by("pk"))
    texts = [matching.match_text(m) for m in mentions]
    matcher = matching.matcher_for(enterprise.pk)
    assert matcher is not None
    found: list[list[int]] = []

    def run_match() -> None:
        found[:] = matcher.match(texts)

    automaton = ahocorasick.Automaton()
    for lid, lit in enumerate(tk._literals(matcher)):
        automaton.add_word(lit, lid)
    automaton.make_automaton()

    def run_raw() -> None:
        for t in texts:
            for _hit in automaton.iter(fold(t.text)):
                pass

    result["match_posts_per_s"] = round(len(texts) / cpu_best(run_match))
    result["raw_automaton_posts_per_s"] = round(len(texts) / cpu_best(run_raw))
    naive = [re.compile(tk._naive(parse(text)), re.DOTALL) for text in rules.values()]
    step = max(1, len(texts) // NAIVE_SAMPLE)
    sample = texts[::step][:NAIVE_SAMPLE]

    def run_naive() -> None:
        for t in sample:
            subject = tk._naive_subject(t)
            for pattern in naive:
                pattern.match(subject)

    result["naive_regex_posts_per_s"] = round(len(sample) / cpu_best(run_naive, repeat=1), 1)
    result["naive_sample_posts"] = len(sample)

    # Checks: every mention's stored monitors = a fresh match; every counter = a recount.
    stored_hits: dict[int, set[int]] = defaultdict(set)
    for monitor_id, mention_id in MonitorMatch.objects.filter(enterprise=enterprise).values_list(
        "monitor_id", "mention_id"
    ).iterator(chunk_size=20_000):
        stored_hits[mention_id].add(monitor_id)
    differing = [
        set(hits) ^ stored_hits.get(m.id, set()) for m, hits in zip(mentions, found, strict=True)
    ]
    result["match_mismatches"] = sum(1 for d in differing if d)
    # A mention is matched with its author as listening knew them then; a later item of the same
    # author may change their verified type or region (a CED source post carries the user's, a
    # repost does not). Mismatches where every differing monitor's rule reads the author's fields:
    author_rules = {rid for rid, text in Monitor.objects.filter(enterprise=enterprise).values_list("pk", "rule")
                    if re.search(r"\b(verified|region|author):", text)}  # fmt: skip
    result["match_mismatches_author_changed"] = sum(1 for d in differing if d and d <= author_rules)
    sentiment = {m.id: m.sentiment for m in mentions}
    moment = {m.id: m.created_at.replace(second=0, microsecond=0) for m in mentions}
    recount: dict[tuple[int, datetime], Counter[str]] = defaultdict(Counter)
    for mention_id, monitors in stored_hits.items():
        for monitor_id in monitors:
            cell = recount[(monitor_id, moment[mention_id])]
            cell["volume"] += 1
            cell[sentiment[mention_id]] += 1
    fields = ("volume", "positive", "neutral", "negative")
    kept = {
        (row[0], row[1]): dict(zip(fields, row[2:], strict=True))
        for row in MinuteCount.objects.filter(monitor__enterprise=enterprise)
        .values_list("monitor_id", "minute", *fields)
        .iterator(chunk_size=20_000)
    }
    mismatches = sum(
        any(kept.get(key, {}).get(f, 0) != cell.get(f, 0) for f in fields) for key, cell in recount.items()
    ) + sum(1 for key in kept if key not in recount)
    result["counter_mismatches"] = mismatches
    # the hour rollups, against the same recount summed by hour
    by_hour: dict[tuple[int, datetime], Counter[str]] = defaultdict(Counter)
    for (monitor_id, minute), cell in recount.items():
        by_hour[(monitor_id, minute.replace(minute=0))].update(cell)
    hours = {
        (row[0], row[1]): dict(zip(fields, row[2:], strict=True))
        for row in HourCount.objects.filter(monitor__enterprise=enterprise)
        .values_list("monitor_id", "hour", *fields)
        .iterator(chunk_size=20_000)
    }
    result["hour_counter_mismatches"] = sum(
        any(hours.get(key, {}).get(f, 0) != cell.get(f, 0) for f in fields) for key, cell in by_hour.items()
    ) + sum(1 for key in hours if key not in by_hour)
    result["hour_rows"] = len(hours)
    result["matches_per_mention"] = round(result["matches"] / max(1, stored), 2)
    return result


def run_child(database: str, quick: bool, serial: bool, tmp: str) -> dict[str, Any]:
    url = "postgres://postgres@127.0.0.1:5432/gw_bench_monitoring" if database == "postgres" else f"sqlite:///{tmp}/bench.db"
    env = dict(os.environ, GUANWEI_ENV="development", GUANWEI_VAR_DIR=tmp, GUANWEI_LOG_LEVEL="WARNING",
               GUANWEI_DEBUG="false", DATABASE_URL=url, PYTHONHASHSEED="0")  # fmt: skip
    # PYTHONHASHSEED: the rule generator's ties (set order) are the same in every run
    cmd = [sys.executable, __file__, "--child"] + (["--quick"] if quick else []) + (["--serial"] if serial else [])
    out = subprocess.run(cmd, env=env, cwd=REPO, stdout=subprocess.PIPE, text=True, check=True)
    line = [x for x in out.stdout.splitlines() if x.startswith("CHILD ")][-1]
    return json.loads(line[len("CHILD ") :])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"the first {QUICK_ITEMS:,} items")
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--serial", action="store_true", help="store and match in one process")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--consume", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.consume:
        consume(args.consume)
        return
    if args.child:
        print("CHILD " + json.dumps(child(args.quick, args.serial)))
        return
    if not (data_dir() / "ced" / "cascades.jsonl.gz").exists():
        print(f"no CED data under {data_dir()}; set GUANWEI_DATA_DIR")
        print("RESULT " + json.dumps({"error": "no data", "quick": args.quick}))
        sys.exit(1)
    result: dict[str, Any] = {"quick": args.quick}
    if args.database in ("sqlite", "both"):
        with tempfile.TemporaryDirectory(prefix="bench-monitoring-") as tmp:
            print("SQLite:", file=sys.stderr)
            result.update(run_child("sqlite", args.quick, args.serial, tmp))
            result["database"] = "sqlite"
    postgres = None
    if args.database in ("postgres", "both") and pg_answers():
        with tempfile.TemporaryDirectory(prefix="bench-monitoring-") as tmp:
            print("PostgreSQL:", file=sys.stderr)
            postgres = run_child("postgres", args.quick, args.serial, tmp)
    if args.database == "postgres":
        result.update(postgres or {"error": "PostgreSQL does not answer"})
        result["database"] = "postgres"
    else:
        result["postgres"] = postgres
    print("RESULT " + json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
