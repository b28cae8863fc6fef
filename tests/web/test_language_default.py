"""Pages are Chinese until the member switches; the browser's language does not decide."""

import pytest
from django.conf import settings
from django.test import Client


@pytest.mark.django_db
def test_login_page_is_chinese_for_an_english_browser() -> None:
    page = Client().get("/login/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()
    assert 'lang="zh-Hans"' in page and "登录" in page


@pytest.mark.django_db
def test_switching_to_english_sticks() -> None:
    client = Client()
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/login/"})
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    assert 'lang="en"' in client.get("/login/").content.decode()


@pytest.mark.django_db
def test_api_still_follows_accept_language() -> None:
    response = Client().get("/api/v1/enterprise", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 401
    assert response["Content-Language"] == "en"
