"""Replay of real Weibo data into the sandbox, in time order, through the store.

Datasets (files under `$GUANWEI_DATA_DIR`, see its SOURCE.md):

* `ced` — CED rumour cascades: each source post and its reposts with parent links and times.
  The data set does not tell comments from reposts, so every record becomes a repost of its
  parent (a chain `text//@parent:…` where the parent is itself a repost). `--limit` = cascades.
* `covid` — CHECKED COVID-19 posts with the minute-stamped comments and reposts on them.
  Events whose text was not kept (95 %) are replayed as plain reposts by a pool of anonymous
  users; comments without text are skipped (their text is unknown). `--limit` = posts.
* `hot_search` — hourly hot-search snapshots: the board on /sandbox/ (HotSearchEntry rows), and
  a status by the 微博热搜 account whenever a title enters the board. `--limit` = snapshots.

Users are pseudonymous (`网友` + a hash of dataset and user id): the data is not used to
re-identify anyone, and replaying twice reuses the same sandbox users.

Bad input: the selection is parsed and validated completely before anything is written; a
line that does not parse stops the replay with `ReplayFileError` naming file, line and reason.
An as-fast-as-possible replay (speed 0) loads in one transaction, so a failure leaves nothing.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.db import transaction

from guanwei.core.clock import now

from .texts import default_data_dir

DATASETS = {
    "ced": "ced/cascades.jsonl.gz",
    "covid": "covid/checked_posts.jsonl.gz",  # + covid/checked_events.jsonl.gz
    "hot_search": "hot_search/hot_search.jsonl.gz",
}
DEFAULT_LIMITS = {"ced": 100, "covid": 20, "hot_search": 48}
COVID_EVENTS = "covid/checked_events.jsonl.gz"
HOT_SEARCH_ACCOUNT = "微博热搜"
CROWD_SIZE = 500  # anonymous users for COVID events without a user id
BATCH = 2000

STATUS, REPOST, COMMENT, HOT = "status", "repost", "comment", "hot"


class ReplayFileError(ValueError):
    """A replay file that does not parse: file, line (1-based) and reason."""

    def __init__(self, path: Path | str, line: int, reason: str) -> None:
        self.path, self.line, self.reason = str(path), line, reason
        super().__init__(f"{path}:{line}: {reason}")


@dataclass
class Item:
    """One thing to write, at its original time."""

    time: datetime
    kind: str  # status / repost / comment / hot
    ref: str = ""  # the dataset's id (statuses), unique in the selection
    user: str = ""  # the dataset's user key
    text: str = ""
    parent: str | None = None  # ref of the status it reposts or comments on
    hot: dict[str, Any] | None = None  # hot-search row
    order: int = 0  # tie-breaker: file order


@dataclass
class Selection:
    dataset: str
    items: list[Item]
    #: user key → sandbox user fields for users with a known profile
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)
    skipped: int = 0
    files: list[str] = field(default_factory=list)


# --- parsing and validation ---------------------------------------------------------------------


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    if not path.exists():
        raise ReplayFileError(path, 0, "file not found (is GUANWEI_DATA_DIR right?)")
    n = 0
    try:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for n, line in enumerate(f, 1):  # noqa: UP028 — n names the line a read error hits
                yield n, line
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise ReplayFileError(path, n + 1, f"cannot read: {exc}") from None


def _raw_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    if not path.exists():
        raise ReplayFileError(path, 0, "file not found (is GUANWEI_DATA_DIR right?)")
    n = 0
    try:
        with gzip.open(path, "rb") as f:
            for n, line in enumerate(f, 1):  # noqa: UP028 — n names the line a read error hits
                yield n, line
    except (OSError, EOFError) as exc:
        raise ReplayFileError(path, n + 1, f"cannot read: {exc}") from None


def _json(path: Path, n: int, line: str) -> dict[str, Any]:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ReplayFileError(path, n, f"not JSON: {exc.msg} at column {exc.colno}") from None
    if not isinstance(row, dict):
        raise ReplayFileError(path, n, "not a JSON object")
    return row


def _time(path: Path, n: int, value: object, what: str) -> datetime:
    if isinstance(value, int | float):
        from datetime import UTC

        return datetime.fromtimestamp(value, UTC)
    if not isinstance(value, str) or not value:
        raise ReplayFileError(path, n, f"{what}: missing time")
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        try:
            t = datetime.strptime(value, "%a %b %d %H:%M:%S %z %Y")  # Weibo's created_at
        except ValueError:
            raise ReplayFileError(path, n, f"{what}: bad time {value!r}") from None
    if t.tzinfo is None:
        raise ReplayFileError(path, n, f"{what}: time {value!r} has no offset")
    return t


def _str(
    path: Path, n: int, row: dict[str, Any], key: str, what: str, *, empty: bool = False
) -> str:
    value = row.get(key)
    if not isinstance(value, str) or (not empty and not value):
        raise ReplayFileError(path, n, f"{what}: field {key!r} missing or not text")
    return value


def own_words(text: str) -> str:
    """A repost's own comment: what precedes the quoted chain `//@…`."""
    return text.split("//@", 1)[0].strip()


