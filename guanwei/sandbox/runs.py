"""Running scenarios and replays: a `Run` row records what was asked and how far it got.

Started from the runs page (queued as a django-tasks task on the "sandbox" queue, executed by
`guanwei worker`) or from the command line (`guanwei sandbox …`, executed in the foreground
with a progress bar). Either way `execute(run)` does the work:

* a **live** scenario plays its events in real time, `speed` times faster (speed 60: an hour in
  a minute), timestamps are the clock's at the moment of writing; a live crisis looks for the
  enterprise's statement between batches and calms down once it appears. On a worker it runs
  in slices of SLICE_S real seconds (checkpoint, back to the queue), so a long live run never
  holds up the other background work;
* a **fast-forwarded** scenario writes its whole timeline at once, ending now, with past
  timestamps (tests, the demo's history);
* a replay (see `replay.py`) validates its selection first, then loads it.

Progress: scenarios count simulated seconds (done/total = elapsed/duration), replays count
events. A cancel request is honoured between batches.
"""

from __future__ import annotations

import logging
import random
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django_tasks import task

from guanwei.core.clock import now

from . import scenarios as sc
from .models_runs import Run, RunKind, RunState

log = logging.getLogger(__name__)

Progress = Callable[[Run], None]

#: Live runs write at least this often (real seconds) and check for cancel/statements.
TICK_S = 1.0
#: A live scenario on a worker hands the worker back after this many real seconds (checkpoint,
#: re-enqueue), so an hour-long run at speed 1 does not hold up publishing and ingest tasks.
SLICE_S = 20.0
BATCH = 500


class Cancelled(Exception):
    pass


class HandedOver(Exception):
    """A live run saved a checkpoint and went back to the queue."""


# --- creating and starting ----------------------------------------------------------------------


def create_run(
    kind: str,
    name: str,
    params: dict[str, Any],
    *,
    requested_by: str = "",
    enterprise_id: int | None = None,
) -> Run:
    return Run.objects.create(
        kind=kind,
        name=name,
        params=params,
        requested_by=requested_by,
        enterprise_id=enterprise_id,
        created_at=now(),
    )


def scenario_run(
    name: str,
    *,
    accounts: list[str] | None = None,
    speed: float = 60.0,
    minutes: float = 60.0,
    seed: int | None = None,
    intensity: float = 1.0,
    fast_forward: bool = False,
    requested_by: str = "",
    enterprise_id: int | None = None,
) -> Run:
    """A queued scenario run (validated here, so a bad request never reaches a worker).

    A run simulates netizens only: it never posts as an official account. The launch and lottery
    crowds react to the accounts' latest posts, and the crisis crowd calms down once the parent
    account publishes a statement — all published by guanwei through the connector, with the
    account's own token, as on Weibo."""
    if name not in sc.SCENARIOS:
        raise ValueError(f"unknown scenario {name!r}; choose from {', '.join(sc.SCENARIOS)}")
    if not 0 < minutes <= 7 * 24 * 60:
        raise ValueError("minutes must be between 0 and 10080 (a week)")
    if not fast_forward and not 0 < speed <= 10_000:
        raise ValueError("speed must be between 0 and 10000")
    if not 0 < intensity <= 50:
        raise ValueError("intensity must be between 0 and 50")
    params = {
        "accounts": accounts or [],
        "speed": speed,
        "minutes": minutes,
        "seed": seed if seed is not None else random.randrange(1 << 30),
        "intensity": intensity,
        "fast_forward": fast_forward,
    }
    return create_run(
        RunKind.SCENARIO, name, params, requested_by=requested_by, enterprise_id=enterprise_id
    )


def replay_run(
    dataset: str,
    *,
    speed: float = 0.0,
    limit: int | None = None,
    original_times: bool = False,
    requested_by: str = "",
    enterprise_id: int | None = None,
) -> Run:
    """A queued replay run. speed 0 = as fast as possible (timestamps keep their spacing and
    end now); speed N = N times faster than it happened, in real time."""
    from .replay import DATASETS

    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; choose from {', '.join(DATASETS)}")
    if speed < 0:
        raise ValueError("speed must not be negative")
    if limit is not None and limit <= 0:
        raise ValueError("limit must be positive")
    params = {"speed": speed, "limit": limit, "original_times": original_times}
    return create_run(
        RunKind.REPLAY, dataset, params, requested_by=requested_by, enterprise_id=enterprise_id
    )


