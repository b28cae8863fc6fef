"""The composer, the list and a post's page: the same actions as the API, errors on the field."""

from __future__ import annotations

import pytest

from guanwei.publishing.models import Post

LINK = "https://demo.guanwei.local/p/1"


@pytest.fixture(autouse=True)
def _safe_domain(personas):  # type: ignore[no-untyped-def]
    personas.connection.safe_domain = "demo.guanwei.local"
    personas.connection.save()


def test_compose_submit_approve_through_the_pages(personas, client_for):
    carol = client_for("carol")
    page = carol.get("/publishing/compose/").content.decode()
    assert "@示例乳业官方微博" in page and 'hx-post="/publishing/check"' in page
    response = carol.post("/publishing/compose/", {
        "text": f"新品上市 {LINK}", "accounts": [personas.parent_account.pk], "submit_for_review": "1",
    })  # fmt: skip
    post = Post.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/publishing/posts/{post.pk}/"
    assert post.state == "in_review"
    dave = client_for("dave")
    assert "批准" in dave.get(f"/publishing/posts/{post.pk}/").content.decode()
    dave.post(f"/publishing/posts/{post.pk}/approve")
    assert Post.objects.get().state == "scheduled"
    listing = carol.get("/publishing/?view=list&state=scheduled").content.decode()
    assert "新品上市" in listing and "已排期" in listing


def test_the_live_count_is_the_servers_own(personas, client_for):
    html = client_for("carol").post("/publishing/check", {"text": "中文abc"}).content.decode()
    assert "4 字" in html and "136" in html  # 2 + 1.5 → 4 characters; 280 − 7 = 273 half-units → 136
    over = client_for("carol").post("/publishing/check", {"text": "长" * 145}).content.decode()
    assert "超出 5 字" in over


def test_errors_land_on_their_field(personas, client_for):
    response = client_for("carol").post("/publishing/compose/", {"text": "长" * 150, "accounts": [personas.parent_account.pk]})
    assert response.status_code == 422
    assert "140" in " ".join(response.context["form"].errors["text"])
    assert not Post.objects.exists()


@pytest.mark.parametrize(("who", "status"), [("heidi", 403), ("mallory", 404)])
def test_others_cannot_act_on_a_post(personas, client_for, who, status):
    from guanwei.publishing.actions import do_create_post

    post = do_create_post(personas.carol, text=f"x {LINK}", accounts=[personas.parent_account.pk])
    assert client_for(who).post(f"/publishing/posts/{post.pk}/cancel").status_code == status
    assert client_for("carol").post(f"/publishing/posts/{post.pk}/no-such-action").status_code == 404


def test_a_per_account_text_error_lands_on_its_own_field(personas, client_for):
    product = personas.accounts["product"].pk
    response = client_for("carol").post("/publishing/compose/", {
        "text": f"短 {LINK}", "accounts": [product], f"variant_{product}": "长" * 150,
    })  # fmt: skip
    assert response.status_code == 422 and response.context["form"].errors[f"variant_{product}"]
    assert not Post.objects.exists()
