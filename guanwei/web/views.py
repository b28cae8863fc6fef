"""The dashboard, the five areas' landing pages and the notifications list."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from guanwei.core.lists import keyset_page
from guanwei.core.permissions import can, member_required
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
