# Notification.incident_key becomes condition_key: "incident" is monitoring's Incident now.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("core", "0013_channels")]

    operations = [
        migrations.RemoveConstraint(model_name="notification", name="notification_one_open_per_incident"),
        migrations.RenameField(model_name="notification", old_name="incident_key", new_name="condition_key"),
        migrations.AddConstraint(
            model_name="notification",
            constraint=models.UniqueConstraint(
                condition=models.Q(("resolved_at__isnull", True), models.Q(("condition_key", ""), _negated=True)),
                fields=("enterprise", "condition_key"),
                name="notification_one_open_per_condition",
            ),
        ),
    ]
