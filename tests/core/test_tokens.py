"""Personal API tokens: shown once, stored as a hash, listed, revoked; last use recorded."""

import re
from datetime import timedelta

import time_machine

from guanwei.core import clock
from guanwei.core.actions import authenticate_token, do_create_api_token, do_deactivate_member
from guanwei.core.models import ApiToken, AuditEntry


def test_token_is_shown_once_and_only_its_hash_is_stored(personas, client_for):
    client = client_for("carol")
    response = client.post("/settings/tokens/new/", {"name": "报表脚本"})
    match = re.search(r'value="(gw_[^"]+)"', response.content.decode())
    assert match
    token = match.group(1)
    stored = ApiToken.objects.get()
    assert stored.member == personas.carol and stored.name == "报表脚本"
    assert token not in (stored.token_hash, stored.prefix) and token.startswith(stored.prefix)
    listing = client.get("/settings/tokens/").content.decode()
    assert "报表脚本" in listing and token not in listing
    assert AuditEntry.objects.filter(action="apitoken.created", actor=personas.carol).exists()


def test_empty_name_is_refused_with_the_field_named(personas, client_for):
    response = client_for("carol").post("/settings/tokens/new/", {"name": ""})
    assert response.status_code == 422 and "名称：" in response.content.decode()
    assert not ApiToken.objects.exists()


def test_tokens_page_lists_only_my_tokens(personas, client_for):
    do_create_api_token(personas.dave, "dave-script")
    do_create_api_token(personas.carol, "carol-script")
    html = client_for("carol").get("/settings/tokens/").content.decode()
    assert "carol-script" in html and "dave-script" not in html


def test_revoked_token_no_longer_authenticates(personas, client_for):
    issued = do_create_api_token(personas.carol, "ci")
    assert authenticate_token(issued.token) == personas.carol
    response = client_for("carol").post(f"/settings/tokens/{issued.api_token.pk}/revoke/")
    assert response.status_code == 302
    assert authenticate_token(issued.token) is None
    assert AuditEntry.objects.filter(action="apitoken.revoked").count() == 1


def test_cannot_revoke_a_colleagues_token(personas, client_for):
    issued = do_create_api_token(personas.dave, "dave-script")
    assert client_for("carol").post(f"/settings/tokens/{issued.api_token.pk}/revoke/").status_code == 404
    assert authenticate_token(issued.token) == personas.dave


def test_deactivated_members_token_stops_working(personas):
    issued = do_create_api_token(personas.carol, "ci")
    do_deactivate_member(personas.bob, personas.carol)
    assert authenticate_token(issued.token) is None


def test_last_used_at_is_written_at_most_once_a_minute(personas, django_assert_num_queries):
    issued = do_create_api_token(personas.carol, "ci")
    start = clock.now()
    with time_machine.travel(start, tick=False) as traveller:
        authenticate_token(issued.token)
        first = ApiToken.objects.get().last_used_at
        assert first == start
        traveller.shift(timedelta(seconds=30))
        with django_assert_num_queries(1):  # the lookup only, no UPDATE
            authenticate_token(issued.token)
        assert ApiToken.objects.get().last_used_at == first
        traveller.shift(timedelta(seconds=31))
        authenticate_token(issued.token)
        assert ApiToken.objects.get().last_used_at == start + timedelta(seconds=61)


def test_garbage_tokens_do_not_authenticate(personas):
    assert authenticate_token("") is None
    assert authenticate_token("gw_not-a-token") is None
    assert authenticate_token("Bearer something") is None


def test_every_role_manages_their_own_tokens(personas, client_for):
    for who in personas.members:
        client = client_for(who)
        assert client.get("/settings/tokens/").status_code == 200
        assert client.post("/settings/tokens/new/", {"name": f"{who}-token"}).status_code == 200
    assert ApiToken.objects.count() == len(personas.members)
