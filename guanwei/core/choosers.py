"""The one searchable chooser for long lists of people and things (members, accounts, later
authors and customers): a <select> that holds only the chosen option, and a search box that
loads at most CHOICES_LIMIT matching options into it (htmx). A page never renders thousands of
<option>s; validation stays the model field's own (a primary key within the member's tenant)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

CHOICES_LIMIT = 20


class ChooserSelect(forms.Select):
    """The chooser's widget. The search box asks `source` for options (?q=…)."""

    template_name = "web/_chooser.html"

    def __init__(self, *, source: str, empty_label: str = "", attrs: dict[str, Any] | None = None):
        super().__init__(attrs)
        self.source = source  # URL name of the view answering ?q= with <option>s
        self.empty_label = empty_label

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        context["widget"]["source_url"] = reverse(self.source)
        return context


def bound_to_selection(field: forms.ModelChoiceField, queryset: QuerySet[Any], value: Any,
                       label: Any) -> None:  # fmt: skip
    """Give `field` its tenant's queryset (for validation) but only the selected choice (and the
    empty one) to render. `value` is the submitted value, or the initial one on an unbound form."""
    field.queryset = queryset
    chosen: list[tuple[Any, Any]] = []
    if value not in (None, ""):
        try:
            obj = queryset.filter(pk=int(value)).first()
        except (TypeError, ValueError):
            obj = None
        if obj is not None:
            chosen = [(obj.pk, label(obj))]
    field.widget.choices = [("", field.empty_label or ""), *chosen]


def options(request: HttpRequest, queryset: QuerySet[Any], fields: tuple[str, ...],
            label: Callable[[Any], str], empty_label: str) -> HttpResponse:  # fmt: skip
    """The view's answer: at most CHOICES_LIMIT <option>s of `queryset` matching ?q= (or the
    widget's own `<field>_q`), the first selected, after the empty choice."""
    q = request.GET.get("q") or request.GET.get(f"{request.GET.get('field', '')}_q", "")
    rows = [(obj.pk, label(obj)) for obj in search(queryset, q, *fields)]
    return render(request, "web/_chooser_options.html", {"options": rows, "empty_label": empty_label})


def search(queryset: QuerySet[Any], q: str, *fields: str) -> QuerySet[Any]:
    """At most CHOICES_LIMIT rows of `queryset` whose `fields` contain `q` (all when q is empty)."""
    q = q.strip()[:100]
    if q:
        condition = Q()
        for name in fields:
            condition |= Q(**{f"{name}__icontains": q})
        queryset = queryset.filter(condition)
    return queryset[:CHOICES_LIMIT]
