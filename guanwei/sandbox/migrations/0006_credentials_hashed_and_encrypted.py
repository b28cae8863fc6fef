"""The sandbox keeps credentials as a real platform would: access tokens and authorization codes
by their SHA-256 (tokens also encrypted, to hand the same token back on re-authorisation), app
secrets encrypted with GUANWEI_SECRET_KEYS. Existing clear-text rows are converted in place."""

import hashlib

from django.db import migrations, models

import guanwei.core.crypto


def _sha(raw):
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


def seal_existing(apps, schema_editor):
    # Raw SQL: the historical models would try to decrypt the clear text they are about to seal.
    from guanwei.core.crypto import encrypt

    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT id, token FROM sandbox_token")
        for pk, raw in cursor.fetchall():
            cursor.execute(
                "UPDATE sandbox_token SET token_hash = %s, token_sealed = %s WHERE id = %s",
                [_sha(raw), encrypt(raw), pk],
            )
        cursor.execute("SELECT id, code FROM sandbox_authcode")
        for pk, raw in cursor.fetchall():
            cursor.execute("UPDATE sandbox_authcode SET code_hash = %s WHERE id = %s", [_sha(raw), pk])
        cursor.execute("SELECT id, app_secret FROM sandbox_app")
        for pk, raw in cursor.fetchall():
            cursor.execute("UPDATE sandbox_app SET app_secret = %s WHERE id = %s", [encrypt(raw), pk])


class Migration(migrations.Migration):
    dependencies = [("sandbox", "0005_run_enterprise")]

    operations = [
        migrations.AddField("token", "token_hash", models.CharField(max_length=64, null=True)),
        migrations.AddField(
            "token", "token_sealed", guanwei.core.crypto.EncryptedTextField(default="")
        ),
        migrations.AddField("authcode", "code_hash", models.CharField(max_length=64, null=True)),
        migrations.AlterField("app", "app_secret", models.TextField()),
        migrations.RunPython(seal_existing, migrations.RunPython.noop),
        migrations.RemoveField("token", "token"),
        migrations.RemoveField("authcode", "code"),
        migrations.AlterField(
            "token", "token_hash", models.CharField(max_length=64, unique=True)
        ),
        migrations.AlterField(
            "token", "token_sealed", guanwei.core.crypto.EncryptedTextField()
        ),
        migrations.AlterField(
            "authcode", "code_hash", models.CharField(max_length=64, unique=True)
        ),
        migrations.AlterField("app", "app_secret", guanwei.core.crypto.EncryptedTextField()),
    ]
