"""Make the database refuse UPDATE and DELETE on core_auditentry (see core/db_guards.py)."""

from django.db import migrations


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for sql in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql, params=None)

    return run


def install(apps, schema_editor):
    from guanwei.core.db_guards import AUDIT_COLUMNS_0002, INSTALL, sqlite_audit_triggers

    # The columns of this migration's time (0007 re-creates the trigger with later ones).
    _run({**INSTALL, "sqlite": sqlite_audit_triggers(AUDIT_COLUMNS_0002)})(apps, schema_editor)


def remove(apps, schema_editor):
    from guanwei.core.db_guards import REMOVE

    _run(REMOVE)(apps, schema_editor)


class Migration(migrations.Migration):
    dependencies = [("core", "0001_tenancy_members_audit")]

    operations = [migrations.RunPython(install, remove)]