def enqueue(run: Run) -> Run:
    """Hand the run to a worker (after commit, so the worker finds the row)."""
    transaction.on_commit(lambda: execute_run.enqueue(run.pk))
    return run


def request_cancel(run: Run) -> None:
    Run.objects.filter(pk=run.pk, finished_at=None).update(cancel_requested=True)


@task(queue_name="sandbox")
def execute_run(run_id: int) -> None:
    """Worker entry point: live scenarios and replays run in slices of SLICE_S real seconds."""
    # One task at a time exists per run (a slice hands over by queueing the next). Finding the
    # run RUNNING means the worker of the previous task died and ops.recovery queued this one
    # again: take the run back and resume from its checkpoint (or honour a cancel request).
    Run.objects.filter(pk=run_id, state=RunState.RUNNING).update(state=RunState.QUEUED)
    run = Run.objects.get(pk=run_id)
    execute(run, slice_s=SLICE_S)


# --- executing ----------------------------------------------------------------------------------


def execute(
    run: Run,
    *,
    on_progress: Progress | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    slice_s: float | None = None,
) -> Run:
    """Claim the run (exactly once: a conditional update) and do it; record the outcome.
    `sleep` and `clock` pace live runs (tests pass a fake pair). With `slice_s`, a live
    scenario stops after that many real seconds, saves a checkpoint and queues itself again."""
    claimed = Run.objects.filter(pk=run.pk, state=RunState.QUEUED).update(
        state=RunState.RUNNING, started_at=Coalesce(F("started_at"), Value(now()))
    )
    if not claimed:
        log.info("sandbox.run.skip run=%s: already claimed", run.pk)
        run.refresh_from_db()
        return run
    run.refresh_from_db()
    log.info("sandbox.run.start run=%s kind=%s name=%s", run.pk, run.kind, run.name)
    tracker = _Tracker(run, on_progress)
    try:
        if run.kind == RunKind.SCENARIO:
            _play_scenario(run, tracker, sleep, clock, slice_s)
        elif run.kind == RunKind.REPLAY:
            from . import replay

            replay.play(run, tracker, sleep, clock, slice_s)
        elif run.kind == RunKind.SEED:
            _seed(run, tracker)
        else:
            raise ValueError(f"unknown run kind {run.kind!r}")
    except HandedOver:
        log.info("sandbox.run.handover run=%s done=%s", run.pk, run.done)
        return run
    except Cancelled:
        tracker.finish(RunState.CANCELLED)
    except Exception as exc:  # every failure is visible on the run, never a silent worker death
        log.exception("sandbox.run.failed run=%s", run.pk)
        tracker.finish(RunState.FAILED, error=str(exc) or exc.__class__.__name__)
    else:
        tracker.finish(RunState.DONE)
    log.info("sandbox.run.end run=%s state=%s done=%s", run.pk, run.state, run.done)
    return run


class _Tracker:
    """Writes progress to the run (throttled) and raises Cancelled when asked to stop."""

    def __init__(self, run: Run, on_progress: Progress | None) -> None:
        self.run, self.on_progress = run, on_progress
        self.counts: Counter[str] = Counter(run.summary or {})  # a resumed run goes on counting
        self._last = 0.0

    def total(self, total: int) -> None:
        self.run.total = total
        Run.objects.filter(pk=self.run.pk).update(total=total)

    def update(self, done: int, *, force: bool = False) -> None:
        self.run.done = min(done, self.run.total) if self.run.total else done
        if self.on_progress:
            self.on_progress(self.run)
        t = time.monotonic()
        if not force and t - self._last < 0.5:
            return
        self._last = t
        self.run.summary = dict(self.counts)
        Run.objects.filter(pk=self.run.pk).update(done=self.run.done, summary=self.run.summary)
        if Run.objects.filter(pk=self.run.pk, cancel_requested=True).exists():
            raise Cancelled

    def finish(self, state: str, error: str = "") -> None:
        run = self.run
        run.state, run.error, run.finished_at = state, error[:2000], now()
        if state == RunState.DONE and run.total:
            run.done = run.total
        run.summary = dict(self.counts)
        Run.objects.filter(pk=run.pk).update(
            state=run.state, error=run.error, finished_at=run.finished_at, done=run.done,
            summary=run.summary,
        )  # fmt: skip
        if self.on_progress:
            self.on_progress(run)


def _count(tracker: _Tracker, events: list[sc.Event], result: sc.EnactResult) -> None:
    tracker.counts.update(result.created)
    tracker.counts["negative"] += sum(1 for e in events if e.tone == "negative")
    tracker.counts["skipped"] += result.skipped


