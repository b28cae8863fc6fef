"""API router of monitoring. Scripts rely on `POST /api/v1/monitors` taking {"name", "group",
"rule"}, answering 201, and 422 for a rule that does not parse with a `detail` giving the
position and the reason (issue 15)."""
# No `from __future__ import annotations` here: ninja reads the annotations at import time.

from datetime import datetime
from typing import Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate

from guanwei.core.apitools import ObjectBody, Pages, member_of
from guanwei.core.models import Member
from guanwei.core.permissions import get_for, require
from guanwei.monitoring import actions, matching, queries
from guanwei.monitoring.models import Monitor

router = Router(tags=["monitoring"])
Group = Literal["brand", "product", "competitor", "executive", "custom"]


class MonitorOut(Schema):
    id: int
    name: str
    group: str
    rule: str
    is_active: bool
    created_at: datetime
    updated_at: datetime
    rule_since: datetime


class MonitorIn(ObjectBody):
    name: str = Field(..., min_length=1, max_length=60)
    group: Group = "brand"
    rule: str = Field(..., min_length=1, max_length=2000, description="docs/query-language.md")


class MonitorPatch(ObjectBody):
    name: str | None = Field(None, min_length=1, max_length=60)
    group: Group | None = None
    rule: str | None = Field(None, min_length=1, max_length=2000)
    is_active: bool | None = None


class RuleIn(ObjectBody):
    rule: str = Field(..., min_length=1, max_length=2000)


class DayCount(Schema):
    day: str
    count: int


class PreviewOut(Schema):
    looked_at: int
    matched: int
    truncated: bool
    per_day: list[DayCount]
    sentiment: dict[str, int]
    warnings: list[str]


class CountRow(Schema):
    at: datetime
    volume: int
    positive: int
    neutral: int
    negative: int
    happy: int
    angry: int
    sad: int
    fear: int
    surprise: int
    calm: int
    reach: int
    verified: int


class CountsOut(Schema):
    period: str
    bucket: str
    voices: int
    rows: list[CountRow]


class MatchOut(Schema):
    mention: int = Field(..., alias="mention_id")
    created_at: datetime
    text: str
    author: str
    url: str
    sentiment: str
    emotion: str
    verified: bool
    followers: int

    @staticmethod
    def resolve_text(m) -> str:  # type: ignore[no-untyped-def]
        return m.mention.text

    @staticmethod
    def resolve_author(m) -> str:  # type: ignore[no-untyped-def]
        return m.mention.author.screen_name if m.mention.author else ""

    @staticmethod
    def resolve_url(m) -> str:  # type: ignore[no-untyped-def]
        return m.mention.url


class MatchFilters(Schema):
    """Strict: an unknown value is a 422 naming the field, never an empty list."""

    sentiment: Literal["positive", "neutral", "negative"] | None = None
    emotion: Literal["happy", "angry", "sad", "fear", "surprise", "neutral"] | None = None
    verified: bool | None = None
    source: Literal["poll", "push", "import"] | None = None
    region: str | None = Field(None, min_length=1, max_length=queries.MAX_REGION,
                               description="The author's location starts with it: 北京, \"广东 深圳\"")  # fmt: skip
    period: Literal["24h", "7d", "30d"] | None = None


class AlertOut(Schema):
    id: int
    monitor: int = Field(..., alias="monitor_id")
    kind: str
    severity: int
    reason: str
    volume: int
    baseline: float
    window_end: datetime
    sent: bool
    created_at: datetime


def _managing(request: HttpRequest) -> Member:
    member = member_of(request)
    require(member, actions.MANAGE)
    return member


def _monitor(member: Member, monitor_id: int) -> Monitor:
    return get_for(member, Monitor, monitor_id, actions.MANAGE)


@router.get("/monitors", response=list[MonitorOut], summary="The enterprise's monitors")
@paginate(Pages)
def monitor_list(request: HttpRequest):  # type: ignore[no-untyped-def]
    return Monitor.objects.filter(enterprise_id=_managing(request).enterprise_id).order_by("group", "name", "pk")


