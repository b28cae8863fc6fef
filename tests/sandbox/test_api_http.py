"""The sandbox over real HTTP (live_server + httpx), as the Weibo connector meets it, and the demo
world that seeding connects guanwei to."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from guanwei.sandbox import store
from guanwei.sandbox.models import App, SandboxUser, Status, Token
from guanwei.sandbox.world import DEMO_PASSWORD, ensure_demo_world, make_app_and_user

LINK = "http://demo.guanwei.local/p/1"


@pytest.mark.django_db(transaction=True)
def test_oauth_consent_flow_over_http(live_server):
    world = ensure_demo_world(live_server.url)
    callback = f"{live_server.url}/matrix/connections/1/callback"
    with httpx.Client(base_url=live_server.url, timeout=10) as browser:
        page = browser.get(
            "/sandbox/oauth2/authorize",
            params={"client_id": world.app_key, "redirect_uri": callback, "state": "s1"},
        )
        assert page.status_code == 200
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        consent = browser.post(
            str(page.url),
            data={
                "csrfmiddlewaretoken": csrf,
                "client_id": world.app_key,
                "redirect_uri": callback,
                "state": "s1",
                "screen_name": "示例乳业客服",
                "password": DEMO_PASSWORD,
                "action": "allow",
            },
            headers={"Referer": str(page.url)},
        )
        assert consent.status_code == 302, consent.text
        query = parse_qs(urlsplit(consent.headers["location"]).query)
        assert query["state"] == ["s1"]
    token = httpx.post(
        f"{live_server.url}/sandbox/oauth2/access_token",
        data={
            "client_id": world.app_key,
            "client_secret": world.app_secret,
            "grant_type": "authorization_code",
            "code": query["code"][0],
            "redirect_uri": callback,
        },
    ).json()
    assert token["uid"] == world.account("service").uid
    assert token["expires_in"] > 4 * 365 * 24 * 3600  # developer level: 5 years
    info = httpx.post(
        f"{live_server.url}/sandbox/oauth2/get_token_info",
        params={"access_token": token["access_token"]},
    ).json()
    assert info["uid"] == int(world.account("service").uid)


@pytest.mark.django_db(transaction=True)
def test_share_comment_and_read_back_over_http(live_server):
    app, user, token = make_app_and_user()
    api = httpx.Client(
        base_url=f"{live_server.url}/sandbox/2",
        headers={"Authorization": f"OAuth2 {token.token}"},
        timeout=10,
    )
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
    r = api.post(
        "/statuses/share.json",
        data={"status": f"HTTP 上发的 {LINK}", "rip": "1.2.3.4"},
        files={"pic": ("a.png", png, "image/png")},
    )
    assert r.status_code == 200, r.text
    status = r.json()
    assert httpx.get(status["original_pic"]).content == png
    fan = store.create_user("HTTP 网友")
    store.comment(fan, Status.objects.get(pk=status["id"]), "评论一下")
    comments = api.get("/comments/to_me.json").json()
    assert comments["comments"][0]["status"]["idstr"] == status["idstr"]
    bad = api.get("/statuses/show.json", params={"id": "x"})
    assert bad.status_code == 400 and bad.json()["error_code"] == 10017
    assert api.get("/nope/nope.json").json()["error_code"] == 10020
    api.close()


@pytest.mark.django_db
def test_demo_world_is_idempotent_and_its_tokens_work(client):
    first = ensure_demo_world("http://127.0.0.1:8000")
    second = ensure_demo_world("http://127.0.0.1:8000")
    assert (first.app_key, first.app_secret) == (second.app_key, second.app_secret)
    assert [(a.uid, a.token) for a in first.accounts] == [(a.uid, a.token) for a in second.accounts]
    assert App.objects.count() == 1 and SandboxUser.objects.count() == 6 + 2  # + unconnected
    roles = [a.matrix_role for a in first.accounts]
    assert roles == ["parent", "product", "campaign", "service", "community", "ecommerce"]
    parent = first.account("parent")
    assert parent.screen_name == "示例乳业官方微博" and parent.parent_uid is None
    assert all(a.parent_uid == parent.uid for a in first.accounts[1:])
    assert all(a.verified_type == 2 for a in first.accounts)
    assert all(a.expires_in > 4 * 365 * 24 * 3600 for a in first.accounts)
    app = App.objects.get()
    assert "127.0.0.1" in app.safe_domains and "demo.guanwei.local" in app.safe_domains
    r = client.get(
        "/sandbox/2/account/get_uid.json", headers={"Authorization": f"OAuth2 {parent.token}"}
    )
    assert r.json() == {"uid": int(parent.uid)}
    assert Token.objects.count() == 6
    # Links to guanwei's own host pass the safe-domain rule.
    shared = client.post(
        "/sandbox/2/statuses/share.json",
        {"status": "看看 http://127.0.0.1:8000/l/abc", "rip": "1.2.3.4"},
        headers={"Authorization": f"OAuth2 {parent.token}"},
    )
    assert shared.status_code == 200, shared.content
    followers = SandboxUser.objects.get(pk=parent.uid).followers_count
    assert followers == 5


@pytest.mark.django_db
def test_demo_world_adds_a_new_host_on_rerun():
    ensure_demo_world("http://127.0.0.1:8000")
    ensure_demo_world("https://guanwei.example.com")
    app = App.objects.get()
    assert "guanwei.example.com" in app.safe_domains
    assert "https://guanwei.example.com/" in app.redirect_uris.split()
