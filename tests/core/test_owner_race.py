"""Races: two owners demoting each other, two people using one invitation link at once."""

import pytest
from django.db import connection

from guanwei.core.actions import ActionError, do_change_role
from guanwei.core.models import Member, Role
from tests.races import at_once


@pytest.mark.django_db(transaction=True)
def test_two_owners_demoting_each_other_at_once_leave_one_owner(personas):
    if connection.vendor != "postgresql":
        pytest.skip("needs real concurrent connections (the in-memory SQLite test DB shares one cache)")
    alice, bob = personas.alice, personas.bob
    do_change_role(alice, bob, Role.OWNER)
    bob.refresh_from_db()
    outcomes = at_once(lambda: do_change_role(alice, bob, Role.ADMIN), lambda: do_change_role(bob, alice, Role.ADMIN))
    assert sorted("refused" if isinstance(o, ActionError) else "demoted" for o in outcomes) == ["demoted", "refused"]
    assert Member.objects.filter(enterprise=personas.enterprise, role=Role.OWNER).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_people_racing_with_one_invitation_link_get_one_account(personas):
    if connection.vendor != "postgresql":
        pytest.skip("needs real concurrent connections (the in-memory SQLite test DB shares one cache)")
    from django.contrib.auth.models import User

    from guanwei.core.actions import do_accept_invitation, do_invite_member

    token = do_invite_member(personas.alice, "zoe@example.com", Role.EDITOR).token
    outcomes = at_once(*(lambda name=name: do_accept_invitation(token, name, name, "milk-and-honey-2026")
                         for name in ("zoe1", "zoe2")))  # fmt: skip
    assert sorted("refused" if isinstance(o, ActionError) else "joined" for o in outcomes) == ["joined", "refused"]
    assert User.objects.filter(username__in=["zoe1", "zoe2"]).count() == 1
