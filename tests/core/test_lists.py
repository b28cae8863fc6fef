"""The one pager (core.lists.keyset_page): walking forward visits every row once in order, and
walking back retraces the same pages — for ascending, descending and mixed orders with ties."""

from __future__ import annotations

import base64

import pytest
from django.contrib.auth.models import User
from django.test import RequestFactory
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from guanwei.core.lists import keyset_page
from guanwei.core.models import Enterprise, Member, Role


def _request(**params: str):  # type: ignore[no-untyped-def]
    return RequestFactory().get("/x/", params)


def walk(qs, order, per_page):  # type: ignore[no-untyped-def]
    pages = []
    page = keyset_page(qs, _request(role="editor"), per_page=per_page, order=order)
    pages.append([m.pk for m in page])
    assert page.preceding is None and page.query == "role=editor"
    while page.following:
        page = keyset_page(qs, _request(role="editor", before=page.following), per_page=per_page, order=order)
        pages.append([m.pk for m in page])
    back = [[m.pk for m in page]]
    while page.preceding:
        page = keyset_page(qs, _request(role="editor", after=page.preceding), per_page=per_page, order=order)
        back.append([m.pk for m in page])
    return pages, list(reversed(back))


class KeysetProperties(TestCase):
    @settings(max_examples=25, deadline=None)
    @given(
        names=st.lists(st.sampled_from(["甲", "乙", "a", "B", "丙丙", "z|z"]), min_size=0, max_size=23),
        limited=st.lists(st.booleans(), min_size=23, max_size=23),
        per_page=st.integers(min_value=1, max_value=7),
        order=st.sampled_from([("display_name",), ("-display_name",), ("-is_limited_to_accounts", "display_name"), ("-joined_at",)]),
    )
    def test_every_row_once_in_order_and_back_again(self, names, limited, per_page, order):
        enterprise = Enterprise.objects.create(name="E", slug="e")
        for i, name in enumerate(names):
            user = User.objects.create(username=f"u{i}")
            Member.objects.create(
                enterprise=enterprise, user=user, role=Role.EDITOR, display_name=name,
                is_limited_to_accounts=limited[i],
            )
        qs = Member.objects.filter(enterprise=enterprise)
        pages, back = walk(qs, order, per_page)
        expected_order = [*order, ("-pk" if order[0].startswith("-") else "pk")]
        expected = list(qs.order_by(*expected_order).values_list("pk", flat=True))
        assert [pk for page in pages for pk in page] == expected
        assert all(len(p) == per_page for p in pages[:-1])
        assert back == pages


@pytest.mark.parametrize(
    "cursor",
    ["", "x", "%00", "a" * 5000, base64.urlsafe_b64encode(b'[1.5, 2]').decode(),
     base64.urlsafe_b64encode(b'["a", "b"]').decode(), base64.urlsafe_b64encode(b'[{"t": "nope"}, 1]').decode(),
     base64.urlsafe_b64encode(b'{"a": 1}').decode(), base64.urlsafe_b64encode(b'[null, 1]').decode()],
)
def test_a_cursor_that_is_not_ours_shows_the_first_page(db, cursor):
    page = keyset_page(Member.objects.all(), _request(before=cursor, after=cursor), order=("display_name",))
    assert page.items == [] and page.preceding is None