def select(dataset: str, limit: int | None = None, data_dir: str | None = None) -> Selection:
    """Parse and validate the first `limit` records of `dataset`; nothing is written.

    The last selection is kept (keyed by the files' size and mtime): a live replay resumed by
    the same worker after a hand-over does not parse 3 million COVID event lines again."""
    root = Path(data_dir if data_dir is not None else default_data_dir() or "")
    if not str(root) or str(root) == ".":
        raise ReplayFileError(DATASETS.get(dataset, dataset), 0, "GUANWEI_DATA_DIR is not set")
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}")
    limit = DEFAULT_LIMITS[dataset] if limit is None else limit
    paths = [root / DATASETS[dataset]] + ([root / COVID_EVENTS] if dataset == "covid" else [])
    stamp = tuple((str(f), *_stat(f)) for f in paths)
    return _select(dataset, limit, root, stamp)


def _stat(path: Path) -> tuple[int, int]:
    try:
        st = path.stat()
    except OSError:
        return (0, 0)
    return (st.st_size, st.st_mtime_ns)


@lru_cache(maxsize=1)
def _select(dataset: str, limit: int, root: Path, stamp: tuple[object, ...]) -> Selection:
    if dataset == "ced":
        return _select_ced(root / DATASETS["ced"], limit)
    if dataset == "covid":
        return _select_covid(root / DATASETS["covid"], root / COVID_EVENTS, limit)
    return _select_hot(root / DATASETS["hot_search"], limit)


def _select_ced(path: Path, limit: int) -> Selection:
    sel = Selection("ced", [], files=[str(path)])
    order = 0
    for n, line in _lines(path):
        if n > limit:
            break
        row = _json(path, n, line)
        source = row.get("source")
        if not isinstance(source, dict):
            raise ReplayFileError(path, n, "field 'source' missing or not an object")
        mid = _str(path, n, source, "mid", "source")
        uid = _str(path, n, source, "uid", "source")
        t0 = _time(path, n, source.get("time"), "source")
        sel.items.append(
            Item(
                t0,
                STATUS,
                mid,
                uid,
                _str(path, n, source, "text", "source", empty=True),
                order=order,
            )
        )
        order += 1
        user = source.get("user")
        if isinstance(user, dict):
            sel.profiles[uid] = _ced_profile(user)
        reposts = row.get("reposts")
        if not isinstance(reposts, list):
            raise ReplayFileError(path, n, "field 'reposts' missing or not a list")
        known = {mid}
        items: dict[str, Item] = {}
        for i, r in enumerate(reposts):
            what = f"reposts[{i}]"
            if not isinstance(r, dict):
                raise ReplayFileError(path, n, f"{what}: not an object")
            rmid = _str(path, n, r, "mid", what)
            if rmid in known:
                raise ReplayFileError(path, n, f"{what}: duplicate mid {rmid!r}")
            known.add(rmid)
            parent = r.get("parent")
            if parent is not None and not isinstance(parent, str):
                raise ReplayFileError(path, n, f"{what}: parent is not text")
            item = Item(
                _time(path, n, r.get("time"), what), REPOST, rmid, _str(path, n, r, "uid", what),
                own_words(_str(path, n, r, "text", what, empty=True)), parent or mid, order=order,
            )  # fmt: skip
            order += 1
            items[rmid] = item
        for i, item in enumerate(items.values()):
            if item.parent not in known:
                raise ReplayFileError(
                    path, n, f"reposts[{i}]: parent {item.parent!r} is not in the cascade"
                )
        # A repost can be stamped before its parent (crawl noise): it goes right after it.
        _not_before_parents(items, t0, path, n)
        sel.items.extend(items.values())
    return sel


