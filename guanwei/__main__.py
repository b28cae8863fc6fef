"""The `guanwei` command: Django's manage.py plus demo / run / worker / sandbox (management
commands in guanwei.ops and guanwei.sandbox)."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "guanwei.settings")
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        settings.INSTALLED_APPS  # noqa: B018  (loads settings: a bad variable stops us here)
    except ImproperlyConfigured as exc:
        # One line naming the variable, not a traceback through importlib.
        sys.stderr.write(f"guanwei: configuration error: {exc}\n")
        sys.exit(2)

    execute_from_command_line(["guanwei", *sys.argv[1:]])


if __name__ == "__main__":
    main()
