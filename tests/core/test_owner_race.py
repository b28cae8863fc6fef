"""Races: two owners demoting each other, two people using one invitation link at once."""

import threading

import pytest
from django.db import connection, connections

from guanwei.core.actions import ActionError, do_change_role
from guanwei.core.models import Member, Role


@pytest.mark.django_db(transaction=True)
def test_two_owners_demoting_each_other_at_once_leave_one_owner(personas):
    if connection.vendor != "postgresql":
        pytest.skip("needs real concurrent connections (the in-memory SQLite test DB shares one cache)")
    alice, bob = personas.alice, personas.bob
    do_change_role(alice, bob, Role.OWNER)
    bob.refresh_from_db()
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def demote(actor: Member, target: Member) -> None:
        try:
            barrier.wait()
            do_change_role(actor, target, Role.ADMIN)
            outcomes.append("demoted")
        except ActionError:
            outcomes.append("refused")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=demote, args=pair) for pair in ((alice, bob), (bob, alice))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["demoted", "refused"]
    assert Member.objects.filter(enterprise=personas.enterprise, role=Role.OWNER).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_people_racing_with_one_invitation_link_get_one_account(personas):
    if connection.vendor != "postgresql":
        pytest.skip("needs real concurrent connections (the in-memory SQLite test DB shares one cache)")
    from django.contrib.auth.models import User

    from guanwei.core.actions import do_accept_invitation, do_invite_member

    token = do_invite_member(personas.alice, "zoe@example.com", Role.EDITOR).token
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def accept(username: str) -> None:
        try:
            barrier.wait()
            do_accept_invitation(token, username, username, "milk-and-honey-2026")
            outcomes.append("joined")
        except ActionError:
            outcomes.append("refused")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=accept, args=(name,)) for name in ("zoe1", "zoe2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["joined", "refused"]
    assert User.objects.filter(username__in=["zoe1", "zoe2"]).count() == 1
