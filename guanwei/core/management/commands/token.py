"""`guanwei token create USERNAME [--name N]`: a personal API token for scripts and CI, printed
once (only its hash is stored), audited like one made on the tokens page."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError, CommandParser

from guanwei.core.actions import do_create_api_token
from guanwei.core.errors import ActionError
from guanwei.core.models import Member


class Command(BaseCommand):
    help = "Create a personal API token for a member and print it once."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create a token and print it once")
        create.add_argument("username", help="the member's user name")
        create.add_argument("--name", default="command line", help="what the token is for")

    def handle(self, *args, **options) -> None:  # type: ignore[no-untyped-def]
        username = options["username"]
        member = (
            Member.objects.select_related("enterprise", "user")
            .filter(user__username=username, is_active=True, user__is_active=True)
            .first()
        )
        if member is None:
            raise CommandError(f"{username!r} is no active member of an enterprise.")
        try:
            issued = do_create_api_token(member, options["name"])
        except ActionError as exc:
            raise CommandError(exc.message) from None
        except PermissionDenied:
            raise CommandError(f"{username!r} may not have API tokens (role {member.role}).") from None
        self.stderr.write(
            f"Token {issued.api_token.name!r} for {member.display_name} ({member.enterprise.name}); "
            "it is shown only now. Use it as: Authorization: Bearer <token>"
        )
        self.stdout.write(issued.token)