@router.post("/monitors", response={201: MonitorOut}, summary="Create a monitor (422 with the position for a bad rule)")
def monitor_create(request: HttpRequest, payload: MonitorIn):  # type: ignore[no-untyped-def]
    monitor = actions.do_create_monitor(_managing(request), name=payload.name, group=payload.group,
                                        rule=payload.rule, request=request)  # fmt: skip
    return Status(201, monitor)


@router.post("/monitors/test", response=PreviewOut, summary="What a rule would have matched in the last 7 days")
def monitor_test(request: HttpRequest, payload: RuleIn):  # type: ignore[no-untyped-def]
    member = _managing(request)
    actions.check_rule(payload.rule)  # a bad rule: 422 with the position
    result = matching.preview(member.enterprise_id, payload.rule)
    result["warnings"] = [w.message_en for w in result["warnings"]]
    result["per_day"] = [{"day": day, "count": n} for day, n in result["per_day"]]
    return result


@router.get("/monitors/{monitor_id}", response=MonitorOut, summary="One monitor")
def monitor_detail(request: HttpRequest, monitor_id: int):  # type: ignore[no-untyped-def]
    return _monitor(_managing(request), monitor_id)


@router.patch("/monitors/{monitor_id}", response=MonitorOut, summary="Change a monitor (a new rule also re-matches 7 days)")
def monitor_patch(request: HttpRequest, monitor_id: int, payload: MonitorPatch):  # type: ignore[no-untyped-def]
    member = _managing(request)
    fields = payload.dict(exclude_unset=True)
    return actions.do_change_monitor(member, _monitor(member, monitor_id), request=request, **fields)


@router.delete("/monitors/{monitor_id}", response={204: None}, summary="Delete a monitor and its matches")
def monitor_delete(request: HttpRequest, monitor_id: int):  # type: ignore[no-untyped-def]
    member = _managing(request)
    actions.do_delete_monitor(member, _monitor(member, monitor_id), request)
    return Status(204, None)


@router.get("/monitors/{monitor_id}/counts", response=CountsOut, summary="Counters per hour or day of a period")
def monitor_counts(request: HttpRequest, monitor_id: int, period: Literal["24h", "7d", "30d"] = "24h",
                   bucket: Literal["minute", "hour", "day"] | None = None):  # type: ignore[no-untyped-def]  # fmt: skip
    from zoneinfo import ZoneInfo

    member = _managing(request)
    monitor = _monitor(member, monitor_id)
    name, since, default_bucket = queries.period_of(period)
    bucket = bucket or default_bucket
    if bucket == "minute" and name != "24h":
        from guanwei.core.errors import ActionError

        raise ActionError("per-minute counts are given for 24h only", "bucket")
    rows = queries.series(monitor, since, bucket, ZoneInfo(member.enterprise.time_zone))
    return {"period": name, "bucket": bucket, "voices": queries.summary(monitor, since).voices, "rows": rows}


@router.get("/monitors/{monitor_id}/mentions", response=list[MatchOut], summary="Mentions the monitor matched, newest first")
@paginate(Pages)
def monitor_mentions(request: HttpRequest, monitor_id: int, filters: Query[MatchFilters]):  # type: ignore[no-untyped-def]
    from django.http import QueryDict

    member = _managing(request)
    params = QueryDict(mutable=True)
    for key, value in filters.dict(exclude_none=True).items():
        params[key] = str(value).lower() if isinstance(value, bool) else value
    return queries.matches(member, _monitor(member, monitor_id), params).order_by("-created_at", "-pk")


