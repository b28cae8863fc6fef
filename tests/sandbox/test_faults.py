"""Fault injection: every kind, per app and endpoint, next-N and probability, the page, the CLI."""

from __future__ import annotations

import random
import time
from io import StringIO

import httpx
import pytest
from django.core.management import call_command

from guanwei.sandbox import faults, store
from guanwei.sandbox.models import Fault, Status
from guanwei.sandbox.world import make_app_and_user
from tests.sandbox.api_helpers import LINK, assert_error, call, share

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    return make_app_and_user()


def test_http_503_is_weibo_json_and_nothing_is_written(client, world):
    app, _, token = world
    faults.add_fault("http_5xx", "statuses/share", app=app, http_status=503)
    assert_error(share(client, token, f"不会发出 {LINK}"), 10002, 503)
    assert Status.objects.count() == 0


def test_http_500_is_system_error_and_502_is_a_gateway_page(client, world):
    app, _, token = world
    faults.add_fault("http_5xx", "statuses/mentions", app=app, http_status=500, times=1)
    assert_error(call(client, "GET", "statuses/mentions", token), 10001, 500)
    faults.add_fault("http_5xx", "statuses/mentions", app=app, http_status=502, times=1)
    r = call(client, "GET", "statuses/mentions", token)
    assert r.status_code == 502 and r["Content-Type"].startswith("text/html")
    assert b"502 Bad Gateway" in r.content
    assert call(client, "GET", "statuses/mentions", token).status_code == 200


def test_timeout_hangs_then_fails_without_writing(client, world):
    app, _, token = world
    faults.add_fault("timeout", "statuses/share", app=app, delay_s=0.01)
    r = share(client, token, f"超时 {LINK}")
    assert r.status_code == 504
    assert Status.objects.count() == 0


def test_rate_limit_fault_uses_weibo_codes(client, world):
    app, _, token = world
    faults.add_fault("rate_limit", "statuses/share", app=app, times=1)
    assert_error(share(client, token, f"限流 {LINK}"), 10023, 403)
    faults.add_fault("rate_limit", "statuses/share", app=app, times=1, error_code=10024)
    body = assert_error(share(client, token, f"限流 {LINK}"), 10024)
    assert "update_status" in body["error"]
    faults.add_fault("rate_limit", "*", app=app, times=1, error_code=10022)
    assert_error(call(client, "GET", "statuses/mentions", token), 10022)


def test_expired_token_fault_is_21327_for_a_good_token(client, world):
    app, _, token = world
    faults.add_fault("expired_token", "*", app=app, times=1)
    body = assert_error(call(client, "GET", "account/get_uid", token), 21327)
    assert body["error"] == "expired_token"
    assert call(client, "GET", "account/get_uid", token).status_code == 200


def test_response_lost_writes_the_status_but_the_client_sees_a_failure(client, world):
    app, user, token = world
    faults.add_fault("response_lost", "statuses/share", app=app, delay_s=0, times=1)
    r = share(client, token, f"发出去了但不知道 {LINK}")
    assert r.status_code == 502
    assert Status.objects.filter(user=user, text__startswith="发出去了但不知道").count() == 1
    # The client reconciles by reading its timeline: the status is there.
    timeline = call(client, "GET", "statuses/user_timeline", token).json()["statuses"]
    assert timeline[0]["text"].startswith("发出去了但不知道")
    # Retrying the same text is refused as a repeat, as on Weibo.
    assert_error(share(client, token, f"发出去了但不知道 {LINK}"), 20019)


def test_response_lost_with_delay_times_out(client, world):
    app, user, token = world
    faults.add_fault("response_lost", "comments/create", app=app, delay_s=0.01, times=1)
    s = store.post_status(user, "原")
    r = call(client, "POST", "comments/create", token, id=s.pk, comment="评论已写入")
    assert r.status_code == 504
    s.refresh_from_db()
    assert s.comments_count == 1


