"""The `guanwei` command: Django's manage.py plus demo / run / worker / sandbox (management
commands in guanwei.ops and guanwei.sandbox)."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "guanwei.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["guanwei", *sys.argv[1:]])


if __name__ == "__main__":
    main()
