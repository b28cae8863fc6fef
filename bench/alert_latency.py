"""Benchmark monitoring's alerts (issue 15): from the mention that makes a storm to the signed
webhook delivery, with the web server and the worker running.

    .venv/bin/python bench/alert_latency.py [--quick] [--rounds N] [--speed S] [--minutes M] [--duration D]

In a child process with a fresh SQLite database in a temporary directory: the demo is seeded
(`ops.seed.seed_demo`, without history: 6 sandbox accounts, the three demo monitors' rules); a
local HTTPS-less webhook receiver (a thread of the bench, on 127.0.0.1, allowed through
GUANWEI_OUTBOUND_ALLOW) verifies each delivery's Standard Webhooks signature and notes when it
arrived; a webhook channel for `alert.raised` points at it. `guanwei run` serves the sandbox
and runs its worker (every periodic job: listening polls every 15 s, the consumer dispatches
every 15 s, monitoring.detect runs every minute).

Each round: COPIES copies of each demo monitor's rule are created (new monitors, so each round
starts without an open storm), each with a learned usual level: its rule started 8 days ago
and its counters hold USUAL mentions an hour for those 8 days (written directly — the bench
cannot wait a week). Alert rules: the defaults (min volume 10 an hour, 3× the usual) except
`min_duration` = 2 minutes (`--duration`; 0: alert as soon as the thresholds hold): the
scenario is sped up (`--speed`, default 20: 90 minutes of crisis in 4.5), and the default 10
minutes of duration would be hours of the crisis. Then
the sandbox's `crisis` scenario plays live (`guanwei sandbox scenario crisis --minutes M
--speed S`), and the bench waits until every monitor has alerted or 4 minutes have passed.

Latency, per monitor's first alert: the receiver's arrival time − the crossing moment. The
crossing moment is found afterwards from what the monitor could see: the seeded counters plus
the Mentions listening stored, at their time on the sandbox, replayed through the detector's own
`spikes.assess` with its own semantics (the hour ends with the minute under way): at each seen
mention's time, with the counts up to it, and at each minute's start (a duration condition ripens
with time, not with a mention); the first moment with a finding of any kind is the crossing. What
listening never saw is not counted (the demo has no keyword search: monitors see what reaches
the official accounts).

`RESULT`: `alerts` (monitors that alerted), `crossed_without_alert` (monitors whose stored data
crossed the rule in the replay but that raised no alert: missed storms), of them
`crossed_in_a_stored_state_without_alert` (the replay again, over the states the database held
after each stored batch: a crossing there is a storm the detector could have seen; one only
between two stored states — a mention tipped it, a later one of the same poll undid it — never
existed for it) and `missed` (each one: how long it held, its kinds), `monitors`, `p50_latency_s`, `p95_latency_s`,
`max_latency_s`, `signatures_ok`, `deliveries`, `rounds`, `speed`;
`p50_from_threshold_s`/`p95_from_threshold_s`: the same deliveries timed from the first moment
the thresholds alone held (the rule's duration not yet waited out: a stricter reading of
"the first mention that crosses the threshold"); and where the time went (medians):
`p50_seen_s` (the tipping mention — the last seen mention at or before the crossing — its time on
the sandbox → stored by listening), `p50_raised_s` (stored → the alert raised), `p50_detected_s`
(the crossing → the alert raised), `p50_delivered_s` (raised → received).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
COPIES = 5
USUAL = 6  # mentions an hour each monitor has learned as usual
WAIT_S = 240


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Receiver:
    """A webhook receiver: verifies signatures and keeps (arrival, payload) of each delivery."""

    def __init__(self, secret: str) -> None:
        self.key = base64.b64decode(secret.removeprefix("whsec_"))
        self.received: list[tuple[datetime, dict[str, Any], bool]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                at = datetime.now(UTC)
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                signed = f"{self.headers.get('webhook-id')}.{self.headers.get('webhook-timestamp')}.".encode() + body
                expected = "v1," + base64.b64encode(hmac.new(receiver.key, signed, hashlib.sha256).digest()).decode()
                ok = hmac.compare_digest(expected, self.headers.get("webhook-signature") or "")
                receiver.received.append((at, json.loads(body or b"{}"), ok))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def child(args: argparse.Namespace) -> dict[str, Any]:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "guanwei.settings")
    django.setup()
    from zoneinfo import ZoneInfo

    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from guanwei.core.channels import new_webhook_secret
    from guanwei.core.models import Channel, Enterprise
    from guanwei.listening.models import Mention
    from guanwei.monitoring import spikes
    from guanwei.monitoring.matching import FIELDS, hits_of
    from guanwei.monitoring.models import Alert, AlertRule, MinuteCount, Monitor
    from guanwei.ops.seed import DEMO_MONITORS, seed_demo
    from guanwei.textkit.query import compile_rules

    base = os.environ["GUANWEI_BASE_URL"]
    seed_demo(base, with_history=False)
    enterprise = Enterprise.objects.get(slug="demo") if Enterprise.objects.filter(slug="demo").exists() else Enterprise.objects.first()
    assert enterprise is not None
    Monitor.objects.filter(enterprise=enterprise).update(is_active=False)  # the seed's own: not measured
    secret = new_webhook_secret()
    receiver = Receiver(secret)
    Channel.objects.create(enterprise=enterprise, name="bench receiver", kind=Channel.Kind.WEBHOOK,
                           url=receiver.url, secret=secret, events=["alert.raised"])  # fmt: skip
    env = dict(os.environ)
    server = subprocess.Popen([sys.executable, "-m", "guanwei", "run", "--port", base.rsplit(":", 1)[1]],
                              cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    latencies: list[float] = []
    stages: dict[str, list[float]] = {"seen_s": [], "raised_s": [], "detected_s": [], "delivered_s": []}
    from_threshold: list[float] = []
    crossed_unalerted = 0
    missed: list[dict[str, Any]] = []
    monitors_all: list[Monitor] = []
    alerted = 0
    try:
        import urllib.request

        for _ in range(120):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=2)
                break
            except Exception:  # noqa: BLE001 - not up yet
                time.sleep(0.5)
        for round_no in range(args.rounds):
            now = datetime.now(UTC).replace(second=0, microsecond=0)
            since = now - timedelta(days=8)
            monitors = []
            for name, group, rule in DEMO_MONITORS:
                for k in range(COPIES):
                    monitor = Monitor.objects.create(enterprise=enterprise, name=f"r{round_no}-{k}-{name}", group=group,
                                                     rule=rule, rule_since=since, created_at=since)  # fmt: skip
                    AlertRule.objects.create(monitor=monitor, min_duration=args.duration)
                    rows, at = [], since
                    while at < now:
                        rows.append(MinuteCount(monitor=monitor, minute=at, volume=USUAL, neutral=USUAL))
                        at += timedelta(hours=1)
                    MinuteCount.objects.bulk_create(rows, batch_size=1000)
                    monitors.append(monitor)
            monitors_all.extend(monitors)
            started = datetime.now(UTC)
            print(f"  round {round_no + 1}: {len(monitors)} monitors; the crisis plays", file=sys.stderr)
            subprocess.run([sys.executable, "-m", "guanwei", "sandbox", "scenario", "crisis", "--minutes", str(args.minutes),
                            "--speed", str(args.speed)], cwd=REPO, env=env, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
            deadline = time.time() + WAIT_S
            ids = {m.pk for m in monitors}
            while time.time() < deadline:
                if Alert.objects.filter(monitor_id__in=ids).values("monitor_id").distinct().count() >= len(ids):
                    break
                time.sleep(2)
            time.sleep(10)  # the last deliveries
            # Crossing moments, from what each monitor could see.
            # only this round's: the round's new monitors count what the consumer hands them after
            # their creation (no backfill), not the end of the previous round's crisis
            mentions = list(Mention.objects.filter(enterprise=enterprise, created_at__gte=started)
                            .order_by("created_at").values_list("id", *FIELDS, "received_at", named=True))  # fmt: skip
            tz = ZoneInfo(enterprise.time_zone)
            for monitor in monitors:
                first = Alert.objects.filter(monitor=monitor).order_by("created_at").first()
                # a monitor without an alert is replayed to the round's end: did it cross unseen?
                horizon = first.created_at if first else datetime.now(UTC)
                arrivals = [at for at, body, _ok in receiver.received
                            if first and body.get("data", {}).get("alert_id") == first.pk]  # fmt: skip
                if first is not None and not arrivals:
                    continue
                matcher = compile_rules({monitor.pk: monitor.rule})
                seen = [m for m, hits in zip(mentions, hits_of(matcher, mentions), strict=True) if hits]
                # the seeded "usual" rows (all before the round's start; the consumer's rows
                # are rebuilt below from the mentions)
                series: dict[datetime, tuple[int, int]] = {
                    r.minute: (r.volume, r.negative) for r in MinuteCount.objects.filter(monitor=monitor, minute__lt=now)
                }  # fmt: skip
                # The earliest moment the stored data satisfied the detector, with its own
                # semantics (the hour ends with the minute under way): at each seen mention's
                # time (counts up to it) and at each minute's start (a duration condition ripens
                # with time, not with a mention). `spikes.assess(end=the next minute)`.
                base_series = dict(series)
                rule = AlertRule(min_duration=args.duration)
                bare = AlertRule(min_duration=0)  # the thresholds alone, no duration to wait out
                crossing = tipping = threshold_at = None
                events = sorted([(m.created_at, m) for m in seen]
                                + [(started.replace(second=0, microsecond=0) + timedelta(minutes=k), None)
                                   for k in range(int((horizon - started).total_seconds() // 60) + 3)],
                                key=lambda e: e[0])  # fmt: skip
                counted = dict(base_series)
                for at, m in events:
                    if at > horizon + timedelta(minutes=1):
                        break
                    if m is not None:
                        minute = at.replace(second=0, microsecond=0)
                        v, n = counted.get(minute, (0, 0))
                        counted[minute] = (v + 1, n + (m.sentiment == "negative"))
                    minute = at.replace(second=0, microsecond=0)
                    # just after `at`, the detector's hour ends with the minute under way (at a
                    # minute's start too: the moment after it, that minute is under way)
                    end = minute + timedelta(minutes=1)
                    if threshold_at is None and spikes.assess(
                        spikes.SeriesCounts(counted), monitor.rule_since, bare, end, tz
                    ).findings:
                        threshold_at = at
                    if spikes.assess(spikes.SeriesCounts(counted), monitor.rule_since, rule, end, tz).findings:
                        crossing = at
                        tipping = m if m is not None else next((x for x in reversed(seen) if x.created_at <= at), None)
                        break
                if crossing is None:
                    continue
                if first is None:
                    crossed_unalerted += 1
                    # Could the detector have seen it? The same replay over the states the
                    # database held: after each stored batch (mentions received by then, at
                    # their times) and at each minute's start, the hour ending with that moment's
                    # minute. A crossing only between two stored states (a mention tipped it, a
                    # later one of the same poll undid it) never existed for the detector.
                    moments = sorted({m.received_at for m in seen}
                                     | {started.replace(second=0, microsecond=0) + timedelta(minutes=k)
                                        for k in range(int((horizon - started).total_seconds() // 60) + 3)})  # fmt: skip
                    stored_at = None
                    for at in moments:
                        stored = dict(base_series)
                        for x in seen:
                            if x.received_at <= at:
                                minute = x.created_at.replace(second=0, microsecond=0)
                                v, n = stored.get(minute, (0, 0))
                                stored[minute] = (v + 1, n + (x.sentiment == "negative"))
                        end = at.replace(second=0, microsecond=0) + timedelta(minutes=1)
                        if spikes.assess(spikes.SeriesCounts(stored), monitor.rule_since, rule, end, tz).findings:
                            stored_at = at
                            break
                    kinds = [f.kind for f in spikes.assess(spikes.SeriesCounts(counted), monitor.rule_since, rule,
                                                           crossing.replace(second=0, microsecond=0) + timedelta(minutes=1), tz).findings]  # fmt: skip
                    # and how long the crossing held in the replay by the mentions' own times
                    held_until = crossing
                    for at, m in events:
                        if at <= crossing:
                            continue
                        if m is not None:
                            minute = at.replace(second=0, microsecond=0)
                            v, n = counted.get(minute, (0, 0))
                            counted[minute] = (v + 1, n + (m.sentiment == "negative"))
                        end = at.replace(second=0, microsecond=0) + timedelta(minutes=1)
                        if not spikes.assess(spikes.SeriesCounts(counted), monitor.rule_since, rule, end, tz).findings:
                            break
                        held_until = at
                    missed.append({"monitor": monitor.name, "held_s": round((held_until - crossing).total_seconds(), 1),
                                   "seen_in_a_stored_state": stored_at is not None, "kinds": kinds})  # fmt: skip
                    continue
                alerted += 1
                latencies.append((arrivals[0] - crossing).total_seconds())
                from_threshold.append((arrivals[0] - (threshold_at or crossing)).total_seconds())
                stages["detected_s"].append((first.created_at - crossing).total_seconds())
                if tipping is not None:  # where the time went: listening, detection, delivery
                    stages["seen_s"].append((tipping.received_at - tipping.created_at).total_seconds())
                    stages["raised_s"].append((first.created_at - tipping.received_at).total_seconds())
                stages["delivered_s"].append((arrivals[0] - first.created_at).total_seconds())
    finally:
        server.terminate()
        try:
            server.wait(60)
        except subprocess.TimeoutExpired:
            server.kill()
    latencies.sort()
    from_threshold.sort()

    def pct(q: float) -> float | None:
        return round(latencies[min(len(latencies) - 1, int(q * len(latencies)))], 1) if latencies else None

    def pct_threshold(q: float) -> float | None:
        values = from_threshold
        return round(values[min(len(values) - 1, int(q * len(values)))], 1) if values else None

    return {
        "alerts": alerted,
        # monitors whose stored data crossed the rule (the replay) but that raised no alert
        "crossed_without_alert": crossed_unalerted,
        # of them, those whose crossing the database ever held after a stored batch (a storm the
        # detector could have seen and missed), and each one's detail
        "crossed_in_a_stored_state_without_alert": sum(1 for m in missed if m["seen_in_a_stored_state"]),
        "missed": missed,
        "monitors": len(monitors_all),
        "p50_latency_s": pct(0.5),
        "p95_latency_s": pct(0.95),
        "max_latency_s": round(latencies[-1], 1) if latencies else None,
        # from the first moment the thresholds alone held (before the rule's duration)
        "p50_from_threshold_s": pct_threshold(0.5),
        "p95_from_threshold_s": pct_threshold(0.95),
        # medians of the stages: tipping mention stored by listening; alert raised after that;
        # delivery received after that
        **{f"p50_{k}": (sorted(v)[len(v) // 2] if v else None) for k, v in stages.items()},
        "signatures_ok": all(ok for _at, _body, ok in receiver.received),
        "deliveries": len(receiver.received),
        "rounds": args.rounds,
        "speed": args.speed,
        "crisis_minutes": args.minutes,
        "min_duration": args.duration,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="one round, 30 minutes of crisis at 30×")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--speed", type=float, default=None)
    parser.add_argument("--minutes", type=int, default=None)
    parser.add_argument("--duration", type=int, default=2, help="the alert rules' min_duration, minutes")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.rounds = args.rounds or (1 if args.quick else 3)
    args.speed = args.speed or (30.0 if args.quick else 20.0)
    args.minutes = args.minutes or (30 if args.quick else 90)
    if args.child:
        print("CHILD " + json.dumps(child(args)))
        return
    with tempfile.TemporaryDirectory(prefix="bench-alerts-") as tmp:
        port = _free_port()
        env = dict(os.environ, GUANWEI_ENV="development", GUANWEI_VAR_DIR=tmp, GUANWEI_LOG_LEVEL="WARNING",
                   GUANWEI_DEBUG="false", GUANWEI_SANDBOX="true", GUANWEI_BASE_URL=f"http://127.0.0.1:{port}",
                   GUANWEI_OUTBOUND_ALLOW="127.0.0.1", DATABASE_URL=f"sqlite:///{tmp}/bench.db")  # fmt: skip
        cmd = [sys.executable, __file__, "--child", "--rounds", str(args.rounds), "--speed", str(args.speed),
               "--minutes", str(args.minutes), "--duration", str(args.duration)]  # fmt: skip
        out = subprocess.run(cmd, env=env, cwd=REPO, stdout=subprocess.PIPE, text=True, check=True)
        line = [x for x in out.stdout.splitlines() if x.startswith("CHILD ")][-1]
    result = json.loads(line[len("CHILD ") :])
    result["quick"] = args.quick
    print("RESULT " + json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