def test_next_n_calls_then_normal(client, world):
    app, _, token = world
    fault = faults.add_fault("http_5xx", "account/get_uid", app=app, times=2)
    codes = [call(client, "GET", "account/get_uid", token).status_code for _ in range(4)]
    assert codes == [503, 503, 200, 200]
    fault.refresh_from_db()
    assert fault.remaining_calls == 0 and fault.hits == 2


def test_probability(client, world, monkeypatch):
    app, _, token = world
    monkeypatch.setattr(faults, "_rng", random.Random(42))
    faults.add_fault("http_5xx", "account/get_uid", app=app, probability=0.5)
    codes = [call(client, "GET", "account/get_uid", token).status_code for _ in range(40)]
    assert 5 <= codes.count(503) <= 35 and 5 <= codes.count(200) <= 35
    Fault.objects.all().delete()
    faults.add_fault("http_5xx", "account/get_uid", app=app, probability=0.0)
    assert all(call(client, "GET", "account/get_uid", token).status_code == 200 for _ in range(5))


def test_faults_are_per_app_and_per_endpoint(client, world):
    app, _, token = world
    _, _, other_token = make_app_and_user()
    faults.add_fault("http_5xx", "comments/*", app=app)
    assert call(client, "GET", "comments/to_me", token).status_code == 503
    assert call(client, "GET", "statuses/mentions", token).status_code == 200
    assert call(client, "GET", "comments/to_me", other_token).status_code == 200
    faults.add_fault("http_5xx", "statuses/mentions")  # every app
    assert call(client, "GET", "statuses/mentions", other_token).status_code == 503


def test_disabled_fault_does_not_fire(client, world):
    app, _, token = world
    fault = faults.add_fault("http_5xx", "*", app=app)
    faults.set_enabled(fault, False)
    assert call(client, "GET", "account/get_uid", token).status_code == 200


def test_oauth_endpoints_take_faults_too(client, world):
    app, _, token = world
    faults.add_fault("http_5xx", "oauth2/get_token_info", app=app, times=1)
    r = client.post("/sandbox/oauth2/get_token_info", {"access_token": token.token})
    assert r.status_code == 503
    r = client.post("/sandbox/oauth2/get_token_info", {"access_token": token.token})
    assert r.status_code == 200


def test_add_fault_validates():
    with pytest.raises(ValueError):
        faults.add_fault("meteor")
    with pytest.raises(ValueError):
        faults.add_fault("http_5xx", probability=2)
    with pytest.raises(ValueError):
        faults.add_fault("http_5xx", http_status=404)
    with pytest.raises(ValueError):
        faults.add_fault("timeout", times=0)


# --- the page and the command -------------------------------------------------------------------


@pytest.mark.parametrize("debug", [True, False])
def test_fault_page_is_the_server_operators_alone_in_every_mode(
    client, client_for, operator_client, settings, debug
):
    """With DEBUG on (the development default) anyone could set a 15 s timeout on every
    endpoint and stall the server; in production any tenant's admin or analyst could."""
    settings.DEBUG = debug
    stall = {"action": "add", "endpoint": "*", "kind": "timeout", "probability": "1",
             "delay_s": "15", "http_status": "503"}  # fmt: skip
    r = client.post("/sandbox/faults/", stall)
    assert r.status_code == 302 and "login" in r["Location"]
    for who in ("alice", "bob", "frank", "heidi", "mallory"):
        assert client_for(who).get("/sandbox/faults/").status_code == 403
        assert client_for(who).post("/sandbox/faults/", stall).status_code == 403
    assert Fault.objects.count() == 0
    page = operator_client.get("/sandbox/faults/")
    assert page.status_code == 200
    assert 'name="endpoint"' in page.content.decode()  # the form's fields are on the page


def test_operator_adds_toggles_and_removes_faults_on_the_page(operator_client, world):
    app, _, _ = world
    web = operator_client
    r = web.post(
        "/sandbox/faults/",
        {
            "action": "add",
            "app": app.pk,
            "endpoint": "statuses/share",
            "kind": "timeout",
            "probability": "1",
            "delay_s": "2",
            "http_status": "503",
            "times": "3",
        },
    )
    assert r.status_code == 302
    fault = Fault.objects.get()
    assert (fault.app, fault.kind, fault.remaining_calls, fault.delay_s) == (app, "timeout", 3, 2.0)
    page = web.get("/sandbox/faults/").content.decode()
    assert "statuses/share" in page
    web.post("/sandbox/faults/", {"action": "toggle", "fault": fault.pk})
    fault.refresh_from_db()
    assert fault.is_enabled is False
    web.post("/sandbox/faults/", {"action": "delete", "fault": fault.pk})
    assert Fault.objects.count() == 0


