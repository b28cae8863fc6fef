"""The dashboard, the five areas' landing pages and the notifications list."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from guanwei.core import clock
from guanwei.core.lists import keyset_page
from guanwei.core.models import Notification
from guanwei.core.permissions import can, get_for, member_required
from guanwei.matrix import queries
from guanwei.web import navigation
from guanwei.web.notices import open_for, open_notifications


@member_required("dashboard.view")
def dashboard(request: HttpRequest) -> HttpResponse:
    member = request.member
    areas = [(area, navigation.area_links(member, area)) for area in navigation.AREAS]
    health = queries.health_counts(member)
    return render(
        request,
        "web/dashboard.html",
        {
            "health": health,
            "account_total": sum(n for _, _, n in health),
            "expiring": queries.expiring_soon(member),
            "notifications": open_notifications(member, limit=8),
            "areas": areas,
            "can_view_matrix": can(member, "account.view"),
        },
    )


@member_required("dashboard.view")
def area(request: HttpRequest, slug: str) -> HttpResponse:
    try:
        current = navigation.AREAS_BY_SLUG[slug]
    except KeyError:
        raise Http404(slug) from None
    links = navigation.area_links(request.member, current)
    return render(
        request,
        "web/area.html",
        {
            "area": current,
            "built": [r for r in links if r.url],
            "planned": [r for r in links if not r.url],
        },
    )


@member_required("dashboard.view")
def notifications(request: HttpRequest) -> HttpResponse:
    page = keyset_page(open_for(request.member), request, per_page=30)
    return render(request, "web/notifications.html", {"page": page})


@member_required("dashboard.view")
def bell(request: HttpRequest) -> HttpResponse:
    """The bell alone, polled by htmx so a new notice shows without reloading the page."""
    return render(request, "web/_bell.html")


@member_required("dashboard.view")
@require_POST
def dismiss(request: HttpRequest, notification_id: int) -> HttpResponse:
    """Close one of the member's personal notices ("your export is ready"). Notices about an
    incident close themselves when it is over; they are not the member's to dismiss (404)."""
    notice = get_for(request.member, Notification, notification_id)
    if notice.member_id != request.member.pk:
        raise Http404("notification")
    Notification.objects.filter(pk=notice.pk, resolved_at__isnull=True).update(resolved_at=clock.now())
    return redirect("web:notifications")
