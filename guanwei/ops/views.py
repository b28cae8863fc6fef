"""/ops/status and /healthz (for machines).

/ops/status is two pages behind one address: the server operator sees the whole server (workers
with their hosts and PIDs, queues, periodic jobs, every failed task); an enterprise's admins see
only their slice — whether background work is running, their accounts' health and the failures
of tasks run for their enterprise (a task is an enterprise's when it is enqueued with an
`enterprise_id` keyword argument)."""

from __future__ import annotations

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from guanwei.core.permissions import is_operator, member_required
from guanwei.matrix import queries as matrix_queries
from guanwei.ops import queries
from guanwei.ops.models import WorkerHeartbeat
from guanwei.publishing import health as publishing_health


@never_cache
def status(request: HttpRequest) -> HttpResponse:
    if is_operator(request.user):
        return _server_status(request)
    return _enterprise_status(request)


@member_required("ops.view")
def _enterprise_status(request: HttpRequest) -> HttpResponse:
    member = request.member  # type: ignore[attr-defined]
    failures, failure_count = queries.recent_failures(enterprise_id=member.enterprise_id)
    context = {
        "is_server_view": False,
        "worker_needed": queries.uses_task_queue(),
        "has_fresh_worker": queries.fresh_workers().exists(),
        "health": matrix_queries.health_counts(member),
        "troubled": matrix_queries.troubled_accounts(member),
        "failures": failures,
        "failure_count": failure_count,
        "overdue_targets": publishing_health.overdue(member.enterprise_id).count(),
    }
    template = "ops/_enterprise_status_body.html" if request.htmx else "ops/status.html"  # type: ignore[attr-defined]
    return render(request, template, context)


def _server_status(request: HttpRequest) -> HttpResponse:
    workers = list(WorkerHeartbeat.objects.all()[:50])
    fresh = [w for w in workers if not w.is_stale]
    failures, failure_count = queries.recent_failures()
    jobs = queries.job_statuses()
    depth = queries.queue_depth()
    running = queries.running_count()
    context = {
        "is_server_view": True,
        "workers": workers,
        "has_fresh_worker": bool(fresh),
        "worker_needed": queries.uses_task_queue(),
        "last_beat_at": queries.last_beat_at(),
        "stale_after_s": settings.WORKER_STALE_AFTER_S,
        "queues": [(q, n, running.get(q, 0)) for q, n in depth.items()],
        "jobs": jobs,
        "overdue_count": sum(1 for j in jobs if j.is_overdue),
        "failures": failures,
        "failure_count": failure_count,
        "overdue_targets": publishing_health.overdue().count(),
    }
    template = "ops/_status_body.html" if request.htmx else "ops/status.html"  # type: ignore[attr-defined]
    return render(request, template, context)


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database answers and a worker beat recently, else 503.
    `?check=db` leaves the worker out (a load balancer's check of one web process should not
    fail all of them because the worker is down)."""
    body: dict[str, object] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        body["db"] = "ok"
    except Exception as exc:  # the point is to report it, whatever it is
        body["db"] = f"error: {type(exc).__name__}"
        return JsonResponse({**body, "status": "fail"}, status=503)

    last = queries.last_beat_at()
    fresh = queries.fresh_workers().count()
    needed = queries.uses_task_queue()  # GUANWEI_TASKS_IMMEDIATE: tasks run in requests, no worker
    body["worker"] = {
        "needed": needed,
        "fresh": fresh > 0,
        "fresh_count": fresh,
        "last_beat_at": last.isoformat() if last else None,
    }
    body["queue_depth"] = queries.queue_depth()
    ok = request.GET.get("check") == "db" or fresh > 0 or not needed
    body["status"] = "ok" if ok else "fail"
    return JsonResponse(body, status=200 if ok else 503)
