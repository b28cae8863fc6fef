"""Chinese by default, English through the language switch; the English catalogues are complete."""

from pathlib import Path

import pytest
from django.test import Client

import guanwei

CATALOGUES = [
    Path(guanwei.__file__).parent / app / "locale/en/LC_MESSAGES/django.po" for app in ("core", "api")
]


@pytest.mark.parametrize("po", CATALOGUES, ids=lambda p: p.parts[-5])
def test_english_catalogue_translates_every_message(po):
    text = po.read_text(encoding="utf-8")
    entries = text.split("\n\n")[1:]  # the first block is the header
    untranslated = [e for e in entries if e.strip() and e.rstrip().endswith('msgstr ""')]
    assert not untranslated
    assert "#, fuzzy" not in text


def test_login_error_in_chinese_by_default_and_english_after_switching(personas):
    client = Client()
    zh = client.post("/login/", {"username": "carol", "password": "wrong"}).content.decode()
    assert "用户名或密码错误" in zh
    client.post("/i18n/setlang/", {"language": "en", "next": "/login/"})
    en = client.post("/login/", {"username": "carol", "password": "wrong"}).content.decode()
    assert "Wrong username or password" in en and "用户名或密码错误" not in en


def test_api_errors_follow_accept_language(personas, client_for):
    response = client_for("carol").get("/api/v1/members", HTTP_ACCEPT_LANGUAGE="en")
    assert response.json() == {"detail": "Permission denied"}
