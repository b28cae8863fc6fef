"""The one CSV export of every list (audit log today; monitoring, the inbox and insight later).

An app declares a kind once (`register(ExportKind(...))` in its AppConfig.ready): the right that
reads it, how the list's filters (the page's query string) become a queryset in the member's
tenant, and how rows become CSV lines. Its view then calls `respond(request, kind)`:

- up to INLINE_MAX_ROWS rows (counted with a bounded COUNT: it reads at most that many index
  entries), the CSV streams in the response, as a spreadsheet expects;
- more, and the page offers to write it in the background; its POST records an Export and
  answers at once with the export's page, while the worker
  (the task `run_export` below) writes the file through the `exports` storage, counting rows so the
  page shows progress, and the requester downloads it until it expires (EXPIRES_AFTER; the job
  `core.prune_exports` deletes it). A 1M-row audit log takes minutes, past any proxy's timeout.

Both ways are audited (`export.created`). The worker runs the export as its requester: their
right is checked again when it runs and when they download, so a member deactivated meanwhile
gets nothing.
"""

from __future__ import annotations

import csv
import logging
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.files import File
from django.core.files.storage import storages
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_tasks import task

from guanwei.core import audit, clock
from guanwei.core.errors import ActionError
from guanwei.core.models import Export, Member
from guanwei.core.permissions import can, require

log = logging.getLogger("guanwei.exports")

INLINE_MAX_ROWS = 5_000  # above this an export runs in the worker
EXPIRES_AFTER = timedelta(hours=24)
MAX_UNFINISHED_PER_MEMBER = 3  # queued or running exports one member may have at once
PROGRESS_EVERY = 2_000  # rows between progress writes (one UPDATE per chunk)
STORAGE = "exports"

#: code -> what the export page says about a failure.
ERRORS: dict[str, Any] = {
    "forbidden": gettext_lazy("你已无权导出这些数据（角色或状态已变更）。"),
    "invalid": gettext_lazy("筛选条件已失效，请在列表页重新筛选后导出。"),
    "crashed": gettext_lazy("生成文件时出错，已记录日志。请稍后重试；若仍失败，请联系管理员。"),
}


@dataclass(frozen=True)
class ExportKind:
    name: str  # "audit"; stored on Export.kind
    label: Any  # what the export is, for pages and the audit log ("审计日志")
    permission: str  # the right that reads this list
    filename: str  # the downloaded file's name, without date and suffix
    # (member, filters) -> the rows, already in the member's tenant and filtered; raises
    # ActionError when the filters are invalid.
    queryset: Callable[[Member, QueryDict], QuerySet[Any]]
    # (rows, member) -> CSV lines, the header first (see csv_lines).
    lines: Callable[[QuerySet[Any], Member], Iterable[str]]


KINDS: dict[str, ExportKind] = {}


def register(kind: ExportKind) -> None:
    KINDS[kind.name] = kind


def _summary(params: dict[str, Any]) -> str:
    """The audit log's line for `export.created`, in the reader's language."""
    if params.get("background"):
        return _("%(kind)s（后台生成）") % {"kind": kind_label(params["kind"])}
    return _("%(kind)s（直接下载）") % {"kind": kind_label(params["kind"])}


audit.register_action_labels({"export.created": gettext_lazy("导出数据")}, {"export.created": _summary})


def kind_label(name: str) -> str:
    kind = KINDS.get(name)
    return str(kind.label) if kind else name


# --- writing CSV ------------------------------------------------------------------------------


class _Echo:
    def write(self, value: str) -> str:
        return value


def safe_cell(value: object) -> str:
    """Neutralise spreadsheet formulas (CSV injection): a cell may hold user-typed text."""
    text = "" if value is None else str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def csv_lines(header: list[str], rows: Iterable[list[object]]) -> Iterator[str]:
    """CSV lines with a UTF-8 BOM (so spreadsheets read the Chinese) and every cell made safe."""
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow(header)
    for row in rows:
        yield writer.writerow([safe_cell(cell) for cell in row])


# --- the request ------------------------------------------------------------------------------


