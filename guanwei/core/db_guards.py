"""Database-level guards: the audit log refuses UPDATE and DELETE even from raw SQL.

The ORM already refuses (core.models.AuditQuerySet); these triggers make the database itself
refuse, so a shell, a buggy migration or another program cannot rewrite history either. One
change is allowed: setting `actor_id` to NULL and nothing else, which is what ON DELETE SET NULL
does when a user is erased — the entry keeps its `actor_label`.
"""

from __future__ import annotations

MESSAGE = "core_auditentry is append-only"

POSTGRES_AUDIT_TRIGGERS = [
    f"""
    CREATE OR REPLACE FUNCTION core_auditentry_append_only() RETURNS trigger AS $$
    BEGIN
      IF TG_OP = 'UPDATE' AND NEW.actor_id IS NULL AND OLD.actor_id IS NOT NULL
         AND (to_jsonb(NEW) - 'actor_id') = (to_jsonb(OLD) - 'actor_id') THEN
        RETURN NEW;
      END IF;
      RAISE EXCEPTION '{MESSAGE} (% refused)', TG_OP;
    END
    $$ LANGUAGE plpgsql
    """,
    """
    CREATE TRIGGER core_auditentry_append_only
    BEFORE UPDATE OR DELETE ON core_auditentry
    FOR EACH ROW EXECUTE FUNCTION core_auditentry_append_only()
    """,
]
POSTGRES_AUDIT_DROP = [
    "DROP TRIGGER IF EXISTS core_auditentry_append_only ON core_auditentry",
    "DROP FUNCTION IF EXISTS core_auditentry_append_only()",
]

# SQLite has no generic row comparison, so the columns are listed; a column added to AuditEntry
# must be added here too (tests/core/test_audit.py fails otherwise), with a migration that
# re-creates the trigger (SQLite checks a trigger's columns whenever the table changes, so each
# migration installs the list of its own time: see core 0002 and 0007).
AUDIT_COLUMNS_0002 = [
    "id", "enterprise_id", "actor_label", "action", "object_type", "object_id", "summary",
    "detail", "ip", "created_at",
]
AUDIT_COLUMNS = [*AUDIT_COLUMNS_0002, "params"]


def sqlite_audit_triggers(columns: list[str]) -> list[str]:
    unchanged = " AND ".join(f"NEW.{c} IS OLD.{c}" for c in columns)
    return [
        f"""
        CREATE TRIGGER core_auditentry_no_update BEFORE UPDATE ON core_auditentry
        WHEN NOT (NEW.actor_id IS NULL AND OLD.actor_id IS NOT NULL AND {unchanged})
        BEGIN SELECT RAISE(ABORT, '{MESSAGE} (UPDATE refused)'); END
        """,
        f"""
        CREATE TRIGGER core_auditentry_no_delete BEFORE DELETE ON core_auditentry
        BEGIN SELECT RAISE(ABORT, '{MESSAGE} (DELETE refused)'); END
        """,
    ]


SQLITE_AUDIT_TRIGGERS = sqlite_audit_triggers(AUDIT_COLUMNS)
SQLITE_AUDIT_DROP = [
    "DROP TRIGGER IF EXISTS core_auditentry_no_update",
    "DROP TRIGGER IF EXISTS core_auditentry_no_delete",
]

INSTALL = {"postgresql": POSTGRES_AUDIT_TRIGGERS, "sqlite": SQLITE_AUDIT_TRIGGERS}
REMOVE = {"postgresql": POSTGRES_AUDIT_DROP, "sqlite": SQLITE_AUDIT_DROP}
