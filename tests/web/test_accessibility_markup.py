"""Accessibility in the markup, checked without a browser: what a screen reader, a password manager
and a keyboard get from the HTML (the axe-core walk in tests/browser/test_accessibility.py checks
the rendered pages)."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.test import Client

from guanwei.core.actions import do_invite_member
from guanwei.core.models import Role
from tests.personas import Personas

pytestmark = pytest.mark.django_db

class Elements(HTMLParser):
    """Start tags with their attributes, and which tags each one sits inside."""

    VOID = {"input", "br", "img", "meta", "link", "hr", "source", "col", "wbr", "area", "base"}

    def __init__(self, html: str) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str], tuple[str, ...]]] = []
        self._open: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, {k: v or "" for k, v in attrs}, tuple(self._open)))
        if tag not in self.VOID:
            self._open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self._open:
            while self._open.pop() != tag:
                pass

    def by_id(self, element_id: str) -> dict[str, str]:
        (attrs,) = [a for _, a, _ in self.found if a.get("id") == element_id]
        return attrs


def _autocomplete(html: str, field: str) -> str:
    return Elements(html).by_id(f"id_{field}").get("autocomplete", "")


def test_sign_in_fields_say_what_to_autofill() -> None:
    html = Client().get("/login/").content.decode()
    assert _autocomplete(html, "username") == "username"
    assert _autocomplete(html, "password") == "current-password"


def test_password_change_asks_for_the_current_and_a_new_password(personas: Personas, client_for) -> None:  # type: ignore[no-untyped-def]
    html = client_for("carol").get("/settings/password/").content.decode()
    assert _autocomplete(html, "old_password") == "current-password"
    assert _autocomplete(html, "new_password1") == "new-password"
    assert _autocomplete(html, "new_password2") == "new-password"


def test_joining_through_an_invitation_creates_a_new_password(personas: Personas) -> None:
    issued = do_invite_member(personas.alice, "zoe@example.com", Role.EDITOR)
    html = Client().get(f"/invite/{issued.token}/").content.decode()
    assert _autocomplete(html, "username") == "username"
    assert _autocomplete(html, "password1") == "new-password"
    assert _autocomplete(html, "password2") == "new-password"


def _labels(html: str, tag: str) -> list[str]:
    return [a.get("aria-label", "") for t, a, parents in Elements(html).found
            if t == tag and "form" in parents and "tbody" in parents]


def test_each_member_rows_controls_name_the_member(personas: Personas, client_for) -> None:  # type: ignore[no-untyped-def]
    html = client_for("alice").get("/members/").content.decode()
    selects, buttons = _labels(html, "select"), _labels(html, "button")
    assert "Carol 编辑 的角色" in selects
    assert "更改 Carol 编辑 的角色" in buttons
    assert "停用 Carol 编辑" in buttons
    # every control in the table is told apart from its neighbours by its name
    assert len(set(selects)) == len(selects) and len(set(buttons)) == len(buttons)


def test_member_row_names_are_translated(personas: Personas, client_for) -> None:  # type: ignore[no-untyped-def]
    client = client_for("alice")
    client.post("/i18n/setlang/", {"language": "en", "next": "/members/"})
    buttons = _labels(client.get("/members/").content.decode(), "button")
    assert "Change the role of Carol 编辑" in buttons
    assert "Deactivate Carol 编辑" in buttons


def test_a_name_with_quotes_cannot_break_out_of_the_label(personas: Personas, client_for) -> None:  # type: ignore[no-untyped-def]
    personas.carol.display_name = 'Carol" onmouseover="x'
    personas.carol.save(update_fields=["display_name"])
    html = client_for("alice").get("/members/").content.decode()
    assert 'onmouseover="x' not in html
    assert 'Carol" onmouseover="x 的角色' in _labels(html, "select")


def test_a_flash_message_is_shown_once(personas: Personas, client_for) -> None:  # type: ignore[no-untyped-def]
    client = client_for("alice")
    response = client.post(f"/members/{personas.heidi.pk}/deactivate/", follow=True)
    html = response.content.decode()
    assert html.count("已停用 Heidi 管理层") == 1


@pytest.mark.parametrize("url", ["/members/", "/settings/tokens/", "/settings/password/"])
def test_pages_do_not_print_the_messages_themselves(personas: Personas, client_for, url: str) -> None:  # type: ignore[no-untyped-def]
    client = client_for("alice")
    client.post(f"/members/{personas.heidi.pk}/deactivate/")  # leaves one message
    html = client.get(url).content.decode()
    assert html.count("已停用 Heidi 管理层") == 1


def test_matrix_tree_summary_holds_no_link_or_control(personas: Personas, client_for) -> None:  # type: ignore[no-untyped-def]
    html = client_for("alice").get("/matrix/").content.decode()
    found = Elements(html).found
    assert any(t == "summary" and "ul" in parents for t, _, parents in found)  # the fold is there
    inside = [t for t, _, parents in found if "summary" in parents]
    assert not {"a", "button", "input", "select", "details"} & set(inside), inside
    assert "5 个下属账号" in html


def test_no_inline_scripts_or_handlers_in_guanwei_pages(personas: Personas, client_for) -> None:  # type: ignore[no-untyped-def]
    """A Content-Security-Policy without 'unsafe-inline' must not break a page: our behaviour lives
    in static/web/guanwei.js."""
    client = client_for("alice")
    issued = client.post("/settings/tokens/new/", {"name": "ci"}, follow=True)
    invited = client.post("/members/invite/", {"email": "zoe@example.com", "role": Role.EDITOR})
    for html in (issued.content.decode(), invited.content.decode(),
                 client.get("/").content.decode(), client.get("/members/").content.decode()):
        for tag, attrs, _ in Elements(html).found:
            assert not [k for k in attrs if k.startswith("on")], (tag, attrs)
            if tag == "script":
                assert attrs.get("src"), "inline <script>"

