"""The demo enterprise 示例乳业: one member per role, the sandbox connection and the matrix;
seeding twice changes nothing."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.models import User

from guanwei.core import clock
from guanwei.core.models import AuditEntry, Enterprise, Member, Role
from guanwei.matrix.models import Account, Connection, MatrixRole, PlatformKind
from guanwei.ops.seed import DEMO_PASSWORD, seed_demo
from guanwei.sandbox.world import ensure_demo_world

pytestmark = pytest.mark.django_db


def snapshot() -> dict[str, list[tuple]]:
    """Every row of every table guanwei and Django keep, as values (tokens decrypted)."""
    rows = {}
    for model in apps.get_models():
        if model._meta.proxy or not model._meta.managed:
            continue
        rows[model._meta.label] = list(model._base_manager.order_by("pk").values_list())
    return rows


def test_seeding_twice_changes_nothing() -> None:
    """With the sandbox's history (thousands of past posts, comments, DMs): the expensive one."""
    first = seed_demo()
    before = snapshot()
    second = seed_demo()
    after = snapshot()
    assert first.changed_anything and first.has_tokens and first.history
    assert not second.changed_anything
    assert {k: len(v) for k, v in after.items()} == {k: len(v) for k, v in before.items()}
    assert after == before


def test_demo_enterprise_has_one_member_per_role_who_can_sign_in() -> None:
    report = seed_demo(with_history=False)
    enterprise = Enterprise.objects.get(slug="demo")
    assert enterprise.name == "示例乳业"
    members = Member.objects.filter(enterprise=enterprise).select_related("user")
    assert sorted(m.role for m in members) == sorted(Role.values)
    assert len({m.user.username for m in members}) == len(Role.values)
    assert [u for u, _, _ in report.logins] == [
        *(m.user.username for m in members.order_by("pk")), "operator"
    ]
    operator = User.objects.get(username="operator")
    assert operator.is_superuser and not Member.objects.filter(user=operator).exists()
    owner = members.get(role=Role.OWNER)
    assert authenticate(username=owner.user.username, password=DEMO_PASSWORD) == owner.user


def test_demo_matrix_is_a_parent_with_five_children_on_the_local_sandbox() -> None:
    seed_demo(with_history=False)
    enterprise = Enterprise.objects.get(slug="demo")
    connection = Connection.objects.get(enterprise=enterprise)
    assert connection.kind == PlatformKind.SANDBOX
    assert connection.base_url == settings.BASE_URL + "/sandbox"
    parent = Account.objects.get(enterprise=enterprise, matrix_role=MatrixRole.PARENT)
    children = Account.objects.filter(parent=parent)
    assert {MatrixRole.PRODUCT, MatrixRole.CAMPAIGN, MatrixRole.SERVICE, MatrixRole.COMMUNITY,
            MatrixRole.ECOMMERCE} <= set(children.values_list("matrix_role", flat=True))
    assert Account.objects.filter(enterprise=enterprise).count() == children.count() + 1


def test_demo_accounts_hold_live_tokens_from_the_sandbox() -> None:
    report = seed_demo(with_history=False)
    assert report.has_tokens
    accounts = Account.objects.filter(enterprise__slug="demo")
    assert all(a.token and a.token_expires_at > clock.now() for a in accounts)
    world = ensure_demo_world(settings.BASE_URL)  # idempotent: the same app and tokens
    assert Connection.objects.get(enterprise__slug="demo").app_key == world.app_key
    assert {(a.platform_uid, a.token) for a in accounts} == {(w.uid, w.token) for w in world.accounts}


def test_seeding_is_audited_as_system() -> None:
    seed_demo(with_history=False)
    enterprise = Enterprise.objects.get(slug="demo")
    entries = AuditEntry.objects.filter(enterprise=enterprise)
    actions = list(entries.values_list("action", flat=True))
    assert actions.count("member.added") == len(Role.values)
    assert actions.count("account.connected") == Account.objects.filter(enterprise=enterprise).count()
    assert "connection.created" in actions and "enterprise.created" in actions
    assert set(entries.values_list("actor_label", flat=True)) == {"system"}
    assert not entries.filter(actor__isnull=False).exists()


def test_a_failing_sandbox_history_does_not_stop_the_demo(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import guanwei.sandbox.scenarios

    def broken(world):  # type: ignore[no-untyped-def]
        raise RuntimeError("seeding the sandbox history failed: disk full")

    monkeypatch.setattr(guanwei.sandbox.scenarios, "seed_demo_history", broken)
    report = seed_demo()
    assert report.has_tokens and not report.history
    assert any("disk full" in note for note in report.notes)
    assert Member.objects.filter(enterprise__slug="demo").count() == len(Role.values)
