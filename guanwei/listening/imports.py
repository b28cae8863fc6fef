"""Imports: mentions from files — data bought from 舆情 vendors or crawled by the enterprise's
own tools — stored through listening like any other source (docs/imports.md has the layouts).

* **Formats.** CSV (UTF-8, a header row), JSON Lines, or one JSON array; any of them gzipped.
  Read as a stream: a file of millions of rows in constant memory.
* **Layouts.** Found from the first record's fields (LAYOUTS): the CED cascades, the CSV of
  dataabc/weibo-search (Chinese or English headers), nghuyong/WeiboSpider's JSON, and guanwei's
  own columns. Every record must have the first one's layout.
* **Checked whole first.** Every record is mapped and checked before anything is stored; one bad
  record rejects the file, and the import lists the first MAX_ERRORS as "file:line: reason".
* **Idempotent.** Weibo ids are global: an item is stored once per enterprise whatever brought
  it (listening.store's unique key), so a file imported twice — or an item also polled — adds
  nothing the second time (counted as duplicates).
* **Progress.** The Import row says how far the check and the load are (the page polls it).

`do_start_import` (an action: saves the upload, queues the task) → `run_import` (the task:
check, then load in batches of BATCH, one transaction each, as a stream's read).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import logging
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _
from django_tasks import task

from guanwei.core import audit, clock
from guanwei.core.errors import ActionError
from guanwei.core.models import Member
from guanwei.core.permissions import require
from guanwei.listening.models import Import, ImportState, Mention
from guanwei.listening.store import MAX_TEXT, Incoming, prepare, store

log = logging.getLogger("guanwei.listening.imports")

RIGHT = "mention.import"
PLATFORM = "weibo:api.weibo.com"  # Weibo's ids are global: an imported item and a polled one are one
BATCH = 1000
MAX_ERRORS = 50
MAX_FIELD = 1_000_000  # characters in one CSV field (a Weibo long text is 5,000)
MAX_RECORD = 50_000_000  # characters of one JSON record (a CED cascade holds up to ~30,000 reposts)
_ID = re.compile(r"^[0-9A-Za-z_\-]{1,64}$")
EARLIEST = datetime(2009, 8, 1, tzinfo=UTC)  # Weibo opened in August 2009


class RowError(ValueError):
    """A record that cannot be imported (the message is the reason, in the reader's language)."""


def max_bytes() -> int:
    return int(getattr(settings, "IMPORT_MAX_MB", 2048)) * 1024 * 1024


# --- reading: records with their line numbers, as a stream -------------------------------------


def _text_stream(raw: IO[bytes]) -> IO[str]:
    head = raw.peek(2)[:2] if hasattr(raw, "peek") else b""
    binary: IO[bytes] = gzip.GzipFile(fileobj=raw) if head == b"\x1f\x8b" else raw  # type: ignore[assignment]
    return io.TextIOWrapper(binary, encoding="utf-8-sig", errors="strict", newline="")


def records(path: Path, on_read: Callable[[int], None] | None = None) -> Iterator[tuple[int, Any]]:
    """(line, record) of every record in the file — a dict, or a RowError for a record that
    cannot be read. `on_read(bytes read so far)` is called now and then (progress)."""
    with open(path, "rb") as fh:
        raw = io.BufferedReader(fh, buffer_size=1 << 20)  # type: ignore[arg-type]
        text = _text_stream(raw)
        try:
            first = ""
            while not first:
                chunk = text.read(1)
                if not chunk:
                    return
                if not chunk.isspace():
                    first = chunk
        except (UnicodeDecodeError, OSError, EOFError) as exc:
            yield 1, RowError(_("文件无法读取（需 UTF-8 编码，可 gzip 压缩）：%(e)s") % {"e": str(exc)[:100]})
            return
        if first == "[":
            reader = _json_array(text)
        elif first == "{":
            reader = _json_lines(text, first)
        else:
            reader = _csv(text, first)
        n = 0
        try:
            for item in reader:
                yield item
                n += 1
                if on_read and n % 2000 == 0:
                    on_read(fh.tell())
        except (UnicodeDecodeError, OSError, EOFError) as exc:
            yield -1, RowError(_("文件无法读取（需 UTF-8 编码，可 gzip 压缩）：%(e)s") % {"e": str(exc)[:100]})
        if on_read:
            on_read(fh.tell())


def _json_lines(text: IO[str], first: str) -> Iterator[tuple[int, Any]]:
    line_no = 0
    for line_no, line in enumerate(_lines(first, text), start=1):
        if not line.strip():
            continue
        if len(line) > MAX_RECORD:
            yield line_no, RowError(_("记录过长。"))
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            yield line_no, RowError(_("不是合法的 JSON：%(e)s") % {"e": str(exc)[:80]})
            continue
        yield line_no, record if isinstance(record, dict) else RowError(_("每行须是一个 JSON 对象。"))


def _lines(first: str, text: IO[str]) -> Iterator[str]:
    rest = text.readline()
    yield first + rest
    yield from text


def _json_array(text: IO[str]) -> Iterator[tuple[int, Any]]:
    """The objects of one JSON array, decoded one at a time from a sliding buffer."""
    decoder = json.JSONDecoder()
    buf, pos, line, ended = "", 0, 1, False
    while True:
        # skip whitespace and one comma between objects
        while True:
            while pos < len(buf) and buf[pos] in " \t\r\n,":
                line += buf[pos] == "\n"
                pos += 1
            if pos < len(buf) or ended:
                break
            more = text.read(1 << 16)
            buf, pos, ended = buf[pos:] + more, 0, not more
        if pos >= len(buf):
            yield line, RowError(_("JSON 数组没有结束（缺少 “]”）。"))
            return
        if buf[pos] == "]":
            return
        while True:
            try:
                record, end = decoder.raw_decode(buf, pos)
                break
            except ValueError as exc:
                if ended or len(buf) - pos > MAX_RECORD:
                    yield line, RowError(_("不是合法的 JSON：%(e)s") % {"e": str(exc)[:80]})
                    return
                more = text.read(1 << 20)
                buf, pos, ended = buf[pos:] + more, 0, not more
        yield line, record if isinstance(record, dict) else RowError(_("数组的每一项须是一个 JSON 对象。"))
        line += buf.count("\n", pos, end)
        pos = end


def _csv(text: IO[str], first: str) -> Iterator[tuple[int, Any]]:
    csv.field_size_limit(MAX_FIELD)
    reader = csv.reader(_lines(first, text), strict=True)
    try:
        header = [h.strip() for h in next(reader)]
    except (csv.Error, StopIteration) as exc:
        yield 1, RowError(_("CSV 表头无法读取：%(e)s") % {"e": str(exc)[:80]})
        return
    if len(set(header)) != len(header) or not any(header):
        yield 1, RowError(_("CSV 表头有重复或空的列名。"))
        return
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield reader.line_num, RowError(_("CSV 格式错误：%(e)s") % {"e": str(exc)[:80]})
            return
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            yield reader.line_num, RowError(
                _("应有 %(want)d 列，这一行有 %(got)d 列。") % {"want": len(header), "got": len(row)}
            )
            continue
        yield reader.line_num, dict(zip(header, row, strict=True))


# --- layouts: a record → Incoming items ----------------------------------------------------------


@dataclass(frozen=True)
class Layout:
    name: str
    label: str
    fits: Callable[[dict[str, Any]], bool]
    items: Callable[[dict[str, Any], ZoneInfo], list[Incoming]]


def _clean(value: Any) -> str:
    return "" if value is None else str(value).replace("\x00", "").strip()


def _id(value: Any, field: str) -> str:
    v = _clean(value)
    if not _ID.match(v):
        raise RowError(_("“%(f)s” 不是合法的微博 id：%(v)s") % {"f": field, "v": v[:30] or _("（空）")})
    return v


def _int(value: Any, field: str) -> int | None:
    v = _clean(value)
    if v == "":
        return None
    try:
        n = int(float(v))
    except (TypeError, ValueError, OverflowError):
        raise RowError(_("“%(f)s” 应是整数：%(v)s") % {"f": field, "v": v[:30]}) from None
    if not -(2**31) < n < 2**31:
        raise RowError(_("“%(f)s” 超出范围：%(v)s") % {"f": field, "v": v[:30]})
    return n


_CN_TIME = re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日\s*(\d{1,2}):(\d{2})(?::(\d{2}))?$")


def _when(value: Any, tz: ZoneInfo, field: str) -> datetime:
    """ISO 8601, "YYYY-MM-DD HH:MM[:SS]", "YYYY年M月D日 HH:MM", Weibo's "Tue Mar 14 00:57:00
    +0800 2022", or a Unix epoch; a time without a zone is the enterprise's."""
    v = _clean(value)
    at: datetime | None = None
    try:
        if re.fullmatch(r"\d{9,13}(\.\d+)?", v):
            seconds = float(v) / (1000 if len(v.split(".")[0]) == 13 else 1)
            at = datetime.fromtimestamp(seconds, UTC)
        elif m := _CN_TIME.match(v):
            at = datetime(*(int(g or 0) for g in m.groups()))  # type: ignore[misc]
        elif re.match(r"^[A-Z][a-z]{2} [A-Z][a-z]{2} ", v):
            at = datetime.strptime(v, "%a %b %d %H:%M:%S %z %Y")
        elif v:
            at = datetime.fromisoformat(v.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        at = None
    if at is None:
        raise RowError(_("“%(f)s” 不是能识别的时间：%(v)s") % {"f": field, "v": v[:40] or _("（空）")})
    if at.tzinfo is None:
        at = at.replace(tzinfo=tz)
    if not EARLIEST <= at <= clock.now() + timedelta(days=1):
        raise RowError(_("“%(f)s” 的时间不可能是微博的：%(v)s") % {"f": field, "v": v[:40]})
    return at.astimezone(UTC)


def _item(**fields: Any) -> Incoming:
    text = _clean(fields.pop("text", ""))
    return Incoming(platform=PLATFORM, text=text[:MAX_TEXT], source=Mention.Source.IMPORT, **fields)


def _url(uid: str, bid: str) -> str:
    return f"https://weibo.com/{uid}/{bid}" if uid and bid else ""


def _ced(record: dict[str, Any], tz: ZoneInfo) -> list[Incoming]:
    source = record.get("source")
    reposts = record.get("reposts")
    if not isinstance(source, dict) or not isinstance(reposts, list):
        raise RowError(_("CED 记录须有 source 对象和 reposts 列表。"))
    user = source.get("user") if isinstance(source.get("user"), dict) else {}
    mid = _id(source.get("mid"), "source.mid")
    items = [_item(
        remote_id=mid, kind="status", text=source.get("text"), created_at=_when(source.get("time"), tz, "source.time"),
        author_id=_clean(source.get("uid"))[:64], author_name=_clean(source.get("uid"))[:64],
        author_verified_type=_int(user.get("verified_type"), "source.user.verified_type"),
        author_followers=_int(user.get("followers"), "source.user.followers"),
        author_region=_clean(user.get("location"))[:100], author_gender=_clean(user.get("gender"))[:1],
    )]  # fmt: skip
    for i, repost in enumerate(reposts):
        if not isinstance(repost, dict):
            raise RowError(_("reposts 的第 %(i)d 项不是对象。") % {"i": i + 1})
        parent = _clean(repost.get("parent"))
        items.append(_item(
            remote_id=_id(repost.get("mid"), f"reposts[{i}].mid"), kind="repost", text=repost.get("text"),
            created_at=_when(repost.get("time"), tz, f"reposts[{i}].time"),
            author_id=_clean(repost.get("uid"))[:64], author_name=_clean(repost.get("uid"))[:64],
            in_reply_to_id=_id(parent, f"reposts[{i}].parent") if parent else mid,
        ))  # fmt: skip
    return items


_AUTHENTICATION = {"蓝v": 1, "黄v": 0, "红v": 0, "金v": 0, "普通用户": -1, "": None}
# dataabc/weibo-search's CSV: its Chinese headers, and the English names its docs give them
_SEARCH = {
    "id": "id", "bid": "bid", "user_id": "user_id", "用户昵称": "screen_name", "微博正文": "text",
    "发布时间": "created_at", "retweet_id": "retweet_id", "ip": "ip", "user_authentication": "user_authentication",
}  # fmt: skip


def _search(record: dict[str, Any], tz: ZoneInfo) -> list[Incoming]:
    r = {_SEARCH.get(k, k): v for k, v in record.items()}
    auth = _clean(r.get("user_authentication")).lower()
    if auth not in _AUTHENTICATION:
        raise RowError(_("“user_authentication” 应是 蓝V、黄V、红V、金V 或 普通用户：%(v)s") % {"v": auth[:20]})
    uid, bid = _clean(r.get("user_id"))[:64], _clean(r.get("bid"))[:20]
    retweet = _clean(r.get("retweet_id"))
    return [_item(
        remote_id=_id(r.get("id"), "id"), kind="repost" if retweet else "status", text=r.get("text"),
        created_at=_when(r.get("created_at"), tz, "发布时间/created_at"), author_id=uid,
        author_name=_clean(r.get("screen_name"))[:100] or uid, author_verified_type=_AUTHENTICATION[auth],
        author_region=_clean(r.get("ip")).removeprefix("发布于").strip()[:100], url=_url(uid, bid),
        in_reply_to_id=_id(retweet, "retweet_id") if retweet else "",
    )]  # fmt: skip


def _spider(record: dict[str, Any], tz: ZoneInfo) -> list[Incoming]:
    user = record.get("user") if isinstance(record.get("user"), dict) else {}
    uid = _clean(user.get("_id") or user.get("id"))[:64]
    bid = _clean(record.get("mblogid"))[:20]
    original = record.get("origin_weibo")
    origin = _clean(record.get("retweet_id") or (original.get("_id") if isinstance(original, dict) else ""))
    return [_item(
        remote_id=_id(record.get("_id") or record.get("mid"), "_id"), kind="repost" if origin else "status",
        text=record.get("content"), created_at=_when(record.get("created_at"), tz, "created_at"),
        author_id=uid, author_name=_clean(user.get("nick_name"))[:100] or uid,
        author_verified_type=_int(user.get("verified_type"), "user.verified_type"),
        author_followers=_int(user.get("followers_count"), "user.followers_count"),
        author_region=_clean(record.get("ip_location")).removeprefix("发布于").strip()[:100],
        url=_clean(record.get("url"))[:300] or _url(uid, bid),
        in_reply_to_id=_id(origin, "retweet_id") if origin else "",
    )]  # fmt: skip


KINDS = {"status", "comment", "repost"}


def _own(record: dict[str, Any], tz: ZoneInfo) -> list[Incoming]:
    kind = _clean(record.get("kind")) or "status"
    if kind not in KINDS:
        raise RowError(_("“kind” 应是 status、comment 或 repost：%(v)s") % {"v": kind[:20]})
    reply = _clean(record.get("in_reply_to_id"))
    if kind != "status" and not reply:
        raise RowError(_("评论和转发须有 “in_reply_to_id”。"))
    author = _clean(record.get("author_id"))[:64]
    return [_item(
        remote_id=_id(record.get("id"), "id"), kind=kind, text=record.get("text"),
        created_at=_when(record.get("created_at"), tz, "created_at"), author_id=author,
        author_name=_clean(record.get("author_name"))[:100] or author,
        author_verified_type=_int(record.get("verified_type"), "verified_type"),
        author_followers=_int(record.get("followers"), "followers"),
        author_region=_clean(record.get("region"))[:100], author_gender=_clean(record.get("gender"))[:1],
        url=_clean(record.get("url"))[:300], in_reply_to_id=_id(reply, "in_reply_to_id") if reply else "",
    )]  # fmt: skip


LAYOUTS = [
    Layout("ced", "CED", lambda r: "source" in r and "reposts" in r, _ced),
    Layout("weibo-search", "weibo-search (CSV)",
           lambda r: "微博正文" in r or {"bid", "user_id", "screen_name", "text", "created_at"} <= r.keys(), _search),
    Layout("weibospider", "WeiboSpider (JSON)", lambda r: "content" in r and "user" in r and ("_id" in r or "mid" in r),
           _spider),
    Layout("guanwei", "guanwei", lambda r: {"id", "text", "created_at"} <= r.keys(), _own),
]  # fmt: skip


def layout_of(record: dict[str, Any]) -> Layout:
    for layout in LAYOUTS:
        if layout.fits(record):
            return layout
    raise RowError(
        _("认不出这种文件格式（字段：%(keys)s）。支持的格式见文档 docs/imports.md。") % {"keys": ", ".join(list(record)[:12])[:200]}
    )


# --- the action and the task ------------------------------------------------------------------------


def _dir(enterprise_id: int) -> Path:
    return Path(settings.VAR_DIR) / "imports" / str(enterprise_id)


def do_start_import(member: Member, upload: Any, request: Any = None) -> Import:
    """Keep the uploaded file (streamed to disk) and queue its import."""
    require(member, RIGHT)
    if upload is None:
        raise ActionError(_("请选择要导入的文件。"), "file")
    name = Path(str(getattr(upload, "name", "") or "upload")).name.replace("\x00", "")[:200]
    size = int(getattr(upload, "size", 0) or 0)
    if size == 0:
        raise ActionError(_("文件是空的。"), "file")
    if size > max_bytes():
        raise ActionError(_("文件超过 %(n)d MB；大文件请在服务器上用 import_mentions 命令导入。") % {"n": max_bytes() // 2**20}, "file")
    folder = _dir(member.enterprise_id)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{uuid.uuid4().hex}.upload"
    digest = hashlib.sha256()
    with open(path, "wb") as out:
        for chunk in upload.chunks():
            digest.update(chunk)
            out.write(chunk)
    with transaction.atomic():
        job = Import.objects.create(enterprise=member.enterprise, created_by=member, name=name, path=str(path),
                                    size=size, sha256=digest.hexdigest())  # fmt: skip
        audit.record(member.enterprise, member, "mentions.import_started", job, request=request,
                     params={"name": name}, detail={"size": size, "sha256": job.sha256})  # fmt: skip
        transaction.on_commit(lambda: run_import_task.enqueue(job.pk))
    return job


def _progress(job: Import, **fields: Any) -> None:
    Import.objects.filter(pk=job.pk).update(**fields)
    for key, value in fields.items():
        setattr(job, key, value)


def check(job: Import, tz: ZoneInfo) -> tuple[str, int, list[str]]:
    """The first pass: (layout, records, errors) — every record mapped and checked."""
    layout: Layout | None = None
    rows = 0
    errors: list[str] = []
    for line, record in records(Path(job.path), lambda n: _progress(job, bytes_checked=n)):
        where = f"{job.name}:{line}" if line > 0 else job.name
        try:
            if isinstance(record, RowError):
                raise record
            if layout is None:
                layout = layout_of(record)
            elif not layout.fits(record):
                raise RowError(_("与文件第一条记录的格式（%(l)s）不同。") % {"l": layout.label})
            layout.items(record, tz)
            rows += 1
        except RowError as exc:
            errors.append(f"{where}: {exc}")
            if len(errors) >= MAX_ERRORS:
                errors.append(_("……错误太多，只列出前 %(n)d 条。") % {"n": MAX_ERRORS})
                break
    if layout is None and not errors:
        errors.append(f"{job.name}: " + _("文件里没有记录。"))
    return (layout.name if layout else ""), rows, errors


def load(job: Import, layout_name: str, tz: ZoneInfo) -> None:
    """The second pass: store every record's items, BATCH at a time."""
    layout = next(x for x in LAYOUTS if x.name == layout_name)
    batch: list[Incoming] = []
    done = stored = duplicates = 0

    def flush() -> None:
        nonlocal stored, duplicates
        prepared = prepare(job.enterprise, batch)  # the CPU work, outside the transaction
        with transaction.atomic():
            result = store(job.enterprise, prepared)
        stored += result.stored
        duplicates += result.duplicates
        batch.clear()

    for _line, record in records(Path(job.path)):
        batch.extend(layout.items(record, tz))  # checked in the first pass
        done += 1
        if len(batch) >= BATCH:
            flush()
            _progress(job, done=done, stored=stored, duplicates=duplicates)
    if batch:
        flush()
    _progress(job, done=done, stored=stored, duplicates=duplicates)


def run_import(job: Import) -> Import:
    """Check the file whole; if it is sound, load it. The upload is removed when it is settled."""
    tz = ZoneInfo(job.enterprise.time_zone)
    _progress(job, state=ImportState.CHECKING)
    try:
        layout, rows, errors = check(job, tz)
        if errors:
            _progress(job, state=ImportState.REJECTED, errors=errors, rows=rows, finished_at=clock.now())
        else:
            _progress(job, state=ImportState.LOADING, layout=layout, rows=rows, bytes_checked=job.size)
            load(job, layout, tz)
            _progress(job, state=ImportState.DONE, finished_at=clock.now())
    except Exception:
        log.exception("listening.import_failed import=%s", job.pk)
        _progress(job, state=ImportState.FAILED, errors=[_("服务器出错，已记录日志；请联系管理员。")], finished_at=clock.now())
        raise
    finally:
        kept = Path(job.path)
        if job.state in (ImportState.DONE, ImportState.REJECTED) and kept.parent == _dir(job.enterprise_id):
            kept.unlink(missing_ok=True)  # an upload; a file on the server (import_mentions) stays
    log.info("listening.imported import=%s state=%s rows=%s stored=%s duplicates=%s", job.pk, job.state,
             job.rows, job.stored, job.duplicates)  # fmt: skip
    return job


@task()
def run_import_task(import_id: int) -> str:
    """listening.run_import — check and load one uploaded file."""
    # A worker lost mid-import leaves it checking or loading: it starts over (the load is idempotent).
    job = Import.objects.select_related("enterprise").filter(
        pk=import_id, state__in=[ImportState.QUEUED, ImportState.CHECKING, ImportState.LOADING]
    ).first()
    if job is None:
        return "skipped"
    return str(run_import(job).state)

