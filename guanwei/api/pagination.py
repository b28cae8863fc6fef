"""Page-number pagination for every list endpoint: `?page=N&page_size=M` (M ≤ 200), answered as
`{"items": [...], "count": total}`. The page is cut in the database (LIMIT/OFFSET)."""

from ninja.pagination import PageNumberPagination


class Pages(PageNumberPagination):
    def __init__(self, **kwargs):  # type: ignore[no-untyped-def]
        kwargs.setdefault("page_size", 50)
        kwargs.setdefault("max_page_size", 200)
        super().__init__(**kwargs)