def _not_before_parents(items: dict[str, Item], t0: datetime, path: Path, n: int) -> None:
    done: dict[str, datetime] = {}

    def effective(item: Item, depth: int = 0) -> datetime:
        if item.ref in done:
            return done[item.ref]
        if depth > len(items):
            raise ReplayFileError(path, n, f"repost {item.ref!r}: parent links form a cycle")
        parent = items.get(item.parent or "")
        floor = effective(parent, depth + 1) if parent is not None else t0
        done[item.ref] = max(item.time, floor)
        return done[item.ref]

    for item in items.values():
        item.time = effective(item)


def _ced_profile(user: dict[str, Any]) -> dict[str, Any]:
    def count(key: str) -> int:
        v = user.get(key)
        return v if isinstance(v, int) and v >= 0 else 0

    vt = user.get("verified_type")
    return {
        "gender": user.get("gender") if user.get("gender") in ("m", "f") else "n",
        "verified_type": vt if isinstance(vt, int) else -1,
        "verified": bool(user.get("verified")),
        "followers_count": count("followers"),
        "friends_count": count("friends"),
        "statuses_count": count("statuses"),
        "location": str(user.get("location") or "")[:60],
    }


def _select_covid(posts_path: Path, events_path: Path, limit: int) -> Selection:
    sel = Selection("covid", [], files=[str(posts_path), str(events_path)])
    posts: set[str] = set()
    post_times: dict[str, datetime] = {}
    order = 0
    for n, line in _lines(posts_path):
        if n > limit:
            break
        row = _json(posts_path, n, line)
        pid = _str(posts_path, n, row, "id", "post")
        sel.items.append(Item(
            _time(posts_path, n, row.get("time"), "post"), STATUS, pid,
            _str(posts_path, n, row, "user_id", "post"), _str(posts_path, n, row, "text", "post", empty=True),
            order=order,
        ))  # fmt: skip
        order += 1
        posts.add(pid)
        post_times[pid] = sel.items[-1].time
    prefix = b'{"post":"'
    start, end = len(prefix), len(prefix) + 32
    wanted = {p.encode() for p in posts}
    for n, raw in _raw_lines(events_path):
        # The post id sits at a fixed place on well-formed lines: skip other posts' events
        # without decoding them (3 million lines); anything else is parsed and checked.
        if raw.startswith(prefix) and raw[end : end + 1] == b'"' and raw[start:end] not in wanted:
            continue
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ReplayFileError(events_path, n, f"not UTF-8: {exc.reason}") from None
        row = _json(events_path, n, line)
        post = _str(events_path, n, row, "post", "event")
        if post not in posts:
            continue
        kind = row.get("type")
        if kind not in (COMMENT, REPOST):
            raise ReplayFileError(
                events_path, n, f"event: type {kind!r} is neither comment nor repost"
            )
        t = _time(events_path, n, row.get("time"), "event")
        text = row.get("text")
        user = row.get("user_id")
        if text is not None and not isinstance(text, str):
            raise ReplayFileError(events_path, n, "event: text is not text")
        if kind == COMMENT and not text:
            sel.skipped += 1  # its words were not kept in the data set
            continue
        who = user if isinstance(user, str) and user else f"crowd:{n % CROWD_SIZE}"
        t = max(t, post_times[post])  # one repost is dated before its post (a crawl error)
        sel.items.append(
            Item(
                t,
                kind,
                str(row.get("id") or f"e{n}"),
                who,
                own_words(text or ""),
                post,
                order=order,
            )
        )
        order += 1
    return sel


def _select_hot(path: Path, limit: int) -> Selection:
    sel = Selection("hot_search", [], files=[str(path)])
    snapshots: list[str] = []
    for n, line in _lines(path):
        row = _json(path, n, line)
        snapshot = _str(path, n, row, "snapshot", "row")
        if not snapshots or snapshots[-1] != snapshot:
            if len(snapshots) >= limit:
                break
            snapshots.append(snapshot)
        rank, heat = row.get("rank"), row.get("heat", 0)
        rank = 0 if rank is None else rank  # pinned topics (置顶) have no rank
        if not isinstance(rank, int) or rank < 0:
            raise ReplayFileError(path, n, f"row: rank {rank!r} is not a whole number")
        if heat is not None and not isinstance(heat, int):
            raise ReplayFileError(path, n, f"row: heat {heat!r} is not a whole number")
        title = _str(path, n, row, "title", "row")
        hot = {"rank": rank, "title": title[:200], "heat": heat or 0,
               "category": str(row.get("category") or "")[:20], "is_ad": bool(row.get("ad"))}  # fmt: skip
        sel.items.append(Item(_time(path, n, snapshot, "row"), HOT, hot=hot, order=n))
    return sel


