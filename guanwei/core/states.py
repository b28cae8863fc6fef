"""The one state-machine helper (DESIGN rule 4). Post, Target, Incident, Item, Lottery and
account health change state only through `transition`.

A model declares its machines::

    class Target(models.Model):
        state_machines = {"state": StateMachine("state", {"draft": {"in_review"}, …},
                                                audit_action="target.state_changed")}

and a change is one call::

    moved = transition(target, "scheduled", actor=member, reason="approved")

which, in one transaction: refuses a move the machine does not allow (IllegalTransition, an
ActionError naming the field); performs a conditional update (`UPDATE … SET state=<to> WHERE
pk=<id> AND state=<from>`: of two workers that saw the same `<from>`, exactly one changes the
row — the other gets False and must not act as if it had won); writes the StateEvent row and the
audit entry; and runs `after(from_state)` for the caller's own writes (a notification, a
Publication) inside the same transaction. Returns True when this call made the change.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import models, transaction
from django.utils.translation import gettext as _

from guanwei.core import audit, clock
from guanwei.core.errors import ActionError
from guanwei.core.models import Member, StateEvent

log = logging.getLogger("guanwei.states")


class IllegalTransition(ActionError):
    """A move the model's machine does not allow (a bug in the caller, or a stale page)."""


@dataclass(frozen=True)
class StateMachine:
    field: str  # the model's state field
    transitions: Mapping[str, Iterable[str]]  # from -> the states it may move to
    audit_action: str  # e.g. "account.health_changed"
    allowed: dict[str, frozenset[str]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "allowed", {frm: frozenset(tos) for frm, tos in self.transitions.items()}
        )

    def allows(self, frm: str, to: str) -> bool:
        return to in self.allowed.get(frm, frozenset())


def machine_of(obj: models.Model, field_name: str) -> StateMachine:
    machines: dict[str, StateMachine] = getattr(type(obj), "state_machines", {})
    try:
        return machines[field_name]
    except KeyError:
        raise ValueError(
            f"{type(obj).__name__}.{field_name} has no state machine: declare it in the model's "
            "state_machines"
        ) from None


def _label(obj: models.Model, field_name: str, value: str) -> str:
    choices = dict(obj._meta.get_field(field_name).choices or ())
    return str(choices.get(value, value))


def transition(
    obj: models.Model,
    to: str,
    *,
    field: str = "state",
    actor: Member | None = None,
    expected: str | None = None,
    reason: str = "",
    detail: dict[str, Any] | None = None,
    updates: dict[str, Any] | None = None,
    audit_params: dict[str, Any] | None = None,
    summary: str = "",
    request: Any = None,
    after: Callable[[str], None] | None = None,
) -> bool:
    """Move `obj` to `to` (see the module's docstring). `expected` is the state the caller saw
    (default: the one on `obj`); `updates` are more columns set in the same UPDATE."""
    machine = machine_of(obj, field)
    frm = getattr(obj, field) if expected is None else expected
    if not machine.allows(frm, to):
        raise IllegalTransition(
            _("不能从“%(frm)s”变为“%(to)s”。")
            % {"frm": _label(obj, field, frm), "to": _label(obj, field, to)},
            field,
        )
    model = type(obj)
    with transaction.atomic():
        changed = model._base_manager.filter(pk=obj.pk, **{field: frm}).update(
            **{field: to}, **(updates or {})
        )
        if not changed:
            log.info(
                "state.lost object=%s:%s field=%s from=%s to=%s",
                obj._meta.label_lower, obj.pk, field, frm, to,
            )  # fmt: skip
            return False
        setattr(obj, field, to)
        for name, value in (updates or {}).items():
            setattr(obj, name, value)
        enterprise = obj.enterprise  # type: ignore[attr-defined]
        StateEvent.objects.create(
            enterprise=enterprise,
            object_type=obj._meta.label_lower,
            object_id=str(obj.pk),
            field=field,
            from_state=frm,
            to_state=to,
            actor=actor,
            reason=reason[:300],
            detail=detail or {},
            created_at=clock.now(),
        )
        audit.record(
            enterprise,
            actor,
            machine.audit_action,
            obj,
            summary=summary or f"{frm} → {to}",
            detail={"from": frm, "to": to, **({"reason": reason[:300]} if reason else {}), **(detail or {})},
            params={**(audit_params or {}), "from": frm, "to": to},
            request=request,
        )
        if after is not None:
            after(frm)
    log.info(
        "state.changed enterprise=%s object=%s:%s field=%s from=%s to=%s",
        enterprise.pk, obj._meta.label_lower, obj.pk, field, frm, to,
    )  # fmt: skip
    return True
