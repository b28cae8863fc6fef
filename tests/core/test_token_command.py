"""`guanwei token create USERNAME [--name N]`."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from guanwei.core.models import ApiToken, AuditEntry


def test_prints_a_working_token_once_and_audits_it(personas):
    out, err = StringIO(), StringIO()
    call_command("token", "create", "bob", "--name", "CI 部署", stdout=out, stderr=err)
    token = out.getvalue().strip()
    assert token.startswith("gw_") and "shown only now" in err.getvalue()
    stored = ApiToken.objects.get(member=personas.bob)
    assert stored.name == "CI 部署" and token not in str(stored.__dict__)
    assert AuditEntry.objects.filter(action="apitoken.created", actor=personas.bob).count() == 1
    response = Client(HTTP_AUTHORIZATION=f"Bearer {token}").get("/api/v1/enterprise")
    assert response.status_code == 200 and response.json()["slug"] == personas.enterprise.slug


@pytest.mark.parametrize("username", ["nobody", ""])
def test_an_unknown_user_is_an_error_naming_them(personas, username):
    with pytest.raises(CommandError, match="no active member"):
        call_command("token", "create", username, stdout=StringIO(), stderr=StringIO())


def test_a_deactivated_member_gets_no_token(personas):
    from guanwei.core.actions import do_deactivate_member

    do_deactivate_member(personas.alice, personas.carol)
    with pytest.raises(CommandError):
        call_command("token", "create", "carol", stdout=StringIO(), stderr=StringIO())
    assert not ApiToken.objects.exists()
