"""The members page: list and filter, invitations (one-time, expiring), roles, deactivation."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import User
from django.test import Client

from guanwei.core import clock
from guanwei.core.actions import ActionError, do_change_role, do_deactivate_member, do_invite_member
from guanwei.core.models import AuditEntry, Invitation, Member, Role
from tests.personas import PASSWORD

NEW_PASSWORD = "milk-and-honey-2026"


def invite(client: Client, email: str = "zoe@example.com", role: str = Role.EDITOR) -> str:
    response = client.post("/members/invite/", {"email": email, "role": role})
    assert response.status_code == 200, response.content.decode()[:500]
    match = re.search(r'value="(http://127.0.0.1:8000/invite/[^"]+/)"', response.content.decode())
    assert match, "the invitation page shows the link"
    return match.group(1).removeprefix("http://testserver")


def accept(path: str, username: str = "zoe", client: Client | None = None):
    return (client or Client()).post(
        path,
        {"username": username, "display_name": "Zoe 新人", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )


@pytest.mark.parametrize(
    ("who", "status"),
    [("alice", 200), ("bob", 200), ("carol", 403), ("dave", 403), ("erin", 403), ("frank", 403),
     ("grace", 403), ("heidi", 403), ("ivan", 403)],
)
def test_only_owners_and_admins_see_the_members_page(personas, client_for, who, status):
    assert client_for(who).get("/members/").status_code == status


def test_members_page_lists_own_enterprise_and_filters_in_the_database(personas, client_for):
    client = client_for("bob")
    html = client.get("/members/").content.decode()
    assert "Carol 编辑" in html and "Mallory" not in html
    editors = client.get("/members/?role=editor").content.decode()
    assert "Carol 编辑" in editors and "Ivan 受限编辑" in editors and "Dave 审核" not in editors
    do_deactivate_member(personas.alice, personas.dave)
    inactive = client.get("/members/?active=0").content.decode()
    assert "Dave 审核" in inactive and "Carol 编辑" not in inactive
    # Search by display name or username (case-insensitive), combined with the other filters.
    found = client.get("/members/?q=CAROL").content.decode()
    assert "Carol 编辑" in found and "Ivan 受限编辑" not in found
    assert "Heidi 管理层" in client.get("/members/?q=heidi&role=viewer").content.decode()
    assert "没有符合条件的成员" in client.get("/members/?q=heidi&role=editor").content.decode()


def test_members_page_pages_by_name_keeping_the_filters(personas, client_for):
    import re

    from tests.personas import make_members

    make_members(personas.enterprise, [(f"extra{i:02d}", Role.VIEWER, f"Extra {i:02d}") for i in range(60)])
    client = client_for("alice")
    first = client.get("/members/?role=viewer").content.decode()
    assert "Extra 00" in first and "Extra 49" in first and "Extra 50" not in first  # 50 a page
    (link,) = re.findall(r'href="\?([^"]*before=[^"]+)"', first)
    assert "role=viewer" in link
    second = client.get("/members/?" + link.replace("&amp;", "&")).content.decode()
    assert "Extra 50" in second and "Extra 59" in second and "Heidi 管理层" in second
    assert "Extra 49" not in second and "下一页" not in second and "上一页" in second


def test_invitation_link_is_shown_once_stored_as_hash_and_joins_with_the_role(personas, client_for):
    path = invite(client_for("bob"), role=Role.REVIEWER)
    token = path.split("/")[2]
    invitation = Invitation.objects.get()
    assert token not in invitation.token_hash and len(invitation.token_hash) == 64
    assert token not in client_for("bob").get("/members/").content.decode()

    page = Client().get(path)
    assert page.status_code == 200 and "示例乳业" in page.content.decode()
    client = Client()
    response = accept(path, client=client)
    assert response.status_code == 302
    zoe = Member.objects.get(user__username="zoe")
    assert (zoe.enterprise, zoe.role, zoe.display_name) == (personas.enterprise, Role.REVIEWER, "Zoe 新人")
    assert client.session["_auth_user_id"] == str(zoe.user_id)
    assert list(
        AuditEntry.objects.filter(enterprise=personas.enterprise, action__startswith="member.")
        .order_by("id").values_list("action", flat=True)
    ) == ["member.invited", "member.joined"]


def test_invitation_cannot_be_used_twice(personas, client_for):
    path = invite(client_for("alice"))
    assert accept(path).status_code == 302
    again = accept(path, username="zoe2")
    assert again.status_code == 410
    assert "该邀请链接已被使用" in again.content.decode()
    assert not User.objects.filter(username="zoe2").exists()


def test_expired_invitation_is_refused_with_a_clear_error(personas, client_for, settings):
    path = invite(client_for("alice"))
    with time_machine.travel(clock.now() + timedelta(seconds=settings.INVITATION_TTL_S + 1)):
        page = Client().get(path)
        assert page.status_code == 410
        assert "该邀请链接已过期" in page.content.decode()
        assert accept(path).status_code == 410
    assert not User.objects.filter(username="zoe").exists()


def test_unknown_and_revoked_invitations(personas, client_for):
    assert Client().get("/invite/inv_not-a-real-token/").status_code == 404
    path = invite(client_for("alice"))
    invitation = Invitation.objects.get()
    client_for("bob").post(f"/members/invitations/{invitation.pk}/revoke/")
    response = Client().get(path)
    assert response.status_code == 410 and "该邀请已被撤销" in response.content.decode()


def test_accepting_with_a_taken_username_or_weak_password_names_the_field(personas, client_for):
    path = invite(client_for("alice"))
    taken = accept(path, username="carol")
    assert taken.status_code == 200 and "该用户名已被占用" in taken.content.decode()
    weak = Client().post(path, {"username": "zoe", "display_name": "Z", "password1": "123", "password2": "123"})
    assert "密码" in weak.content.decode() and weak.status_code == 200
    # Nothing half-written: the link still works after the failed attempts.
    assert Invitation.objects.get().accepted_at is None
    assert accept(path).status_code == 302


def test_invite_form_errors_name_the_field(personas, client_for):
    response = client_for("bob").post("/members/invite/", {"email": "not-an-email", "role": "editor"})
    assert response.status_code == 422
    assert "邮箱：" in response.content.decode()


def test_admin_cannot_invite_an_owner_but_an_owner_can(personas, client_for):
    response = client_for("bob").post("/members/invite/", {"email": "o@example.com", "role": "owner"})
    assert response.status_code == 422 and "只有所有者可以授予所有者角色" in response.content.decode()
    assert not Invitation.objects.exists()
    invite(client_for("alice"), role=Role.OWNER)


def test_admin_changes_a_role_and_it_is_audited(personas, client_for):
    response = client_for("bob").post(f"/members/{personas.carol.pk}/role/", {"role": "reviewer"})
    assert response.status_code == 302
    personas.carol.refresh_from_db()
    assert personas.carol.role == Role.REVIEWER
    entry = AuditEntry.objects.get(action="member.role_changed")
    assert entry.actor == personas.bob and entry.detail == {"from": "editor", "to": "reviewer"}


def test_an_unknown_role_is_refused_with_a_message_and_changes_nothing(personas, client_for):
    client = client_for("bob")
    response = client.post(f"/members/{personas.carol.pk}/role/", {"role": "emperor"})
    assert response.status_code == 302
    personas.carol.refresh_from_db()
    assert personas.carol.role == Role.EDITOR
    assert not AuditEntry.objects.filter(action="member.role_changed").exists()
    assert "角色：" in client.get("/members/").content.decode()


def test_admin_cannot_demote_or_deactivate_an_owner(personas, client_for):
    client = client_for("bob")
    client.post(f"/members/{personas.alice.pk}/role/", {"role": "viewer"})
    client.post(f"/members/{personas.alice.pk}/deactivate/")
    personas.alice.refresh_from_db()
    assert (personas.alice.role, personas.alice.is_active) == (Role.OWNER, True)
    assert not AuditEntry.objects.filter(action__in=["member.role_changed", "member.deactivated"]).exists()
    page = client.get("/members/").content.decode()
    assert "管理员不能更改所有者" in page


def test_the_last_owner_cannot_be_demoted_or_deactivated(personas):
    alice, bob = personas.alice, personas.bob
    with pytest.raises(ActionError, match="最后一位所有者"):
        do_change_role(alice, alice, Role.ADMIN)
    do_change_role(alice, bob, Role.OWNER)
    bob.refresh_from_db()
    do_deactivate_member(bob, alice)  # two owners: one may go
    alice.refresh_from_db()
    assert not alice.is_active
    # An inactive owner does not count: bob is the last active one.
    with pytest.raises(ActionError, match="最后一位所有者"):
        do_change_role(bob, bob, Role.ADMIN)
    assert Member.objects.get(pk=bob.pk).role == Role.OWNER


def test_nobody_deactivates_themselves(personas):
    with pytest.raises(ActionError, match="不能停用自己"):
        do_deactivate_member(personas.bob, personas.bob)


def test_deactivate_and_reactivate(personas, client_for):
    client = client_for("bob")
    client.post(f"/members/{personas.carol.pk}/deactivate/")
    assert not Member.objects.get(pk=personas.carol.pk).is_active
    assert not User.objects.get(pk=personas.carol.user_id).is_active
    assert Client().post("/login/", {"username": "carol", "password": PASSWORD}).status_code == 200
    client.post(f"/members/{personas.carol.pk}/reactivate/")
    assert Member.objects.get(pk=personas.carol.pk).is_active
    assert Client().post("/login/", {"username": "carol", "password": PASSWORD}).status_code == 302
    assert [e.action for e in AuditEntry.objects.order_by("id") if e.action.startswith("member.")] == [
        "member.deactivated", "member.reactivated",
    ]


@pytest.mark.parametrize("who", ["carol", "heidi", "erin"])
def test_members_without_the_right_cannot_change_anyone(personas, client_for, who):
    client = client_for(who)
    assert client.post(f"/members/{personas.dave.pk}/role/", {"role": "admin"}).status_code == 403
    assert client.post(f"/members/{personas.dave.pk}/deactivate/").status_code == 403
    assert client.post("/members/invite/", {"email": "x@example.com", "role": "admin"}).status_code == 403
    assert Member.objects.get(pk=personas.dave.pk).role == Role.REVIEWER


def test_invitation_action_requires_the_right(personas):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        do_invite_member(personas.carol, "x@example.com", Role.EDITOR)


def test_members_page_query_count_does_not_grow_with_members(personas, client_for, django_assert_max_num_queries):
    from tests.personas import make_members

    client = client_for("alice")
    client.get("/members/")  # warm up (session, translations)
    make_members(personas.enterprise, [(f"extra{i}", Role.VIEWER, f"Extra {i}") for i in range(30)])
    with django_assert_max_num_queries(10):
        html = client.get("/members/").content.decode()
    assert "Extra 29" in html


def test_the_same_email_cannot_be_invited_twice_while_pending(personas, client_for):
    alice = client_for("alice")
    invite(alice, "twice@example.com")
    again = alice.post("/members/invite/", {"email": "TWICE@example.com", "role": Role.EDITOR})
    assert again.status_code == 422
    assert "email" in again.context["form"].errors
    assert Invitation.objects.filter(email__iexact="twice@example.com").count() == 1
    member_email = alice.post("/members/invite/", {"email": "carol@example.com", "role": Role.EDITOR})
    assert "email" in member_email.context["form"].errors  # carol is already a member


def test_an_over_long_email_is_refused_naming_the_field(personas, client_for):
    long = "a" * 300 + "@example.com"
    response = client_for("alice").post("/members/invite/", {"email": long, "role": Role.EDITOR})
    assert response.status_code == 422 and "email" in response.context["form"].errors
    assert not Invitation.objects.filter(email=long).exists()
