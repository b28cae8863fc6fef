"""The SQLite trigger lists the audit columns it protects: re-create it with `params`."""

from django.db import migrations


def reinstall(apps, schema_editor):
    from guanwei.core.db_guards import INSTALL, REMOVE

    if schema_editor.connection.vendor != "sqlite":
        return  # PostgreSQL's trigger compares whole rows: nothing to do
    for sql in [*REMOVE["sqlite"], *INSTALL["sqlite"]]:
        schema_editor.execute(sql, params=None)


class Migration(migrations.Migration):
    dependencies = [("core", "0006_audit_and_notice_params_for_display_time_text")]

    operations = [migrations.RunPython(reinstall, migrations.RunPython.noop)]