@router.get("/alerts", response=list[AlertOut], summary="Alerts the monitors raised, newest first")
@paginate(Pages)
def alert_list(request: HttpRequest, monitor: int | None = None):  # type: ignore[no-untyped-def]
    from guanwei.monitoring.models import Alert

    qs = Alert.objects.filter(enterprise_id=_managing(request).enterprise_id)
    if monitor is not None:
        qs = qs.filter(monitor_id=monitor)
    return qs.order_by("-created_at", "-pk")


class IncidentOut(Schema):
    id: int
    title: str
    severity: int
    state: str
    owner: int | None = Field(None, alias="owner_id")
    monitor: int | None = Field(None, alias="monitor_id")
    alert: int | None = Field(None, alias="alert_id")
    opened_at: datetime
    closed_at: datetime | None


class IncidentIn(ObjectBody):
    title: str = Field(..., min_length=1, max_length=120)
    severity: int = Field(5, ge=1, le=10)
    monitor: int | None = None
    alert: int | None = None


class IncidentPatch(ObjectBody):
    title: str | None = Field(None, min_length=1, max_length=120)
    severity: int | None = Field(None, ge=1, le=10)
    owner: int | None = None
    state: Literal["open", "responding", "monitoring", "closed"] | None = None


def _incident(member: Member, incident_id: int):  # type: ignore[no-untyped-def]
    from guanwei.monitoring.models import Incident

    return get_for(member, Incident, incident_id, actions.MANAGE)


def _own(member: Member, model, pk: int | None):  # type: ignore[no-untyped-def]
    if pk is None:
        return None
    from guanwei.core.errors import ActionError

    found = model.objects.filter(enterprise_id=member.enterprise_id, pk=pk).first()
    if found is None:
        raise ActionError(f"no such {model.__name__.lower()}: {pk}", model.__name__.lower())
    return found


@router.get("/incidents", response=list[IncidentOut], summary="Incidents, newest first")
@paginate(Pages)
def incident_list(request: HttpRequest):  # type: ignore[no-untyped-def]
    from guanwei.monitoring.models import Incident

    return Incident.objects.filter(enterprise_id=_managing(request).enterprise_id).order_by("-opened_at", "-pk")


@router.post("/incidents", response={201: IncidentOut}, summary="Open an incident (webhook incident.opened)")
def incident_open(request: HttpRequest, payload: IncidentIn):  # type: ignore[no-untyped-def]
    from guanwei.monitoring import incidents
    from guanwei.monitoring.models import Alert

    member = _managing(request)
    incident = incidents.do_open_incident(member, title=payload.title, severity=payload.severity,
                                          monitor=_own(member, Monitor, payload.monitor),
                                          alert=_own(member, Alert, payload.alert), request=request)  # fmt: skip
    return Status(201, incident)


@router.get("/incidents/{incident_id}", response=IncidentOut, summary="One incident")
def incident_detail(request: HttpRequest, incident_id: int):  # type: ignore[no-untyped-def]
    return _incident(_managing(request), incident_id)


@router.patch("/incidents/{incident_id}", response=IncidentOut, summary="Update or move an incident (closed: webhook incident.closed)")
def incident_patch(request: HttpRequest, incident_id: int, payload: IncidentPatch):  # type: ignore[no-untyped-def]
    from guanwei.monitoring import incidents

    member = _managing(request)
    incident = _incident(member, incident_id)
    fields = payload.dict(exclude_unset=True)
    owner = _own(member, Member, fields.get("owner"))
    incident = incidents.do_update_incident(member, incident, severity=fields.get("severity"), owner=owner,
                                            title=fields.get("title"), request=request)  # fmt: skip
    if fields.get("state") and fields["state"] != incident.state:
        incident = incidents.do_move_incident(member, incident, fields["state"], request)
    return incident


@router.post("/incidents/{incident_id}/close", response=IncidentOut, summary="Close an incident")
def incident_close(request: HttpRequest, incident_id: int):  # type: ignore[no-untyped-def]
    from guanwei.monitoring import incidents

    member = _managing(request)
    return incidents.do_move_incident(member, _incident(member, incident_id), "closed", request)