def _play_scenario(
    run: Run,
    tracker: _Tracker,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
    slice_s: float | None = None,
) -> None:
    p = run.params
    minutes = float(p["minutes"])
    duration_s = minutes * 60
    fast = bool(p.get("fast_forward"))
    speed = float(p.get("speed") or 60.0)
    rng = random.Random(int(p.get("seed") or 1))
    cast = sc.cast_from_store(p.get("accounts") or None)
    checkpoint = p.get("checkpoint") or {}
    started = datetime.fromisoformat(checkpoint["started"]) if checkpoint else now()
    start = started - timedelta(seconds=duration_s) if fast else started
    statement_at = checkpoint.get("statement_at")
    if fast and run.name == "crisis" and statement_at is None:
        # Fast-forward writes the past at once: the crowd reacts to a statement the parent
        # account published (through guanwei) inside that past, if there is one.
        seen = _statement_time_since(cast.account("parent").uid, start)
        if seen is not None and seen <= started:
            statement_at = (seen - start).total_seconds()
    ctx = sc.Context(
        rng=rng,
        texts=sc.TextSource(rng=rng),
        duration_s=duration_s,
        start=start,
        official_posts=False,  # never on a tenant's behalf: see scenario_run
        intensity=float(p.get("intensity") or 1.0),
        statement_at=statement_at,
    )
    scenario = sc.build(run.name, cast, ctx)
    tracker.total(int(duration_s))
    made: dict[int, object] = _restore_made(checkpoint.get("made", {}))
    if fast:
        batch: list[sc.Event] = []
        for e in scenario.timeline():
            batch.append(e)
            if len(batch) >= BATCH:
                _count(
                    tracker,
                    batch,
                    sc.enact(batch, time_of=lambda e: start + timedelta(seconds=e.at), made=made),
                )
                tracker.update(int(e.at))
                batch = []
        _count(
            tracker,
            batch,
            sc.enact(batch, time_of=lambda e: start + timedelta(seconds=e.at), made=made),
        )
        tracker.update(int(duration_s), force=True)
        return

    # Live: events are written in ticks of TICK_S real seconds (all that fell due in the tick,
    # stamped with the clock's time), and between ticks the crisis looks for the statement.
    # A resumed slice regenerates the same timeline (same seed; a statement already seen is
    # known from the start) and skips what the earlier slices wrote.
    written_until = float(checkpoint.get("written_until", -1.0))  # the last event written
    resume_at = float(checkpoint.get("sim_s", 0.0))  # where the simulated clock stood
    t0 = clock()
    parent = cast.account("parent")
    pending: list[sc.Event] = []
    next_tick = t0 + TICK_S

    def sim_now() -> float:
        return resume_at + (clock() - t0) * speed

    def tick() -> None:
        nonlocal pending, written_until
        if pending:
            _count(tracker, pending, sc.enact(pending, time_of=lambda e: now(), made=made))
            written_until = pending[-1].at
            pending = []
        if run.name == "crisis" and ctx.statement_at is None:
            if _has_statement_since(parent.uid, started):
                # seen now: the crowd reacts from this simulated moment on
                ctx.statement_at = sim_now()
                log.info(
                    "sandbox.crisis.statement_seen run=%s at_sim_s=%.0f", run.pk, ctx.statement_at
                )
        tracker.update(int(sim_now()))

    for e in scenario.timeline():
        if e.at <= written_until:
            continue
        due = t0 + (e.at - resume_at) / speed
        while due > next_tick:
            if clock() < next_tick:
                sleep(next_tick - clock())
            tick()
            next_tick = max(next_tick + TICK_S, clock())
            if slice_s is not None and clock() - t0 >= slice_s:
                _hand_over(run, tracker, started, ctx.statement_at, sim_now(), written_until, made)
        pending.append(e)
    tick()
    tracker.update(int(duration_s), force=True)


def _restore_made(saved: dict[str, list[int]]) -> dict[int, object]:
    """Event key → the status or comment it created, from a checkpoint (ids only)."""
    from .models import Comment, Status

    made: dict[int, object] = {}
    for key, (kind, pk, status_id) in saved.items():
        made[int(key)] = Status(pk=pk) if kind == "s" else Comment(pk=pk, status_id=status_id)
    return made


