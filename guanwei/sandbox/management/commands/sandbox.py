"""`guanwei sandbox …`: drive the sandbox platform's netizens from the terminal.

    guanwei sandbox scenario crisis --speed 60 --minutes 90
    guanwei sandbox scenario lottery --accounts 示例乳业活动 --fast-forward
    guanwei sandbox replay ced --speed 0 --limit 50
    guanwei sandbox replay hot_search --speed 3600 --limit 24
    guanwei sandbox history --days 3
    guanwei sandbox runs

Runs in the foreground with a progress bar (Ctrl-C cancels); `--enqueue` hands the run to the
worker instead (watch it on /sandbox/runs/).
"""

from __future__ import annotations

import sys
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from guanwei.sandbox import runs
from guanwei.sandbox.models_runs import Run, RunKind, RunState
from guanwei.sandbox.replay import DATASETS, DEFAULT_LIMITS
from guanwei.sandbox.scenarios import SCENARIOS


class ProgressBar:
    """`[██████░░░░]  60%  36/60 min  status 120 repost 300 …` on one terminal line."""

    WIDTH = 30

    def __init__(self, stream: Any, unit: str) -> None:
        self.stream, self.unit = stream, unit
        self.is_tty = hasattr(stream, "isatty") and stream.isatty()
        self._last_line = ""
        self._last_at = 0.0

    def __call__(self, run: Run) -> None:
        t = time.monotonic()
        if not run.is_finished and t - self._last_at < (0.2 if self.is_tty else 5.0):
            return
        self._last_at = t
        pct = run.percent
        filled = self.WIDTH * pct // 100
        bar = "█" * filled + "░" * (self.WIDTH - filled)
        if self.unit == "min":
            amount = f"{run.done / 60:.0f}/{run.total / 60:.0f} min"
        else:
            amount = f"{run.done}/{run.total} {self.unit}"
        counts = " ".join(
            f"{k} {v}" for k, v in sorted(run.summary.items() if run.summary else []) if v
        )
        line = f"[{bar}] {pct:3d}%  {amount}  {counts}".rstrip()
        if line == self._last_line:
            return
        self._last_line = line
        if self.is_tty:
            self.stream.write("\r\033[K" + line)
            if run.is_finished:
                self.stream.write("\n")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


class Command(BaseCommand):
    help = "Run sandbox scenarios and replays of real Weibo data (with a progress bar)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)

        s = sub.add_parser("scenario", help="play a scenario: " + ", ".join(SCENARIOS))
        s.add_argument("name", choices=sorted(SCENARIOS))
        s.add_argument(
            "--accounts",
            default="",
            help="comma-separated screen names (default: all official accounts)",
        )
        s.add_argument(
            "--speed",
            type=float,
            default=60.0,
            help="simulated minutes per real minute (default 60)",
        )
        s.add_argument(
            "--minutes", type=float, default=60.0, help="simulated duration (default 60)"
        )
        s.add_argument("--seed", type=int, default=None)
        s.add_argument(
            "--intensity", type=float, default=1.0, help="scale of the event rates (default 1)"
        )
        s.add_argument(
            "--fast-forward", action="store_true", help="write the whole timeline now, ending now"
        )
        s.add_argument("--enqueue", action="store_true", help="run on the worker instead")

        r = sub.add_parser("replay", help="replay real data: " + ", ".join(DATASETS))
        r.add_argument("dataset", choices=sorted(DATASETS))
        r.add_argument(
            "--speed",
            type=float,
            default=0.0,
            help="times faster than real; 0 = as fast as possible",
        )
        r.add_argument("--limit", type=int, default=None,
                       help="cascades (ced), posts (covid) or snapshots (hot_search); defaults: "
                       + ", ".join(f"{k} {v}" for k, v in DEFAULT_LIMITS.items()))  # fmt: skip
        r.add_argument(
            "--original-times", action="store_true", help="keep the data's own timestamps"
        )
        r.add_argument("--data-dir", default=None, help="default: GUANWEI_DATA_DIR")
        r.add_argument("--enqueue", action="store_true", help="run on the worker instead")

        h = sub.add_parser("history", help="seed the demo's past days (skipped if done)")
        h.add_argument("--days", type=float, default=3.0)

        sub.add_parser("runs", help="list recent runs")

    def handle(self, *args: Any, **opts: Any) -> None:
        if not settings.SANDBOX_ENABLED:
            raise CommandError(
                "the built-in sandbox is switched off on this server (GUANWEI_SANDBOX=false); "
                "set GUANWEI_SANDBOX=true to use it"
            )
        action = opts["action"]
        if action == "runs":
            for run in Run.objects.order_by("-id")[:20]:
                self.stdout.write(
                    f"#{run.pk:<5} {run.kind:<8} {run.name:<16} {run.state:<9} {run.percent:3d}%  "
                    f"{run.created_at:%Y-%m-%d %H:%M}  {run.error[:60]}"
                )
            return
        if action == "history":
            from guanwei.sandbox.scenarios import seed_demo_history

            counts = seed_demo_history(days=opts["days"])
            self.stdout.write(
                f"history: {counts}" if counts else "history already seeded; nothing to do"
            )
            return
        try:
            if action == "scenario":
                accounts = [a.strip() for a in opts["accounts"].split(",") if a.strip()]
                run = runs.scenario_run(
                    opts["name"], accounts=accounts or None, speed=opts["speed"],
                    minutes=opts["minutes"], seed=opts["seed"], intensity=opts["intensity"],
                    fast_forward=opts["fast_forward"],
                    requested_by="command line",
                )  # fmt: skip
                unit = "min"
            else:
                run = runs.replay_run(
                    opts["dataset"], speed=opts["speed"], limit=opts["limit"],
                    original_times=opts["original_times"], requested_by="command line",
                )  # fmt: skip
                if opts["data_dir"]:
                    run.params["data_dir"] = opts["data_dir"]
                    run.save(update_fields=["params"])
                unit = "events"
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        if opts["enqueue"]:
            runs.enqueue(run)
            self.stdout.write(f"run #{run.pk} queued for the worker (see /sandbox/runs/{run.pk}/)")
            return
        self.stdout.write(f"run #{run.pk}: {run.kind} {run.name} {run.params}")
        bar = ProgressBar(sys.stderr if self.stderr._out is sys.stderr else self.stderr, unit)
        try:
            runs.execute(run, on_progress=bar)
        except KeyboardInterrupt:
            Run.objects.filter(pk=run.pk, finished_at=None).update(state=RunState.CANCELLED)
            raise CommandError(f"run #{run.pk} interrupted") from None
        run.refresh_from_db()
        if run.state != RunState.DONE:
            raise CommandError(f"run #{run.pk} {run.state}: {run.error}")
        what = "events" if run.kind == RunKind.REPLAY else "simulated minutes"
        amount = run.done if run.kind == RunKind.REPLAY else round(run.done / 60)
        self.stdout.write(f"run #{run.pk} done: {amount} {what}; {run.summary}")