def test_page_shows_field_errors(operator_client):
    r = operator_client.post(
        "/sandbox/faults/",
        {
            "action": "add",
            "endpoint": "*",
            "kind": "http_5xx",
            "probability": "7",
            "delay_s": "1",
            "http_status": "503",
        },
    )
    assert r.status_code == 400
    assert Fault.objects.count() == 0


def test_a_fault_meets_only_calls_with_a_valid_token_of_its_app(world, client):
    """Injection comes after the token check: no token (or another app's) never meets it."""
    app, user, token = world
    other_app, _, other_token = make_app_and_user(screen_name="另一个应用的官微")
    faults.add_fault("http_5xx", "*", app=app, http_status=503)
    faults.add_fault("rate_limit", "*", app=None, error_code=10022)  # global: valid tokens only
    anonymous = client.get("/sandbox/2/statuses/mentions.json")
    assert anonymous.status_code != 503
    assert anonymous.json()["error_code"] in (10006, 21332, 21327)
    forged = call(client, "GET", "statuses/mentions", "2.00nope")
    assert forged.json()["error_code"] in (10006, 21332, 21327)
    assert_error(call(client, "GET", "statuses/mentions", token), 10002, 503)
    theirs = call(client, "GET", "statuses/mentions", other_token)
    assert theirs.json()["error_code"] == 10022  # only the global fault, never app A's


def test_command_line(world):
    app, _, _ = world
    out = StringIO()
    call_command(
        "sandbox_fault",
        "add",
        "http_5xx",
        "--endpoint",
        "statuses/share",
        "--app",
        app.app_key,
        "--times",
        "2",
        "--status",
        "502",
        stdout=out,
    )
    fault = Fault.objects.get()
    assert (fault.http_status, fault.remaining_calls, fault.app) == (502, 2, app)
    out = StringIO()
    call_command("sandbox_fault", "list", stdout=out)
    assert "statuses/share" in out.getvalue() and "left=2" in out.getvalue()
    call_command("sandbox_fault", "clear", stdout=StringIO())
    assert Fault.objects.count() == 0


# --- over real HTTP -----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_over_http_timeout_and_lost_response(live_server):
    app, user, token = make_app_and_user()
    base = f"{live_server.url}/sandbox/2"
    headers = {"Authorization": f"OAuth2 {token.token}"}
    faults.add_fault("timeout", "statuses/share", app=app, delay_s=0.6, times=1)
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            f"{base}/statuses/share.json",
            headers=headers,
            timeout=0.2,
            data={"status": f"超时的 {LINK}", "rip": "1.2.3.4"},
        )
    faults.add_fault("response_lost", "statuses/share", app=app, delay_s=0.6, times=1)
    hang_ends = time.monotonic() + 0.6
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            f"{base}/statuses/share.json",
            headers=headers,
            timeout=0.2,
            data={"status": f"丢失响应的 {LINK}", "rip": "1.2.3.4"},
        )
    for _ in range(100):  # the write may land a moment after the client gave up
        if Status.objects.filter(user=user).exists():
            break
        time.sleep(0.02)
    texts = list(Status.objects.filter(user=user).values_list("text", flat=True))
    assert texts == [f"丢失响应的 {LINK}"]
    r = httpx.get(f"{base}/statuses/user_timeline.json", headers=headers, timeout=5)
    assert r.json()["statuses"][0]["text"] == f"丢失响应的 {LINK}"
    # Let the server's hanging request threads finish before the live server's database
    # connection is taken back at teardown (else they fail closing it).
    time.sleep(max(0.0, hang_ends - time.monotonic() + 0.2))
