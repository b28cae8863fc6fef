"""The post workflow and its API (issue 14's shape): draft → in review → approved → scheduled,
edits void approval, no self-approval, bad input named by field, nothing half-saved."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from guanwei.core import clock
from guanwei.core.models import StateEvent
from guanwei.publishing.models import Post, Target

API = "/api/v1"


@pytest.fixture
def api_as(personas):  # type: ignore[no-untyped-def]
    from django.test import Client

    from guanwei.core.actions import do_create_api_token

    def make(who: str) -> Client:
        return Client(HTTP_AUTHORIZATION=f"Bearer {do_create_api_token(getattr(personas, who), 'tests').token}")

    return make


def _create(api, personas, **extra):  # type: ignore[no-untyped-def]
    body = {"text": "示例乳业低糖酸奶今日上市 https://demo.guanwei.local/p/1", "accounts": [personas.parent_account.pk, personas.accounts["product"].pk],
            "scheduled_at": None, **extra}  # fmt: skip
    return api.post(f"{API}/posts", body, content_type="application/json")


@pytest.fixture(autouse=True)
def _safe_domain(personas):  # type: ignore[no-untyped-def]
    personas.connection.safe_domain = "demo.guanwei.local"
    personas.connection.save()


def test_create_submit_approve_schedules_as_soon_as_approved(personas, api_as):
    carol, dave = api_as("carol"), api_as("dave")
    response = _create(carol, personas)
    assert response.status_code == 201
    post = response.json()
    assert post["state"] == "draft" and [t["state"] for t in post["targets"]] == ["draft", "draft"]
    assert carol.post(f"{API}/posts/{post['id']}/submit").json()["state"] == "in_review"
    approved = dave.post(f"{API}/posts/{post['id']}/approve").json()
    assert approved["state"] == "scheduled"
    target = Target.objects.filter(post_id=post["id"]).first()
    assert abs(target.due_at - clock.now()) < timedelta(seconds=5)
    events = StateEvent.objects.filter(object_type="publishing.target", object_id=str(target.pk))
    assert [e.to_state for e in events.order_by("pk")] == ["in_review", "approved", "scheduled"]


def test_the_author_cannot_approve_and_an_edit_voids_the_approval(personas, api_as, client_for):
    from guanwei.core.actions import do_change_role

    do_change_role(personas.alice, personas.dave, "admin")  # may edit and review
    dave = api_as("dave")
    post = _create(dave, personas).json()
    dave.post(f"{API}/posts/{post['id']}/submit")
    refused = dave.post(f"{API}/posts/{post['id']}/approve")
    assert refused.status_code == 422 and "自己" in refused.json()["detail"][0]["reason"]
    api_as("bob").post(f"{API}/posts/{post['id']}/approve")
    edited = dave.patch(f"{API}/posts/{post['id']}", {"text": "示例乳业低糖酸奶明日上市 https://demo.guanwei.local/p/2"}, content_type="application/json")
    assert edited.json()["state"] == "draft" and edited.json()["revision"] == 2


def test_a_time_in_shanghai_is_kept_in_utc(personas, api_as):
    with time_machine.travel(datetime(2026, 12, 5, 0, 0, tzinfo=UTC), tick=False):
        post = _create(api_as("carol"), personas, scheduled_at="2026-12-05T09:00:00+08:00").json()
        stored = Post.objects.get(pk=post["id"]).scheduled_at
        assert stored == datetime(2026, 12, 5, 1, 0, tzinfo=UTC)
        api_as("carol").post(f"{API}/posts/{post['id']}/submit")
        api_as("dave").post(f"{API}/posts/{post['id']}/approve")
        assert Target.objects.filter(post_id=post["id"]).first().due_at == datetime(2026, 12, 5, 1, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"text": "长" * 141}, "text", "140"),
        ({"text": "   "}, "text", "正文"),
        ({"text": "a\x00b"}, "text", "NUL"),
        ({"accounts": []}, "accounts", "at least 1"),
        ({"scheduled_at": "2020-01-01T00:00:00+08:00"}, "scheduled_at", "过去"),
        ({"scheduled_at": "2026-12-30T09:00:00"}, "scheduled_at", "时区"),
    ],
)
def test_bad_input_names_the_field_and_saves_nothing(personas, api_as, change, field, words):
    response = _create(api_as("carol"), personas, **change)
    assert response.status_code in (400, 422)
    detail = response.json()["detail"]
    assert any(d["field"] == field and words in d["reason"] for d in detail), detail
    assert not Post.objects.exists()


def test_accounts_the_author_may_not_act_for_are_refused(personas, api_as):
    outsider = _create(api_as("carol"), personas, accounts=[personas.outsider_account.pk]).json()
    assert outsider["detail"][0]["field"] == "accounts"
    limited = _create(api_as("ivan"), personas, accounts=[personas.parent_account.pk])
    assert limited.status_code == 422 and not Post.objects.exists()
    assert api_as("heidi").post(f"{API}/posts", {"text": "x", "accounts": [1]}, content_type="application/json").status_code == 403


def test_another_tenants_post_is_404(personas, api_as):
    post = _create(api_as("carol"), personas).json()
    mallory = api_as("mallory")
    assert mallory.get(f"{API}/posts/{post['id']}").status_code == 404
    assert mallory.post(f"{API}/posts/{post['id']}/cancel").status_code == 404


def test_cancel_stops_what_has_not_gone_out(personas, api_as):
    post = _create(api_as("carol"), personas).json()
    assert api_as("carol").post(f"{API}/posts/{post['id']}/cancel").json()["state"] == "cancelled"
    again = api_as("carol").post(f"{API}/posts/{post['id']}/cancel")
    assert again.status_code == 422


def test_a_member_limited_to_some_accounts_sees_only_their_posts(personas, api_as):
    parent_only = _create(api_as("carol"), personas, accounts=[personas.parent_account.pk]).json()
    product = _create(api_as("carol"), personas, accounts=[personas.accounts["product"].pk]).json()
    ivan = api_as("ivan")  # limited to the product and service accounts
    assert ivan.get(f"{API}/posts/{parent_only['id']}").status_code == 404
    assert ivan.get(f"{API}/posts/{product['id']}").status_code == 200
    assert [p["id"] for p in ivan.get(f"{API}/posts").json()["items"]] == [product["id"]]


def test_the_api_takes_content_type_images_and_the_emergency_path(personas, api_as):
    import base64
    import io

    from PIL import Image

    png = io.BytesIO()
    Image.new("RGB", (30, 30), "green").save(png, "PNG")
    image = {"name": "g.png", "data": base64.b64encode(png.getvalue()).decode()}
    carol = api_as("carol")
    created = _create(carol, personas, content_type="product", images=[image]).json()
    assert created["content_type"] == "product" and created["emergency"] is False
    assert Post.objects.get(pk=created["id"]).images.count() == 1
    refused = _create(carol, personas, emergency=True, content_type="crisis")
    assert refused.status_code == 403  # only owners and admins take the emergency path
    assert _create(api_as("alice"), personas, emergency=True).status_code == 422  # and only for a crisis statement
    bad = _create(carol, personas, images=[{"name": "x", "data": "not base64!"}])
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "images"
    junk = _create(carol, personas, images=[{"name": "x", "data": base64.b64encode(b"hello").decode()}])
    assert junk.status_code == 422 and "无法读取" in junk.json()["detail"][0]["reason"]
    urgent = _create(api_as("alice"), personas, emergency=True, content_type="crisis").json()
    assert urgent["emergency"] is True
    api_as("alice").post(f"{API}/posts/{urgent['id']}/submit")
    approved = api_as("dave").post(f"{API}/posts/{urgent['id']}/approve", {"comment": "同意"},
                                   content_type="application/json").json()  # fmt: skip
    assert approved["state"] == "scheduled"
    edited = carol.patch(f"{API}/posts/{created['id']}", {"content_type": "crisis", "variants": {}},
                         content_type="application/json").json()  # fmt: skip
    assert edited["content_type"] == "crisis" and edited["revision"] == 2
