"""Enterprises, members, roles, permissions, invitations, the audit log, secrets, API tokens."""
