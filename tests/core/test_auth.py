"""Sign-in, sign-out, password change and failed-login throttling."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import User
from django.test import Client, override_settings
from django.urls import reverse

from guanwei.core import clock
from guanwei.core.models import AuditEntry
from tests.personas import PASSWORD

LOGIN = "/login/"
GENERIC_ERROR = "用户名或密码错误"


def post_login(client: Client, username: str, password: str, ip: str = "10.0.0.1", **extra: str):
    return client.post(
        LOGIN, {"username": username, "password": password}, REMOTE_ADDR=ip, **extra
    )


def test_member_signs_in_with_password_and_the_login_is_audited(personas):
    client = Client()
    response = post_login(client, "carol", PASSWORD)
    assert response.status_code == 302
    assert client.session.get("_auth_user_id") == str(personas.carol.user_id)
    entry = AuditEntry.objects.get(action="auth.login")
    assert entry.enterprise == personas.enterprise
    assert entry.actor == personas.carol
    assert entry.ip == "10.0.0.1"


def test_login_redirects_only_to_local_next(personas):
    ok = Client().post(LOGIN + "?next=/members/", {"username": "bob", "password": PASSWORD})
    assert ok["Location"] == "/members/"
    evil = Client().post(LOGIN + "?next=https://evil.example/", {"username": "bob", "password": PASSWORD})
    assert "evil" not in evil["Location"]


def test_wrong_password_and_unknown_user_get_the_same_generic_error(personas):
    wrong = post_login(Client(), "carol", "not-the-password")
    unknown = post_login(Client(), "nobody-here", "not-the-password")
    for response in (wrong, unknown):
        assert response.status_code == 200
        assert GENERIC_ERROR in response.content.decode()
    # Same page apart from the echoed username and the CSRF token: nothing tells who exists.
    def page(response, username):
        html = response.content.decode().replace(username, "X")
        return re.sub(r'(csrfmiddlewaretoken" value=|X-CSRFToken": )"[^"]+"', "", html)

    assert page(wrong, "carol") == page(unknown, "nobody-here")


def test_failed_login_is_audited_in_the_members_enterprise_only(personas):
    post_login(Client(), "carol", "wrong-password-1")
    post_login(Client(), "nobody-here", "wrong-password-1")
    entries = list(AuditEntry.objects.filter(action="auth.login_failed"))
    assert len(entries) == 1
    assert entries[0].enterprise == personas.enterprise
    assert entries[0].actor is None
    assert entries[0].actor_label == "carol"
    assert entries[0].detail == {"reason": "bad_credentials"}


@override_settings(LOGIN_FAILURE_LIMIT=3, LOGIN_FAILURE_WINDOW_S=600)
def test_after_the_limit_even_the_right_password_is_refused_until_the_window_passes(personas):
    with time_machine.travel(clock.now(), tick=False) as traveller:
        for _ in range(3):
            assert GENERIC_ERROR in post_login(Client(), "carol", "wrong").content.decode()
        blocked = post_login(Client(), "carol", PASSWORD)
        assert blocked.status_code == 429
        assert "尝试次数过多，请 10 分钟后再试" in blocked.content.decode()
        assert blocked["Retry-After"] == "600"

        traveller.shift(timedelta(seconds=5 * 60 + 1))
        still = post_login(Client(), "carol", PASSWORD)
        assert "尝试次数过多，请 5 分钟后再试" in still.content.decode()

        traveller.shift(timedelta(seconds=5 * 60))
        assert post_login(Client(), "carol", PASSWORD).status_code == 302


@override_settings(LOGIN_FAILURE_LIMIT=3, LOGIN_FAILURE_ADDRESS_LIMIT=5, LOGIN_FAILURE_WINDOW_S=600)
def test_one_address_guessing_many_usernames_is_throttled_at_a_much_higher_limit(personas):
    for name in ("carol", "dave", "erin", "grace", "heidi"):
        post_login(Client(), name, "wrong", ip="10.9.9.9")
    # A sixth username from the same address: refused without checking the password.
    assert post_login(Client(), "frank", PASSWORD, ip="10.9.9.9").status_code == 429
    # The same user from another address is fine.
    assert post_login(Client(), "frank", PASSWORD, ip="10.1.1.1").status_code == 302


@override_settings(LOGIN_FAILURE_LIMIT=5, LOGIN_FAILURE_USER_LIMIT=20, LOGIN_FAILURE_WINDOW_S=900)
def test_thirty_wrong_passwords_for_one_username_do_not_lock_out_the_office(personas):
    """Behind a reverse proxy every colleague has one address: one person hammering one
    username must lock out that username from that address, not everyone there."""
    for _ in range(30):
        post_login(Client(), "carol", "wrong", ip="10.7.7.7")
    assert post_login(Client(), "carol", PASSWORD, ip="10.7.7.7").status_code == 429
    for colleague in ("dave", "erin", "frank"):
        assert post_login(Client(), colleague, PASSWORD, ip="10.7.7.7").status_code == 302


@override_settings(LOGIN_FAILURE_LIMIT=5, LOGIN_FAILURE_USER_LIMIT=20, LOGIN_FAILURE_WINDOW_S=900)
def test_thirty_wrong_passwords_write_one_audit_entry_per_burst(personas):
    for _ in range(30):
        post_login(Client(), "carol", "wrong", ip="10.7.7.7")
    reasons = [
        e.detail["reason"] for e in AuditEntry.objects.filter(action="auth.login_failed")
    ]
    assert reasons.count("bad_credentials") == 5  # up to the limit, each failure is recorded
    assert reasons.count("throttled") == 1  # then one entry for the whole burst


@override_settings(LOGIN_FAILURE_LIMIT=3, LOGIN_FAILURE_USER_LIMIT=3, LOGIN_FAILURE_WINDOW_S=600)
def test_throttling_a_username_works_across_addresses(personas):
    for i in range(3):
        post_login(Client(), "carol", "wrong", ip=f"10.0.0.{i + 10}")
    assert post_login(Client(), "carol", PASSWORD, ip="10.0.0.99").status_code == 429


@override_settings(LOGIN_FAILURE_LIMIT=3, LOGIN_FAILURE_WINDOW_S=600, TRUSTED_PROXY_COUNT=0)
def test_x_forwarded_for_is_ignored_without_trusted_proxies(personas):
    for i in range(3):
        post_login(Client(), "carol", "wrong", ip="10.0.0.1", HTTP_X_FORWARDED_FOR=f"203.0.113.{i}")
    # Changing the header does not change who we think it is.
    blocked = post_login(Client(), "carol", PASSWORD, ip="10.0.0.1", HTTP_X_FORWARDED_FOR="1.2.3.4")
    assert blocked.status_code == 429


@override_settings(LOGIN_FAILURE_LIMIT=3, LOGIN_FAILURE_WINDOW_S=600, TRUSTED_PROXY_COUNT=1)
def test_behind_one_trusted_proxy_the_client_is_the_address_it_appended(personas):
    proxy = "10.0.0.1"
    for _ in range(3):  # a client that forges its own header still gets its real address
        post_login(Client(), "carol", "wrong", ip=proxy, HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.7")
    assert post_login(
        Client(), "carol", PASSWORD, ip=proxy, HTTP_X_FORWARDED_FOR="198.51.100.7"
    ).status_code == 429
    # Another client behind the same proxy is another address.
    assert post_login(
        Client(), "carol", PASSWORD, ip=proxy, HTTP_X_FORWARDED_FOR="198.51.100.8"
    ).status_code == 302
    entry = AuditEntry.objects.filter(action="auth.login").latest("id")
    assert entry.ip == "198.51.100.8"


@override_settings(LOGIN_FAILURE_LIMIT=3, LOGIN_FAILURE_WINDOW_S=600)
def test_successful_login_resets_the_username_count(personas):
    post_login(Client(), "carol", "wrong", ip="10.0.0.1")
    post_login(Client(), "carol", "wrong", ip="10.0.0.1")
    assert post_login(Client(), "carol", PASSWORD, ip="10.0.0.1").status_code == 302
    post_login(Client(), "carol", "wrong", ip="10.0.0.1")
    post_login(Client(), "carol", "wrong", ip="10.0.0.1")
    assert post_login(Client(), "carol", PASSWORD, ip="10.0.0.1").status_code == 302


def test_deactivated_member_cannot_sign_in_and_loses_their_session(personas, client_for):
    client = client_for("carol")
    assert client.get("/settings/password/").status_code == 200
    from guanwei.core.actions import do_deactivate_member

    do_deactivate_member(personas.alice, personas.carol)
    assert client.get("/settings/password/").status_code == 302  # session no longer valid
    response = post_login(Client(), "carol", PASSWORD)
    assert GENERIC_ERROR in response.content.decode()


def test_logout_is_post_only(personas, client_for):
    client = client_for("carol")
    assert client.get("/logout/").status_code == 405
    assert client.post("/logout/")["Location"] == reverse("core:login")
    assert "_auth_user_id" not in client.session


def test_password_change_checks_the_old_password_and_validates_the_new(personas, client_for):
    client = client_for("carol")
    url = "/settings/password/"
    wrong = client.post(url, {"old_password": "nope", "new_password1": "x", "new_password2": "x"})
    assert "当前密码不正确" in wrong.content.decode()
    short = client.post(url, {"old_password": PASSWORD, "new_password1": "abc", "new_password2": "abc"})
    assert "新密码" in short.content.decode() and short.status_code == 200
    mismatch = client.post(
        url, {"old_password": PASSWORD, "new_password1": "a-long-new-pass-42", "new_password2": "other"}
    )
    assert "两次输入的新密码不一致" in mismatch.content.decode()
    ok = client.post(
        url,
        {"old_password": PASSWORD, "new_password1": "a-long-new-pass-42", "new_password2": "a-long-new-pass-42"},
    )
    assert ok.status_code == 302
    assert client.get(url).status_code == 200  # still signed in after the change
    assert User.objects.get(username="carol").check_password("a-long-new-pass-42")
    assert AuditEntry.objects.filter(action="auth.password_changed", actor=personas.carol).exists()


@pytest.mark.parametrize("path", ["/settings/password/", "/settings/tokens/", "/members/", "/audit/"])
def test_pages_send_anonymous_visitors_to_login(db, path):
    response = Client().get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")


def test_reactivating_a_member_revives_neither_their_old_session_nor_their_tokens(personas, client_for):
    from guanwei.core.actions import (
        authenticate_token,
        do_create_api_token,
        do_deactivate_member,
        do_reactivate_member,
    )

    old_session = client_for("carol")
    token = do_create_api_token(personas.carol, "script").token
    assert old_session.get("/settings/password/").status_code == 200
    do_deactivate_member(personas.alice, personas.carol)
    do_reactivate_member(personas.alice, personas.carol)
    assert old_session.get("/settings/password/").status_code == 302  # to sign in again
    assert authenticate_token(token) is None
    assert Client().get("/api/v1/members", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 401
    fresh = Client()
    assert post_login(fresh, "carol", PASSWORD).status_code == 302  # signing in again works


def test_password_rules_speak_the_pages_language(personas, client_for):
    from django.conf import settings as django_settings

    form = {"old_password": PASSWORD, "new_password1": "abc", "new_password2": "abc"}
    zh = client_for("carol").post("/settings/password/", form).content.decode()
    assert "密码太短，至少需要 10 个字符" in zh and "too short" not in zh
    english = client_for("carol")
    english.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "en"
    en = english.post("/settings/password/", form).content.decode()
    assert "at least 10 characters" in en and "密码太短" not in en


def test_the_operator_signs_in_on_the_same_page_and_lands_on_the_status_page(db):
    from django.contrib.auth.models import User

    User.objects.create_superuser("olga", "olga@example.com", PASSWORD)
    response = post_login(Client(), "olga", PASSWORD)
    assert response.status_code == 302 and response["Location"] == "/ops/status"
    plain = User.objects.create_user("nobody", "n@example.com", PASSWORD)  # neither member nor operator
    assert post_login(Client(), plain.username, PASSWORD).status_code == 200  # refused, generic error