def _hand_over(
    run: Run,
    tracker: _Tracker,
    started: datetime,
    statement_at: float | None,
    sim_s: float,
    written_until: float,
    made: dict[int, object],
) -> None:
    """Save where the live scenario is and put it back in the queue (raises HandedOver)."""
    from .models import Status

    hand_over(
        run,
        tracker,
        {
            "started": started.isoformat(),
            "statement_at": statement_at,
            "sim_s": sim_s,
            "written_until": written_until,
            "made": {
                str(k): ["s", obj.pk, obj.pk]
                if isinstance(obj, Status)
                else ["c", obj.pk, obj.status_id]  # type: ignore[attr-defined]
                for k, obj in made.items()
            },
        },
    )


def hand_over(run: Run, tracker: _Tracker, checkpoint: dict[str, Any]) -> None:
    """Store `checkpoint` on a running live run, queue it again and raise HandedOver — unless
    it was cancelled meanwhile (then Cancelled)."""
    run.params["checkpoint"] = checkpoint
    run.summary = dict(tracker.counts)
    queued = Run.objects.filter(pk=run.pk, state=RunState.RUNNING, cancel_requested=False).update(
        state=RunState.QUEUED, params=run.params, summary=run.summary, done=run.done
    )
    if not queued:
        raise Cancelled
    run.state = RunState.QUEUED
    enqueue(run)
    raise HandedOver


def _statement_time_since(uid: int, since: datetime) -> datetime | None:
    """When the parent account first posted something that reads as a statement since `since`."""
    from .models import Status

    rows = (
        Status.objects.filter(user_id=uid, created_at__gte=since, deleted_at=None)
        .order_by("id")
        .values_list("text", "created_at")[:200]
    )
    return next((at for text, at in rows if sc.STATEMENT_RE.search(text)), None)


def _has_statement_since(uid: int, since: datetime) -> bool:
    """Whether the parent account posted something that reads as a statement since `since`."""
    return _statement_time_since(uid, since) is not None


# --- the demo's history -------------------------------------------------------------------------

# (scenario, starts at day, minutes, intensity, extra)
HISTORY_PLAN: tuple[tuple[str, float, float, float, dict[str, Any]], ...] = (
    ("ordinary_day", 0.0, -1, 1.0, {}),  # -1: the whole span
    ("customer_service", 0.0, -1, 0.15, {}),
    ("lottery", 0.45, 240, 0.5, {}),
    ("product_launch", 1.40, 150, 0.5, {}),
    ("crisis", 2.05, 300, 0.45, {"statement_after_min": 110}),
)


def seed_history(*, days: float = 3, seed: int = 7) -> dict[str, int]:
    """See `scenarios.seed_demo_history`. Returns counts by event kind ({} when skipped)."""
    if Run.objects.filter(kind=RunKind.SEED, state=RunState.DONE).exists():
        return {}
    run = create_run(
        RunKind.SEED, "demo_history", {"days": days, "seed": seed}, requested_by="demo seed"
    )
    execute(run)
    if run.state != RunState.DONE:
        raise RuntimeError(f"seeding the sandbox history failed: {run.error}")
    return dict(run.summary)


def _seed(run: Run, tracker: _Tracker) -> None:
    days = float(run.params.get("days", 3))
    seed = int(run.params.get("seed", 7))
    span_min = days * 24 * 60
    cast = sc.cast_from_store()
    end = now()
    start = end - timedelta(minutes=span_min)
    timeline: list[sc.Event] = []
    for i, (name, at_day, minutes, intensity, extra) in enumerate(HISTORY_PLAN):
        begin_min = at_day * 24 * 60
        length = span_min if minutes < 0 else minutes
        if begin_min >= span_min:
            continue
        length = min(length, span_min - begin_min)
        rng = random.Random(seed * 100 + i)
        ctx = sc.Context(
            rng=rng, texts=sc.TextSource(rng=rng), duration_s=length * 60,
            start=start + timedelta(minutes=begin_min), official_posts=True, intensity=intensity,
            statement_after_s=(extra["statement_after_min"] * 60) if "statement_after_min" in extra else None,
        )  # fmt: skip
        for e in sc.build(name, cast, ctx).timeline():
            e.at += begin_min * 60
            timeline.append(e)
    timeline.sort(key=lambda e: e.at)  # stable: a scenario's own order is kept on ties
    for key, e in enumerate(timeline):
        e.key = key
    tracker.total(len(timeline))
    made: dict[int, object] = {}
    for i in range(0, len(timeline), BATCH):
        batch = timeline[i : i + BATCH]
        result = sc.enact(
            batch, time_of=lambda e: start + timedelta(seconds=e.at), made=made, notify=False
        )
        _count(tracker, batch, result)
        tracker.update(i + len(batch))
