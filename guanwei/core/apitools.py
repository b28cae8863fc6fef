"""What every app's API router uses (`<app>/api.py`), kept in core so routers import downward
only: the caller's Member, and the one page-number pagination of list endpoints.

`Pages`: `?page=N&page_size=M` (M ≤ 200), answered as `{"items": [...], "count": total}`; the page
is cut in the database (LIMIT/OFFSET). `page` is bounded (1…MAX_PAGE): a page number past any
real list, e.g. 10**20, is a 422 naming the field instead of an integer the database cannot hold.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from django.http import HttpRequest
from ninja import Field, Schema
from ninja.pagination import PageNumberPagination
from pydantic import AfterValidator, model_validator

from guanwei.core.models import Member

MAX_PAGE = 1_000_000


def _in_utc(value: datetime) -> datetime:
    """A date-time from a caller, in UTC: an offset like +22:34 is valid ISO 8601 but beyond what
    PostgreSQL stores (±15:59), and a time at the edge of year 1 or 9999 may not convert — a 422
    naming the field, never a database error."""
    if value.tzinfo is None:
        return value  # naive: the action that takes it says what it needs
    try:
        return value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ValueError("a date-time between the years 1 and 9999") from None


#: An input date-time field of an API schema (query or body): kept in UTC.
Moment = Annotated[datetime, AfterValidator(_in_utc)]


def member_of(request: HttpRequest) -> Member:
    """The active Member the API's authentication (api.auth) put on the request."""
    member: Member = request.member  # type: ignore[attr-defined]
    return member


class Pages(PageNumberPagination):
    class Input(Schema):
        page: int = Field(1, ge=1, le=MAX_PAGE)
        page_size: int | None = Field(None, ge=1)  # above the maximum: the maximum

    def __init__(self, **kwargs):  # type: ignore[no-untyped-def]
        kwargs.setdefault("page_size", 50)
        kwargs.setdefault("max_page_size", 200)
        super().__init__(**kwargs)


class ObjectBody(Schema):
    """A request body that must be a JSON object. ninja also reads a schema's fields as
    attributes of what it is given: a JSON string "ABC" sent to a schema with a `title` field
    would pass, titled "Abc" (str.title). Bodies with such names derive from this."""

    @model_validator(mode="before")
    @classmethod
    def _an_object(cls, value: object) -> object:
        raw = getattr(value, "_obj", value)  # ninja hands the data wrapped in its DjangoGetter
        if not isinstance(raw, dict):
            raise ValueError("expected a JSON object")
        return value