# --- loading ------------------------------------------------------------------------------------


def pseudonym(dataset: str, key: str) -> str:
    """A stable, non-identifying screen name for a dataset user."""
    if key.startswith("crowd:"):
        return f"围观网友{int(key[6:]):04d}"
    return "网友" + hashlib.sha1(f"{dataset}:{key}".encode()).hexdigest()[:10]


def _ensure_users(sel: Selection) -> dict[str, Any]:
    """Sandbox users for every user key of the selection (existing ones reused)."""
    from . import store
    from .models import SandboxUser

    keys = {i.user for i in sel.items if i.user}
    names = {k: pseudonym(sel.dataset, k) for k in keys}
    by_name: dict[str, Any] = {}
    wanted = list(set(names.values()))
    for i in range(0, len(wanted), 900):
        for u in SandboxUser.objects.filter(screen_name__in=wanted[i : i + 900]).only(
            "id", "screen_name"
        ):
            by_name[u.screen_name] = u
    rows = []
    for key, name in names.items():
        if name in by_name:
            continue
        row: dict[str, Any] = {"screen_name": name, "persona": f"replay:{sel.dataset}"}
        row.update(sel.profiles.get(key, {}))
        rows.append(row)
    for u in store.bulk_create_users(rows):
        by_name[u.screen_name] = u
    return {key: by_name[name] for key, name in names.items()}


def _hot_account() -> Any:
    from . import store
    from .models import SandboxUser

    user = SandboxUser.objects.filter(screen_name=HOT_SEARCH_ACCOUNT).first()
    return user or store.create_user(
        HOT_SEARCH_ACCOUNT, verified_type=5, verified_reason="微博热搜榜", persona="replay:hot_search",
    )  # fmt: skip


class _Loader:
    """Writes items in order; keeps ref → status stubs so reposts and comments find parents."""

    def __init__(self, sel: Selection, run: Any, first_id: int | None = None) -> None:
        from . import store
        from .models import Status

        self.sel, self.run, self.Status = sel, run, Status
        self.users = _ensure_users(sel)
        n_statuses = sum(1 for i in sel.items if i.kind in (STATUS, REPOST))
        # One block of ids for the whole selection, handed out in item order: a resumed live
        # replay (first_id from its checkpoint) knows every id the earlier slices wrote.
        ids = (
            store.allocate_ids("mid", n_statuses)
            if first_id is None
            else range(first_id, first_id + n_statuses)
        )
        self.first_id = ids.start if n_statuses else 0
        self.ids = iter(ids)
        self.stubs: dict[str, Any] = {}
        # hot search: titles of the previous and the current snapshot
        self.on_board: set[str] = set()
        self.board_now: set[str] = set()
        self.snapshot: datetime | None = None
        self.hot_user = _hot_account() if sel.dataset == "hot_search" else None
        self.written = 0

    def write(
        self, items: list[Item], time_of: Callable[[Item], datetime], *, dry: bool = False
    ) -> None:
        """Write `items` (in order). `dry`: only rebuild the in-memory state (a resumed replay
        passing over what earlier slices wrote)."""
        from . import store
        from .models_runs import HotSearchEntry

        srows, crows, hot_rows, hot_posts = [], [], [], []
        for item in items:
            at = time_of(item)
            if item.kind in (STATUS, REPOST):
                user = self.users[item.user]
                row: dict[str, Any] = {"id": next(self.ids), "user": user, "created_at": at}
                root = None
                if item.kind == REPOST:
                    parent = self.stubs[item.parent or ""]
                    row["repost_of"] = parent
                    root = parent.retweeted_status_id or parent.pk
                    row["text"] = store.repost_text(parent, item.text)
                    row["chain_text"] = False
                else:
                    row["text"] = item.text
                srows.append(row)
                self.stubs[item.ref] = self.Status(
                    id=row["id"], user=user, text=row["text"], retweeted_status_id=root
                )
            elif item.kind == COMMENT:
                parent = self.stubs[item.parent or ""]
                crows.append(
                    {
                        "user": self.users[item.user],
                        "status": parent.pk,
                        "text": item.text,
                        "created_at": at,
                    }
                )
            elif item.kind == HOT and item.hot is not None:
                hot_rows.append(
                    HotSearchEntry(snapshot_at=at, run_id=getattr(self.run, "pk", None), **item.hot)
                )
                if item.time != self.snapshot:  # a new snapshot: the last one is "the board"
                    self.on_board, self.board_now, self.snapshot = self.board_now, set(), item.time
                title = item.hot["title"]
                self.board_now.add(title)
                if title not in self.on_board and not item.hot["is_ad"]:
                    rank = item.hot["rank"]
                    where = f"登上热搜第{rank}名，热度{item.hot['heat']}" if rank else "热搜置顶"
                    hot_posts.append(
                        {"user": self.hot_user, "created_at": at, "text": f"#{title}# {where}"}
                    )
        if dry:
            self.written += len(items)
            return
        if hot_rows:
            HotSearchEntry.objects.bulk_create(hot_rows, batch_size=1000, ignore_conflicts=True)
        store.bulk_create_statuses(srows + hot_posts)
        store.bulk_create_comments(crows)
        self.written += len(items)


