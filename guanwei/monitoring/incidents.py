"""The incident room (危机公关): open an incident (from an alert or by hand), move it through its
states (open → responding → monitoring → closed, through the state-machine helper), keep notes
and tasks, and read its story — the monitor's volume and sentiment over the incident with our
statements marked, and how the replies to each statement felt: did it calm the storm?

Events through the outbound channels: `incident.opened`, `incident.closed`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Count
from django.utils.translation import gettext as _

from guanwei.core import audit, channels, clock
from guanwei.core.errors import ActionError
from guanwei.core.links import absolute_url
from guanwei.core.models import Member
from guanwei.core.permissions import can, require
from guanwei.core.states import transition
from guanwei.monitoring.models import (
    Alert,
    Incident,
    IncidentNote,
    IncidentState,
    IncidentStatement,
    Monitor,
)

MANAGE = "monitor.manage"
EMERGENCY = "post.emergency"
BEFORE = timedelta(hours=24)  # the timeline starts this long before the incident opened


def _tell(incident: Incident, event: str, title: str) -> None:
    channels.send(incident.enterprise, event, channels.Message(
        title=title, text=incident.title, url=absolute_url(f"/monitoring/incidents/{incident.pk}/"),
        level="error" if incident.severity >= 6 else "warning",
        data={"incident_id": incident.pk, "severity": incident.severity, "state": incident.state,
              "monitor_id": incident.monitor_id},
    ))  # fmt: skip


def do_open_incident(member: Member, *, title: str, severity: int, monitor: Monitor | None = None,
                     alert: Alert | None = None, owner: Member | None = None, request: Any = None) -> Incident:  # fmt: skip
    require(member, MANAGE)
    title = title.strip()
    if not title or "\x00" in title or len(title) > 120:
        raise ActionError(_("请填写标题（最长 120 个字）。"), "title")
    if not 1 <= severity <= 10:
        raise ActionError(_("严重度须在 1 到 10 之间。"), "severity")
    for obj, field in ((monitor, "monitor"), (alert, "alert"), (owner, "owner")):
        if obj is not None and obj.enterprise_id != member.enterprise_id:
            raise ActionError(_("没有这个对象。"), field)
    with transaction.atomic():
        incident = Incident.objects.create(
            enterprise=member.enterprise, title=title, severity=severity, monitor=monitor or (alert.monitor if alert else None),
            alert=alert, owner=owner or member, opened_by=member,
        )  # fmt: skip
        audit.record(member.enterprise, member, "incident.opened", incident, request=request,
                     params={"title": title}, detail={"severity": severity, "alert": alert.pk if alert else None})  # fmt: skip
        _tell(incident, "incident.opened", _("事件已开启（严重度 %(n)d）：%(title)s") % {"n": severity, "title": title})
    return incident


def do_move_incident(member: Member, incident: Incident, to: str, request: Any = None) -> Incident:
    require(member, MANAGE)
    if to not in IncidentState.values:
        raise ActionError(_("没有这个状态。"), "state")
    updates = {"closed_at": clock.now() if to == IncidentState.CLOSED else None}
    with transaction.atomic():
        if not transition(incident, to, actor=member, request=request, updates=updates,
                          audit_params={"title": incident.title}):  # fmt: skip
            raise ActionError(_("事件的状态刚被别人改过，请刷新。"), "state")
        incident.refresh_from_db()
        if to == IncidentState.CLOSED:
            _tell(incident, "incident.closed", _("事件已关闭：%(title)s") % {"title": incident.title})
    return incident


def do_update_incident(member: Member, incident: Incident, *, severity: int | None = None,
                       owner: Member | None = None, title: str | None = None, request: Any = None) -> Incident:  # fmt: skip
    require(member, MANAGE)
    changed = []
    if severity is not None and severity != incident.severity:
        if not 1 <= severity <= 10:
            raise ActionError(_("严重度须在 1 到 10 之间。"), "severity")
        incident.severity = severity
        changed.append("severity")
    if owner is not None and owner.pk != incident.owner_id:
        if owner.enterprise_id != member.enterprise_id:
            raise ActionError(_("没有这个对象。"), "owner")
        incident.owner = owner
        changed.append("owner")
    if title is not None and title.strip() and title.strip() != incident.title:
        if len(title) > 120 or "\x00" in title:
            raise ActionError(_("请填写标题（最长 120 个字）。"), "title")
        incident.title = title.strip()
        changed.append("title")
    if changed:
        incident.save(update_fields=changed)
        audit.record(member.enterprise, member, "incident.changed", incident, request=request,
                     params={"title": incident.title}, detail={"changed": changed})  # fmt: skip
    return incident


def do_add_note(member: Member, incident: Incident, text: str, *, is_task: bool = False, request: Any = None) -> IncidentNote:
    require(member, MANAGE)
    text = text.strip()
    if not text or "\x00" in text or len(text) > 2000:
        raise ActionError(_("请填写内容（最长 2000 个字）。"), "text")
    return IncidentNote.objects.create(incident=incident, member=member, text=text, is_task=is_task)


def do_finish_task(member: Member, note: IncidentNote, request: Any = None) -> None:
    require(member, MANAGE)
    IncidentNote.objects.filter(pk=note.pk, is_task=True).update(done=True)


def do_draft_statement(member: Member, incident: Incident, *, text: str, accounts: list[int],
                       request: Any = None) -> Any:
    """A statement drafted in the room: a 危机声明 post for the chosen accounts, submitted for
    approval at once — on the emergency path (one approval) when the author may take it —
    and linked to the incident. It goes out through publishing like any post."""
    from guanwei.publishing import actions as publishing
    from guanwei.publishing.models import ContentKind

    require(member, MANAGE)
    if incident.state == IncidentState.CLOSED:
        raise ActionError(_("事件已关闭，不能再起草声明。"))
    with transaction.atomic():
        post = publishing.do_create_post(member, text=text, accounts=accounts, content_type=ContentKind.CRISIS,
                                         emergency=can(member, EMERGENCY), request=request)  # fmt: skip
        publishing.do_submit(member, post, request)
        IncidentStatement.objects.create(incident=incident, post=post)
        audit.record(member.enterprise, member, "incident.statement_drafted", incident, request=request,
                     params={"title": incident.title}, detail={"post": post.pk, "emergency": post.emergency})  # fmt: skip
    return post


# ---------------------------------------------------------------- the story


@dataclass
class Statement:
    at: datetime | None  # published at (None: not out yet)
    account: str
    text: str
    url: str  # on the platform
    replies: dict[str, int]  # sentiment -> replies (comments and reposts of it we stored)
    emergency: bool
    post_id: int = 0
    state: str = ""  # the target's state while it is not out yet (its display name)
    drafted_here: bool = False

    @property
    def negative_share(self) -> float:
        total = sum(self.replies.values())
        return self.replies.get("negative", 0) / total if total else 0.0


def window(incident: Incident) -> tuple[datetime, datetime]:
    return incident.opened_at - BEFORE, incident.closed_at or clock.now()


def statements(incident: Incident) -> list[Statement]:
    """What our accounts published during the incident (and the statements drafted in its room,
    out or not yet), and how the replies to each felt."""
    from django.db.models import Q

    from guanwei.listening.models import Mention
    from guanwei.publishing.models import Publication, Target

    start, end = incident.opened_at - timedelta(hours=1), incident.closed_at or clock.now()
    linked = set(IncidentStatement.objects.filter(incident=incident).values_list("post_id", flat=True))
    published = list(
        Publication.objects.filter(Q(published_at__gte=start, published_at__lte=end) | Q(target__post_id__in=linked),
                                   enterprise_id=incident.enterprise_id)
        .exclude(platform_id="").select_related("target__account", "target__post").order_by("published_at")
    )  # fmt: skip
    out_targets = {p.target_id for p in published}
    waiting = list(
        Target.objects.filter(post_id__in=linked).exclude(pk__in=out_targets)
        .select_related("account", "post").order_by("pk")
    )  # fmt: skip
    ids = [p.platform_id for p in published]
    replies: dict[str, dict[str, int]] = {}
    rows = (
        Mention.objects.filter(enterprise_id=incident.enterprise_id, thread_id__in=ids)
        .values("thread_id", "sentiment").annotate(n=Count("pk"))
    )  # fmt: skip
    for row in rows:
        replies.setdefault(row["thread_id"], {})[row["sentiment"]] = row["n"]
    said = [
        Statement(p.published_at, p.target.account.screen_name if p.target.account else "—", p.target.body, p.url,
                  replies.get(p.platform_id, {}), p.target.post.emergency, p.target.post_id,
                  drafted_here=p.target.post_id in linked)
        for p in published
    ]  # fmt: skip
    said += [
        Statement(None, t.account.screen_name if t.account else "—", t.body, "", {}, t.post.emergency, t.post_id,
                  state=_("需人工发布") if t.manual_reason else str(t.get_state_display()), drafted_here=True)
        for t in waiting
    ]  # fmt: skip
    return said
