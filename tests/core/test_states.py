"""The state-machine helper (core.states): legal moves only, one winner of a race, the event row
and the audit entry with the change or not at all."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections, transaction

from guanwei.core.models import AuditEntry, StateEvent
from guanwei.core.states import IllegalTransition, StateMachine, transition
from guanwei.matrix.models import Account, Health


def test_an_illegal_move_is_refused_naming_the_states(personas, monkeypatch):
    account = personas.accounts["service"]
    strict = StateMachine("health", {"ok": {"rate_limited"}}, audit_action="account.health_changed")
    monkeypatch.setattr(Account, "state_machines", {"health": strict})
    with pytest.raises(IllegalTransition) as exc:
        transition(account, Health.UNREACHABLE, field="health")
    assert exc.value.field == "health" and "“正常”" in exc.value.message and "“无法连接”" in exc.value.message
    assert Account.objects.get(pk=account.pk).health == Health.OK
    assert not StateEvent.objects.exists()


def test_a_field_without_a_machine_is_a_programming_error(personas):
    with pytest.raises(ValueError, match="no state machine"):
        transition(personas.accounts["service"], "x", field="screen_name")


def test_a_move_from_a_state_the_row_has_left_changes_nothing(personas):
    account = personas.accounts["service"]
    Account.objects.filter(pk=account.pk).update(health=Health.RATE_LIMITED)
    assert transition(account, Health.UNREACHABLE, field="health") is False  # it saw "ok"
    assert Account.objects.get(pk=account.pk).health == Health.RATE_LIMITED
    assert not StateEvent.objects.exists()
    assert not AuditEntry.objects.filter(action="account.health_changed").exists()


def test_the_change_event_audit_and_callers_writes_commit_or_roll_back_together(personas):
    account = personas.accounts["service"]

    def fail(_from: str) -> None:
        raise RuntimeError("the caller's own write failed")

    with pytest.raises(RuntimeError):
        transition(account, Health.UNREACHABLE, field="health", actor=personas.alice, after=fail)
    assert Account.objects.get(pk=account.pk).health == Health.OK
    assert not StateEvent.objects.exists()
    assert not AuditEntry.objects.filter(action="account.health_changed").exists()

    account.refresh_from_db()
    assert transition(account, Health.UNREACHABLE, field="health", actor=personas.alice, reason="502")
    event = StateEvent.objects.get()
    assert (event.from_state, event.to_state, event.actor, event.reason) == ("ok", "unreachable", personas.alice, "502")
    entry = AuditEntry.objects.get(action="account.health_changed")
    assert entry.actor == personas.alice and entry.detail["reason"] == "502"


@pytest.mark.django_db(transaction=True)
def test_two_threads_racing_on_one_row_make_one_change(personas):
    if connection.vendor != "postgresql":
        pytest.skip("needs real concurrent connections (the in-memory SQLite test DB shares one cache)")
    account_id = personas.accounts["service"].pk
    for round_ in range(5):
        Account.objects.filter(pk=account_id).update(health=Health.OK)
        barrier = threading.Barrier(2)
        outcomes: list[bool] = []

        def move(to: str, barrier=barrier, outcomes=outcomes) -> None:  # type: ignore[no-untyped-def]
            try:
                mine = Account.objects.get(pk=account_id)  # each its own copy, both "ok"
                barrier.wait()
                with transaction.atomic():
                    outcomes.append(transition(mine, to, field="health"))
            finally:
                connections.close_all()

        threads = [threading.Thread(target=move, args=(to,)) for to in (Health.RATE_LIMITED, Health.UNREACHABLE)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(outcomes) == [False, True], round_
        winner = Account.objects.get(pk=account_id).health
        events = StateEvent.objects.filter(object_id=str(account_id)).order_by("-pk")
        assert events.count() == round_ + 1 and events.first().to_state == winner
    assert AuditEntry.objects.filter(action="account.health_changed").count() == 5