def play(
    run: Any,
    tracker: Any,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    slice_s: float | None = None,
) -> None:
    """Execute a replay run (see runs.execute): validate, then load. A live replay with
    `slice_s` hands the worker back after that many real seconds (checkpoint, re-enqueue)."""
    p = run.params
    sel = select(run.name, p.get("limit"), p.get("data_dir"))
    sel.items.sort(key=lambda i: (i.time, i.order))
    tracker.total(len(sel.items))
    checkpoint = p.get("checkpoint") or {}
    if not checkpoint:
        tracker.counts["skipped"] += sel.skipped
    if not sel.items:
        return
    speed = float(p.get("speed") or 0)
    first, last = sel.items[0].time, sel.items[-1].time
    if p.get("original_times"):

        def time_of(i: Item) -> datetime:
            return i.time
    else:
        end = now()

        def time_of(i: Item) -> datetime:
            return end - (last - i.time)

    def count(items: list[Item]) -> None:
        for i in items:
            tracker.counts[i.kind] += 1

    if speed <= 0:
        # As fast as possible, in one transaction: a failure leaves nothing half-loaded.
        with transaction.atomic():
            loader = _Loader(sel, run)
            for i in range(0, len(sel.items), BATCH):
                batch = sel.items[i : i + BATCH]
                loader.write(batch, time_of)
                count(batch)
                tracker.update(loader.written)
        return

    # Real time, `speed` times faster than it happened; each batch commits as it is due.
    live_time: Callable[[Item], datetime] = (
        (lambda i: i.time) if p.get("original_times") else (lambda i: now())
    )
    with transaction.atomic():
        loader = _Loader(sel, run, first_id=checkpoint.get("first_id"))
    start_index = int(checkpoint.get("index", 0))
    if start_index:
        loader.write(sel.items[:start_index], live_time, dry=True)
    resume_at = datetime.fromisoformat(checkpoint["data_time"]) if checkpoint else first
    t0 = clock()
    pending: list[Item] = []
    next_tick = t0 + 1.0

    def flush() -> None:
        nonlocal pending
        if pending:
            with transaction.atomic():
                loader.write(pending, live_time)
            count(pending)
            pending = []
        tracker.update(loader.written)

    # Written in ticks of one real second: everything that fell due in the tick.
    for index in range(start_index, len(sel.items)):
        item = sel.items[index]
        due = t0 + (item.time - resume_at).total_seconds() / speed
        while due > next_tick:
            if clock() < next_tick:
                sleep(next_tick - clock())
            flush()
            next_tick = max(next_tick + 1.0, clock())
            if slice_s is not None and clock() - t0 >= slice_s:
                from .runs import hand_over

                data_time = resume_at + timedelta(seconds=(clock() - t0) * speed)
                hand_over(run, tracker, {"first_id": loader.first_id, "index": index,
                                         "data_time": min(data_time, item.time).isoformat()})  # fmt: skip
        pending.append(item)
        if len(pending) >= BATCH:
            flush()
    flush()
