"""Two owners demoting each other at the same moment must not leave the enterprise ownerless."""

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
