"""`in` on integer columns leaves out the values no such column can hold.

Since Django 5.0, `pk=<a 30-digit number>` simply matches nothing instead of overflowing the
database driver; `pk__in=[…]` still overflows (SQLite: OverflowError, PostgreSQL: "out of
range"), so a form's ModelMultipleChoiceField given such a number — `/matrix/access/<id>/`
with `accounts=999…` — answered 500. Here such a value matches nothing, like in `exact`, in
every query: the forms then say "not a valid choice". Registered in CoreConfig.ready().
"""

from __future__ import annotations

from typing import Any

from django.db.models import IntegerField
from django.db.models.lookups import In


class IntegerFieldIn(In):
    lookup_name = "in"

    def process_rhs(self, compiler: Any, connection: Any) -> Any:
        if self.rhs_is_direct_value():
            internal_type = self.lhs.output_field.get_internal_type()
            low, high = connection.ops.integer_field_range(internal_type)
            self.rhs = [
                value
                for value in self.rhs
                if not isinstance(value, int)
                or ((low is None or value >= low) and (high is None or value <= high))
            ]
        return super().process_rhs(compiler, connection)


def register() -> None:
    IntegerField.register_lookup(IntegerFieldIn)
