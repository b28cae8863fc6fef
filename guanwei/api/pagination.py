"""Page-number pagination for every list endpoint: `?page=N&page_size=M` (M ≤ 200), answered as
`{"items": [...], "count": total}`. The page is cut in the database (LIMIT/OFFSET).

`page` is bounded (1…MAX_PAGE): a page number past any real list, e.g. 10**20, is a 422 naming
the field instead of an integer the database cannot hold."""

from ninja import Field, Schema
from ninja.pagination import PageNumberPagination

MAX_PAGE = 1_000_000


class Pages(PageNumberPagination):
    class Input(Schema):
        page: int = Field(1, ge=1, le=MAX_PAGE)
        page_size: int | None = Field(None, ge=1)  # above the maximum: the maximum

    def __init__(self, **kwargs):  # type: ignore[no-untyped-def]
        kwargs.setdefault("page_size", 50)
        kwargs.setdefault("max_page_size", 200)
        super().__init__(**kwargs)
