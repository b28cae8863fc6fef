"""What a newcomer tripped over (issue 11 §10): raw codes on the account page, an ambiguous time
zone, 403s printing tracebacks twice."""

from __future__ import annotations

import io
import logging

import pytest
from django.conf import settings

from guanwei.core.logredact import RedactSecrets
from guanwei.matrix.models import Account

pytestmark = pytest.mark.django_db


def test_the_account_page_names_the_verification_and_the_zone(personas, client_for) -> None:  # type: ignore[no-untyped-def]
    from guanwei.core import clock

    Account.objects.filter(pk=personas.parent_account.pk).update(
        verified_type=2, token_expires_at=clock.now()
    )
    url = f"/matrix/accounts/{personas.parent_account.pk}/"
    zh = client_for("alice").get(url).content.decode()
    assert "企业（蓝 V）" in zh and "认证类型 2" not in zh
    assert "北京时间" in zh and " CST" not in zh
    english = client_for("alice")
    english.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    en = english.get(url).content.decode()
    assert "Enterprise (blue V)" in en and "Beijing time" in en


def test_a_403_is_one_line_in_the_log(personas, client_for) -> None:  # type: ignore[no-untyped-def]
    handler = next(
        h for h in logging.getLogger().handlers if any(isinstance(f, RedactSecrets) for f in h.filters)
    )
    out = io.StringIO()
    old = handler.setStream(out)
    try:
        assert client_for("heidi").get("/members/").status_code == 403
    finally:
        handler.setStream(old)
    lines = [line for line in out.getvalue().splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert "Forbidden" in lines[0] and "/members/" in lines[0]
    assert f"user={personas.heidi.user_id}" in lines[0]
    assert "Traceback" not in out.getvalue()


def test_english_pages_do_not_join_words_with_chinese_punctuation(personas, client_for) -> None:  # type: ignore[no-untyped-def]
    from guanwei.monitoring import actions
    from tests.monitoring.test_monitors import _consume, _mentions

    monitor = actions.do_create_monitor(personas.frank, name="Brand", group="brand", rule="示例乳业")
    _mentions(personas, ["示例乳业新品好喝"])  # a top post on the dashboard: name (followers): text
    _consume()
    pages = [("frank", f"/monitoring/{monitor.pk}/"), ("frank", f"/monitoring/{monitor.pk}/alert-rule"),
             ("carol", "/publishing/import/")]  # fmt: skip
    for username, url in pages:
        zh = client_for(username).get(url)
        english = client_for(username)
        english.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
        en = english.get(url)
        assert zh.status_code == en.status_code == 200, url
        assert "：" in zh.content.decode(), url
        assert "：" not in en.content.decode().replace("示例乳业新品好喝", ""), url
