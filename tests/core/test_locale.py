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


def test_no_source_string_means_two_things_across_the_catalogues():
    """Django merges every app's catalogue and the first app wins: a msgid translated two ways
    (成员 "Members"/"Member", 启用 "Active"/"Enable") shows the wrong one somewhere. Such
    strings get a pgettext context instead."""
    import re
    from collections import defaultdict

    seen: dict[str, set[str]] = defaultdict(set)
    for po in (Path(guanwei.__file__).parent).glob("*/locale/en/LC_MESSAGES/django.po"):
        for block in po.read_text(encoding="utf-8").split("\n\n"):
            if "msgctxt" in block or "msgid_plural" in block:
                continue
            m = re.search(r'^msgid "(.+)"\nmsgstr "(.*)"', block, re.M)
            if m:
                seen[m.group(1)].add(m.group(2).lower())
    clashes = {k: v for k, v in seen.items() if len(v) > 1}
    assert not clashes


def test_the_audit_log_names_a_member_object_in_the_singular():
    from django.utils import translation

    from guanwei.core.audit import object_type_label

    with translation.override("en"):
        assert object_type_label("core.member") == "Member"