def _filters(request: HttpRequest) -> dict[str, list[str]]:
    """The list's filters as stored on an Export (paging parameters dropped)."""
    params = request.GET.copy()
    for name in ("before", "after", "page"):
        params.pop(name, None)
    return {key: values[:20] for key, values in list(params.lists())[:40]}


def _query(params: dict[str, list[str]]) -> QueryDict:
    data = QueryDict(mutable=True)
    for key, values in params.items():
        data.setlist(key, [str(v) for v in values])
    return data


def _file_name(kind: ExportKind, member: Member) -> str:
    stamp = clock.now().astimezone(ZoneInfo(member.enterprise.time_zone)).strftime("%Y%m%d-%H%M")
    return f"{kind.filename}-{stamp}.csv"


def respond(request: HttpRequest, name: str) -> HttpResponse:
    """The export view of a list (`GET` with the list's filters): the CSV itself when it is
    small; else a page that offers to write it in the worker, whose `POST` records the Export and
    redirects to its progress. Raises ActionError for invalid filters (the caller shows the list's
    form with its errors)."""
    from django.shortcuts import render

    kind = KINDS[name]
    member = request.member  # type: ignore[attr-defined]
    require(member, kind.permission)
    filters = _filters(request)
    qs = kind.queryset(member, _query(filters))
    if request.method == "POST":
        try:
            export = do_request_export(member, name, filters, request)
        except ActionError as exc:
            context = {"kind": kind, "query": request.GET.urlencode(), "error": exc.message}
            return render(request, "core/export_confirm.html", context, status=429)
        return redirect("core:export_detail", export.pk)
    if qs.order_by()[: INLINE_MAX_ROWS + 1].count() > INLINE_MAX_ROWS:
        context = {"kind": kind, "query": request.GET.urlencode(), "limit": INLINE_MAX_ROWS}
        return render(request, "core/export_confirm.html", context)
    audit.record(
        member.enterprise, member, "export.created", request=request,
        params={"kind": name, "background": False},
    )  # fmt: skip
    response = StreamingHttpResponse(kind.lines(qs, member), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{_file_name(kind, member)}"'
    return response


def do_request_export(member: Member, name: str, filters: dict[str, list[str]], request=None) -> Export:  # type: ignore[no-untyped-def]
    kind = KINDS[name]
    require(member, kind.permission)
    with transaction.atomic():
        unfinished = Export.objects.filter(
            member=member, state__in=[Export.State.QUEUED, Export.State.RUNNING]
        ).count()
        if unfinished >= MAX_UNFINISHED_PER_MEMBER:
            raise ActionError(
                _("你已有 %(n)d 个导出正在生成，请等它们完成后再导出。") % {"n": unfinished}
            )
        export = Export.objects.create(
            enterprise=member.enterprise,
            member=member,
            kind=name,
            params=filters,
            expires_at=clock.now() + EXPIRES_AFTER,
        )
        audit.record(
            member.enterprise, member, "export.created", export, request=request,
            params={"kind": name, "background": True},
        )  # fmt: skip
        transaction.on_commit(
            lambda: run_export.enqueue(export.pk, enterprise_id=member.enterprise_id)
        )
    return export


# --- the worker -------------------------------------------------------------------------------


def _claim(export_id: int) -> Export | None:
    """Take the export from queued (or from running, when a lost worker's task is run again)."""
    now = clock.now()
    claimed = Export.objects.filter(
        pk=export_id, state__in=[Export.State.QUEUED, Export.State.RUNNING]
    ).update(state=Export.State.RUNNING, started_at=now, rows_done=0, error="")
    if not claimed:
        return None
    return Export.objects.select_related("member__enterprise", "member__user").get(pk=export_id)


def _fail(export: Export, code: str) -> None:
    Export.objects.filter(pk=export.pk).update(
        state=Export.State.FAILED, error=code, finished_at=clock.now()
    )
    log.warning(
        "export.failed enterprise=%s export=%s kind=%s error=%s",
        export.enterprise_id, export.pk, export.kind, code,
    )  # fmt: skip


def run(export_id: int) -> str:
    """Write one export's file. Returns its final state (or 'skipped' when not claimable)."""
    export = _claim(export_id)
    if export is None:
        return "skipped"
    member = export.member
    kind = KINDS.get(export.kind)
    if kind is None or not can(member, kind.permission):
        _fail(export, "forbidden")
        return Export.State.FAILED
    try:
        qs = kind.queryset(member, _query(export.params))
    except ActionError:
        _fail(export, "invalid")
        return Export.State.FAILED
    Export.objects.filter(pk=export.pk).update(rows_total=qs.order_by().count())
    storage = storages[STORAGE]
    try:
        with tempfile.TemporaryFile(mode="w+b") as spool:
            rows = -1  # the header is not a row
            size = 0
            for line in kind.lines(qs, member):
                data = line.encode("utf-8")
                spool.write(data)
                size += len(data)
                rows += 1
                if rows and rows % PROGRESS_EVERY == 0:
                    Export.objects.filter(pk=export.pk).update(rows_done=rows)
            spool.seek(0)
            name = storage.save(
                f"{export.enterprise_id}/{export.pk}-{_file_name(kind, member)}", File(spool)
            )
    except Exception:
        log.exception(
            "export.crashed enterprise=%s export=%s kind=%s",
            export.enterprise_id, export.pk, export.kind,
        )  # fmt: skip
        _fail(export, "crashed")
        return Export.State.FAILED
    with transaction.atomic():
        Export.objects.filter(pk=export.pk).update(
            state=Export.State.DONE, rows_done=max(rows, 0), rows_total=max(rows, 0),
            file_name=name, size=size, finished_at=clock.now(),
        )  # fmt: skip
        _tell_requester(export, kind, max(rows, 0))
    log.info(
        "export.done enterprise=%s export=%s kind=%s rows=%s bytes=%s",
        export.enterprise_id, export.pk, export.kind, rows, size,
    )  # fmt: skip
    return Export.State.DONE


def _tell_requester(export: Export, kind: ExportKind, rows: int) -> None:
    """"Your export is ready": a personal notice in the requester's bell (and to the channels
    that want `export.done`)."""
    from django.urls import reverse
    from django.utils import translation

    from guanwei.core.channels import Message, send
    from guanwei.core.links import absolute_url

    with translation.override(settings.LANGUAGE_CODE):
        message = Message(
            title=_("导出完成：%(kind)s") % {"kind": kind.label},
            text=_("%(rows)s 行，文件保留 24 小时。") % {"rows": f"{rows:,}"},
            url=absolute_url(reverse("core:export_detail", args=[export.pk])),
            level="info",
        )
    send(export.enterprise, "export.done", message, member=export.member)


def open_file(export: Export) -> File:
    return storages[STORAGE].open(export.file_name, "rb")


def downloadable(export: Export) -> bool:
    kind = KINDS.get(export.kind)
    return (
        export.state == Export.State.DONE
        and bool(export.file_name)
        and export.expires_at > clock.now()
        and kind is not None
        and can(export.member, kind.permission)
    )


def download_name(export: Export) -> str:
    # The stored name is "<enterprise>/<id>-<file>": the person gets "<file>".
    return export.file_name.rsplit("/", 1)[-1].split("-", 1)[-1]


def prune(now=None) -> int:  # type: ignore[no-untyped-def]
    """Delete expired exports with their files. Returns how many."""
    now = now or clock.now()
    storage = storages[STORAGE]
    count = 0
    for export in Export.objects.filter(expires_at__lte=now).order_by("pk").iterator(chunk_size=200):
        if export.file_name:
            storage.delete(export.file_name)
        export.delete()
        count += 1
    return count


# --- the worker's entry points (django-tasks; core.prune_exports is scheduled in ops/schedule.py)


@task()
def run_export(export_id: int, enterprise_id: int | None = None) -> str:
    """core.run_export — write one CSV export's file. `enterprise_id` only attributes the task
    on /ops/status."""
    return run(export_id)


@task()
def prune_exports() -> int:
    """core.prune_exports — delete expired exports and their files."""
    pruned = prune()
    log.info("core.prune_exports pruned=%s", pruned)
    return pruned
