"""The inbox's API: list and read items, assign, reply, set the status, note — the same rules
as the pages (422 naming the field), and nothing of another enterprise (404)."""

from __future__ import annotations

import pytest
from django.test import Client

from guanwei.core.actions import do_create_api_token
from guanwei.inbox.models import Item, ItemNote, Reply
from tests.inbox.test_pages import make_items, say

API = "/api/v1"


@pytest.fixture
def api_as(personas):  # type: ignore[no-untyped-def]
    def make(who: str) -> Client:
        member = personas.mallory if who == "mallory" else personas.members[who]
        return Client(HTTP_AUTHORIZATION=f"Bearer {do_create_api_token(member, 'tests').token}")

    return make


@pytest.fixture
def items(personas):  # type: ignore[no-untyped-def]
    return make_items(personas)


def post(client: Client, path: str, body: object):  # type: ignore[no-untyped-def]
    import json

    return client.post(API + path, json.dumps(body), content_type="application/json")


def test_the_list_filters_like_the_page(personas, api_as, items):
    erin = api_as("erin")
    body = erin.get(f"{API}/inbox/items").json()
    assert body["count"] == 2 and body["items"][0]["id"] == items["inquiry"].pk  # newest first
    only = erin.get(f"{API}/inbox/items?category=complaint&priority=urgent").json()
    assert [i["id"] for i in only["items"]] == [items["complaint"].pk]
    assert only["items"][0]["author"] == "顾客angry"
    assert erin.get(f"{API}/inbox/items?status=solved").json()["count"] == 0
    assert erin.get(f"{API}/inbox/items?assignee=unassigned").json()["count"] == 2


@pytest.mark.parametrize("query", ["status=bogus", "category=weather", "assignee=somebody", "account=0",
                                   "breached=maybe", "account=99999999999"])  # fmt: skip
def test_unknown_filters_are_422_naming_the_field(personas, api_as, items, query):
    response = api_as("erin").get(f"{API}/inbox/items?{query}")
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == query.split("=")[0]


def test_one_item_assign_status_note_and_reply(personas, api_as, items):
    erin = api_as("erin")
    pk = items["complaint"].pk
    assert erin.get(f"{API}/inbox/items/{pk}").json()["category"] == "complaint"
    assert post(erin, f"/inbox/items/{pk}/assign", {"assignee": personas.erin.pk}).json()["assignee"] == personas.erin.pk
    assert post(erin, f"/inbox/items/{pk}/assign", {"assignee": None}).json()["assignee"] is None
    response = post(erin, f"/inbox/items/{pk}/reply", {"text": "您好，已为您登记。", "canned": None})
    assert response.status_code == 201
    assert response.json()["state"] == "queued" and Reply.objects.get(pk=response.json()["id"]).item_id == pk
    response = post(erin, f"/inbox/items/{pk}/notes", {"text": "已电话联系"})
    assert response.status_code == 201 and ItemNote.objects.get(item_id=pk).text == "已电话联系"
    assert post(erin, f"/inbox/items/{pk}/status", {"status": "solved"}).json()["status"] == "solved"
    assert Item.objects.get(pk=pk).solved_at is not None


def test_rules_broken_through_the_api_are_422_with_the_field(personas, api_as, items):
    erin = api_as("erin")
    pk = items["complaint"].pk
    response = post(erin, f"/inbox/items/{pk}/reply", {"text": "抱歉" * 100})
    assert response.status_code == 422 and response.json()["detail"][0]["field"] == "text"
    assert post(erin, f"/inbox/items/{pk}/reply", {"text": "a\x00b"}).status_code == 422
    assert post(erin, f"/inbox/items/{pk}/reply", {"text": "好", "canned": 999999}).json()["detail"][0]["field"] == "canned"
    assert post(erin, f"/inbox/items/{pk}/assign", {"assignee": personas.heidi.pk}).status_code == 422
    assert post(erin, f"/inbox/items/{pk}/status", {"status": "gone"}).status_code == 422
    assert post(erin, f"/inbox/items/{pk}/notes", {"text": "x" * 5000}).status_code == 422
    assert not Reply.objects.exists()


def test_a_take_race_through_the_api_names_the_holder(personas, api_as, items):
    from guanwei.inbox.actions import do_take

    pk = items["inquiry"].pk
    do_take(personas.erin, Item.objects.get(pk=pk))
    # bob assigns over erin on purpose (an admin moving work) — allowed; the page's take is refused
    assert post(api_as("bob"), f"/inbox/items/{pk}/assign", {"assignee": personas.bob.pk}).status_code == 200


def test_viewers_are_refused_and_outsiders_find_nothing(personas, api_as, items):
    assert api_as("heidi").get(f"{API}/inbox/items").status_code == 403
    assert api_as("heidi").get(f"{API}/inbox/items/{items['complaint'].pk}").status_code == 403
    mallory = api_as("mallory")
    pk = items["complaint"].pk
    assert mallory.get(f"{API}/inbox/items").json()["count"] == 0
    assert mallory.get(f"{API}/inbox/items/{pk}").status_code == 404
    for path, body in (("assign", {"assignee": None}), ("reply", {"text": "hi"}), ("status", {"status": "solved"}),
                       ("notes", {"text": "hi"})):  # fmt: skip
        assert post(mallory, f"/inbox/items/{pk}/{path}", body).status_code == 404, path
    assert mallory.get(f"{API}/inbox/items/99999999999999999999999").status_code in (404, 422)
    assert Item.objects.get(pk=pk).status == "open" and not Reply.objects.exists()


def test_ivan_sees_only_items_of_his_accounts(personas, api_as, client_for, items):
    """ivan is limited to the product and service accounts; an item on the parent account is not his."""
    from guanwei.core.models import Role

    ivan = personas.ivan
    ivan.role = Role.AGENT
    ivan.save()
    parent_item = say(personas, "总号下面的投诉：酸奶坏了", author="p1", account="parent")
    client = api_as("ivan")
    ids = {i["id"] for i in client.get(f"{API}/inbox/items?status=all").json()["items"]}
    assert items["complaint"].pk in ids and parent_item.pk not in ids
    assert client.get(f"{API}/inbox/items/{parent_item.pk}").status_code == 404
    assert client_for("ivan").get(f"/inbox/items/{parent_item.pk}/").status_code == 404
