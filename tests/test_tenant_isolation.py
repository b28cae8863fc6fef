"""Tenancy in one place, checked everywhere: walks EVERY URL pattern of the resolver and every
route of the API's OpenAPI schema as the outsider (mallory of 别家饮料).

* A route with object parameters is called with the ids of the insider's (示例乳业's) objects and
  must answer 404 — for every method it accepts (405 for methods it does not).
* A route without parameters must not show any insider name.
* Anonymous visitors get 302 to the login page (pages), 401 (API) or 404 for object routes.
* The account-limited editor (ivan) gets 404 for accounts outside his limit (or the 403 he gets
  for any account when the route needs a right he lacks).

New routes are covered automatically. A route whose URL parameters are not registered below
makes the test FAIL with instructions: register the parameter in BY_KWARG (when its name says
what it is, e.g. `post_id`) or in BY_ROUTE (for generic names like `pk`), with a function that
returns the id of an insider object (build the object in `insider_objects` if the personas do
not have one). Parameters that are not tenant objects (e.g. an area slug) go in NOT_OBJECTS.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RegexPattern, RoutePattern

from guanwei.core.actions import do_create_api_token, do_invite_member
from guanwei.core.models import Channel, Notification, Role
from tests.personas import Personas

# The sandbox (/sandbox/) is a separate platform — a stand-in for Weibo with its own users, OAuth
# and data, reached by guanwei only over HTTP — so guanwei's tenancy does not apply to it.
EXCLUDED_PREFIXES = ("sandbox/",)

# Routes that take a parameter but are deliberately not tenant-checked, with the reason.
EXEMPT = {
    # The invitation token is itself the credential (anyone holding the link may join); unknown,
    # reused and expired tokens are covered in tests/core/test_members.py.
    "core:invite_accept": "token is the credential",
    # Weibo's fans-service push: the platform's signature with the connection's app secret is
    # the credential (tests/listening/test_pushes.py); it shows nothing of the tenant.
    "listening:push": "the platform's signature is the credential",
}

Lookup = Callable[[Personas, dict[str, Any]], Any]

# kwarg name -> insider object id, when the name says what the object is.
BY_KWARG: dict[str, Lookup] = {
    "member_id": lambda p, o: p.carol.pk,
    "account_id": lambda p, o: p.parent_account.pk,
    "connection_id": lambda p, o: p.connection.pk,
    "invitation_id": lambda p, o: o["invitation"].pk,
    "token_id": lambda p, o: o["api_token"].pk,
    "export_id": lambda p, o: o["export"].pk,
    "channel_id": lambda p, o: o["channel"].pk,
    "delivery_id": lambda p, o: o["delivery"].pk,
    "post_id": lambda p, o: o["post"].pk,
    "target_id": lambda p, o: o["post"].targets.first().pk,
    "image_id": lambda p, o: o["post"].images.first().pk,
    "policy_id": lambda p, o: o["policy"].pk,
    "word_id": lambda p, o: o["word"].pk,
    "tag_id": lambda p, o: o["series"].pk,
    "monitor_id": lambda p, o: o["monitor"].pk,
    "incident_id": lambda p, o: o["incident"].pk,
    "import_id": lambda p, o: o["import"].pk,
    "item_id": lambda p, o: o["item"].pk,
    "canned_id": lambda p, o: o["canned"].pk,
    "team_id": lambda p, o: o["team"].pk,
    "rule_id": lambda p, o: o["rule"].pk,
    # alice's personal notice that her export is ready
    "notification_id": lambda p, o: Notification.objects.get(member=p.alice).pk,
}

# (namespace:route name, kwarg) -> insider object id, for generic kwarg names such as `pk`.
BY_ROUTE: dict[tuple[str, str], Lookup] = {
    ("matrix:connection", "pk"): lambda p, o: p.connection.pk,
    ("matrix:connect", "pk"): lambda p, o: p.connection.pk,
    ("matrix:callback", "pk"): lambda p, o: p.connection.pk,
    ("matrix:account", "pk"): lambda p, o: p.parent_account.pk,
    ("matrix:reconnect", "pk"): lambda p, o: p.parent_account.pk,
    ("matrix:remove", "pk"): lambda p, o: p.parent_account.pk,
}

# Parameters that name no tenant object: the route is walked with this value and treated like a
# route without parameters (the page must not show insider data).
NOT_OBJECTS: dict[tuple[str, str], str] = {
    ("web:area", "slug"): "combination",
    ("api_not_found", "unknown"): "no/such/endpoint",
    ("publishing:post_action", "action"): "cancel",
    ("publishing:target_action", "action"): "confirm",
    ("publishing:image_size", "size"): "thumb",
    ("publishing:tag_delete", "kind"): "series",
}

# Which registered parameters are official accounts (for the account-limit walk).
ACCOUNT_KWARGS = {"account_id"}
ACCOUNT_ROUTE_PARAMS = {("matrix:account", "pk"), ("matrix:reconnect", "pk"), ("matrix:remove", "pk")}

_PARAM = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>\w+)>")


@dataclass
class Route:
    template: str  # "members/<int:member_id>/role/"
    name: str  # "core:member_role" ('' when unnamed)

    @property
    def params(self) -> list[str]:
        return [m.group("name") for m in _PARAM.finditer(self.template)]

    def url(self, values: dict[str, Any]) -> str:
        return "/" + _PARAM.sub(lambda m: str(values[m.group("name")]), self.template)


def walk(patterns: list[Any], prefix: str = "", namespace: str = "") -> Iterator[Route]:
    for p in patterns:
        if (prefix + str(p.pattern)).startswith(EXCLUDED_PREFIXES):
            continue
        if isinstance(p, URLResolver):
            ns = namespace
            if p.namespace:
                ns = f"{namespace}:{p.namespace}" if namespace else p.namespace
            yield from walk(p.url_patterns, prefix + _route_text(p.pattern), ns)
        elif isinstance(p, URLPattern):
            name = f"{namespace}:{p.name}" if namespace and p.name else (p.name or "")
            yield Route(prefix + _route_text(p.pattern), name)


def _route_text(pattern: Any) -> str:
    if isinstance(pattern, RoutePattern):
        return str(pattern)
    if isinstance(pattern, RegexPattern):
        # Regex routes cannot be filled in mechanically; nothing in guanwei uses them yet.
        raise AssertionError(
            f"regex URL pattern {pattern.regex.pattern!r}: use path() or teach "
            "tests/test_tenant_isolation.py to fill it in"
        )
    raise AssertionError(f"unknown pattern type {type(pattern)}")


def all_routes() -> list[Route]:
    return [
        r for r in walk(get_resolver().url_patterns)
        if not r.template.startswith(EXCLUDED_PREFIXES)
    ]


def lookup_for(route: Route, kwarg: str) -> Lookup | None:
    return BY_ROUTE.get((route.name, kwarg)) or BY_KWARG.get(kwarg)


def values_for(route: Route, personas: Personas, objects: dict[str, Any]) -> dict[str, Any]:
    """Insider ids (or NOT_OBJECTS values) for the route's parameters."""
    values: dict[str, Any] = {}
    unknown = []
    for kwarg in route.params:
        if (route.name, kwarg) in NOT_OBJECTS:
            values[kwarg] = NOT_OBJECTS[(route.name, kwarg)]
            continue
        lookup = lookup_for(route, kwarg)
        if lookup is None:
            unknown.append(kwarg)
            continue
        values[kwarg] = lookup(personas, objects)
    if unknown:
        pytest.fail(
            f"URL {route.template!r} (name {route.name!r}) has parameter(s) {unknown} that the "
            "tenant-isolation test does not know. Register each in tests/test_tenant_isolation.py: "
            "BY_KWARG if the name says what it is (e.g. 'post_id'), BY_ROUTE for generic names "
            "like 'pk', or NOT_OBJECTS if it names no tenant object — so that every new route is "
            "checked against another enterprise's objects."
        )
    return values


@pytest.fixture
def insider_objects(personas: Personas) -> dict[str, Any]:
    """Insider objects the personas do not already have. Add yours here — and append their
    distinctive names (a post's title, a monitor's name) to `personas.insider_names`, so that
    every page the outsider can open is checked for them too."""
    channel = Channel.objects.create(
        enterprise=personas.enterprise, name="insider-robot", kind=Channel.Kind.WECOM,
        url="https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=insider-key",
    )
    return {
        "invitation": do_invite_member(personas.alice, "new@example.com", Role.EDITOR).invitation,
        "api_token": do_create_api_token(personas.carol, "insider-script").api_token,
        "export": _finished_export(personas),
        "channel": channel,
        "delivery": _insider_delivery(personas, channel),
        "post": _insider_post(personas),
        **_insider_rules(personas),
        **_insider_inbox(personas),
    }


def _finished_export(personas: Personas) -> Any:
    """A background export of the insider's audit log, written (so its download exists)."""
    from guanwei.core import exports

    export = exports.do_request_export(personas.alice, "audit", {})
    exports.run(export.pk)
    return export


def _insider_post(personas: Personas) -> Any:
    import io

    from PIL import Image

    from guanwei.publishing.actions import do_create_post

    personas.connection.safe_domain = "demo.guanwei.local"
    personas.connection.save()
    png = io.BytesIO()
    Image.new("RGB", (40, 30), "red").save(png, "PNG")
    return do_create_post(personas.carol, text="insider launch https://demo.guanwei.local/x",
                          accounts=[personas.parent_account.pk], image_files=[(png.getvalue(), "insider.png")])


def _insider_rules(personas: Personas) -> dict[str, Any]:
    from guanwei.listening.models import Import
    from guanwei.monitoring.actions import do_create_monitor
    from guanwei.monitoring.incidents import do_open_incident
    from guanwei.publishing import rules

    personas.insider_names.extend(["insider-chain", "insiderword", "insider-series", "insider-monitor",
                                   "insider-incident", "insider-import.csv"])
    policy = rules.do_save_policy(personas.alice, None, name="insider-chain", position=1, content_type="",
                                  accounts=[], tiers=[{"name": "legal", "mode": "any", "reviewers": [personas.dave]}])
    return {
        "policy": policy,
        "word": rules.do_add_word(personas.alice, "insiderword"),
        "series": rules.do_add_tag(personas.alice, "series", "insider-series"),
        "monitor": do_create_monitor(personas.alice, name="insider-monitor", group="brand", rule="insiderbrand"),
        "incident": do_open_incident(personas.alice, title="insider-incident", severity=5),
        "import": Import.objects.create(enterprise=personas.enterprise, created_by=personas.alice,
                                        name="insider-import.csv", path="/nonexistent", sha256="0" * 64),
    }


def _insider_inbox(personas: Personas) -> dict[str, Any]:
    """An inbox item (a customer's comment to the service account), a canned reply, a team and a
    routing rule."""
    from guanwei.core import clock
    from guanwei.inbox import intake
    from guanwei.inbox.models import CannedReply, Item, RoutingRule, Team
    from guanwei.listening.models import Mention
    from guanwei.listening.store import Incoming, store

    personas.insider_names.extend(["insider-complaint", "insider-canned", "insider-team", "insider-routing"])
    team = Team.objects.create(enterprise=personas.enterprise, name="insider-team")
    rule = RoutingRule.objects.create(enterprise=personas.enterprise, name="insider-routing", position=1, team=team)
    store(personas.enterprise, [Incoming(
        platform="sandbox:builtin", remote_id="insider-c1", kind="comment", text="insider-complaint 酸奶变质了",
        created_at=clock.now(), author_id="cust1", author_name="insider-customer", in_reply_to_id="9001",
        account_id=personas.accounts["service"].pk)])  # fmt: skip
    intake.handle(list(Mention.objects.filter(remote_id="insider-c1")))
    return {
        "item": Item.objects.get(mention__remote_id="insider-c1"),
        "canned": CannedReply.objects.create(enterprise=personas.enterprise, title="insider-canned", text="您好"),
        "team": team,
        "rule": rule,
    }


def _insider_delivery(personas: Personas, channel: Any) -> Any:
    from guanwei.core.channels import Message, send

    (delivery,) = send(personas.enterprise, "channel.test", Message(title="t"), channels=[channel])
    return delivery


def _body(response: Any) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode(errors="replace")
    return response.content.decode(errors="replace")


def _leaks(personas: Personas, body: str) -> list[str]:
    return [name for name in personas.insider_names if name in body]


def test_walk_finds_the_core_routes() -> None:
    names = {r.name for r in all_routes()}
    assert {"core:members", "core:member_role", "core:audit", "api:member_detail"} <= names


def test_outsider_gets_404_for_every_insider_object_and_sees_no_insider_data(
    personas: Personas, insider_objects: dict[str, Any]
) -> None:
    outsider = Client()
    outsider.force_login(personas.mallory.user)
    problems: list[str] = []
    for route in all_routes():
        if route.name in EXEMPT:
            continue
        values = values_for(route, personas, insider_objects)
        has_object = any(
            (route.name, k) not in NOT_OBJECTS for k in route.params
        )
        url = route.url(values)
        if has_object:
            statuses = {}
            for method in ("get", "post"):
                if method == "post" and url.startswith("/api/"):
                    # The API speaks JSON: an empty object reaches the handler (and its tenancy
                    # check) where the endpoint takes a body whose fields all have defaults.
                    response = outsider.post(url, "{}", content_type="application/json")
                else:
                    response = getattr(outsider, method)(url)
                statuses[method] = response.status_code
                if response.status_code not in (404, 405):
                    problems.append(f"{method.upper()} {url} ({route.name}) -> {response.status_code}, expected 404")
                elif _leaks(personas, _body(response)):
                    problems.append(f"{method.upper()} {url} 404 page shows {_leaks(personas, _body(response))}")
            if 404 not in statuses.values():
                problems.append(f"{url} ({route.name}) answered {statuses}: no method reached the tenancy check")
        else:
            response = outsider.get(url)
            if response.status_code == 500:  # (503 is an answer: /healthz without a worker)
                problems.append(f"GET {url} ({route.name}) -> {response.status_code}")
            leaked = _leaks(personas, _body(response))
            if leaked:
                problems.append(f"GET {url} ({route.name}) shows insider data {leaked}")
    assert not problems, "\n".join(problems)


PUBLIC = {
    "core:login", "core:logout", "set_language", "healthz", "api:openapi-json", "api:openapi-view",
    "api:api-root",
}


def test_anonymous_visitors_are_sent_to_login_or_refused(
    personas: Personas, insider_objects: dict[str, Any]
) -> None:
    anonymous = Client()
    problems: list[str] = []
    for route in all_routes():
        if route.name in EXEMPT or route.name in PUBLIC:
            continue
        url = route.url(values_for(route, personas, insider_objects))
        response = anonymous.get(url)
        status = response.status_code
        to_login = status == 302 and response["Location"].startswith("/login/")
        if not (to_login or status in (401, 404, 405)):
            problems.append(f"GET {url} ({route.name}) as anonymous -> {status}")
        if _leaks(personas, _body(response)):
            problems.append(f"GET {url} ({route.name}) as anonymous shows {_leaks(personas, _body(response))}")
    assert not problems, "\n".join(problems)


def test_public_routes_show_no_tenant_data(personas: Personas) -> None:
    anonymous = Client()
    for route in all_routes():
        if route.name in PUBLIC and not route.params:
            body = _body(anonymous.get(route.url({})))
            assert not _leaks(personas, body), route.name


def test_account_limited_member_gets_404_for_accounts_outside_the_limit(
    personas: Personas, insider_objects: dict[str, Any]
) -> None:
    ivan = Client()
    ivan.force_login(personas.ivan.user)
    outside = personas.accounts["campaign"].pk
    problems = []
    for route in all_routes():
        account_params = [
            k for k in route.params
            if (route.name, k) in ACCOUNT_ROUTE_PARAMS
            or (k in ACCOUNT_KWARGS and (route.name, k) not in BY_ROUTE)
        ]
        if not account_params or route.name in EXEMPT:
            continue
        values = values_for(route, personas, insider_objects)
        url = route.url({**values, **{k: outside for k in account_params}})
        missing_url = route.url({**values, **{k: 99_999_999 for k in account_params}})
        for method in ("get", "post"):
            status = getattr(ivan, method)(url).status_code
            # 403 is acceptable when ivan lacks the right altogether — as long as it is the same
            # answer as for an account that does not exist (no oracle for what lies outside).
            missing = getattr(ivan, method)(missing_url).status_code
            if status not in (403, 404, 405) or status != missing:
                problems.append(
                    f"{method.upper()} {url} ({route.name}) as ivan -> {status} "
                    f"(nonexistent account: {missing})"
                )
    assert not problems, "\n".join(problems)


# --- the API, route by route from its OpenAPI schema -----------------------------------------

API_PARAM = re.compile(r"\{(\w+)\}")


def api_operations() -> Iterator[tuple[str, str]]:
    from guanwei.api.urls import api

    schema = api.get_openapi_schema()
    for path, methods in schema["paths"].items():
        for method in methods:
            yield path, method


def test_api_outsider_gets_404_for_insider_objects_and_no_insider_data(
    personas: Personas, insider_objects: dict[str, Any]
) -> None:
    token = do_create_api_token(personas.mallory, "outsider").token
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    problems = []
    for path, method in api_operations():
        params = API_PARAM.findall(path)
        values = {}
        for name in params:
            lookup = BY_KWARG.get(name)
            if lookup is None:
                pytest.fail(
                    f"API path {path!r} has parameter {name!r} unknown to the tenant-isolation test: "
                    "register it in BY_KWARG in tests/test_tenant_isolation.py."
                )
            values[name] = lookup(personas, insider_objects)
        url = API_PARAM.sub(lambda m, v=values: str(v[m.group(1)]), path)
        response = getattr(client, method)(url, content_type="application/json") if method != "get" else client.get(url)
        body = _body(response)
        if params:
            # A write whose body fails validation is refused (422) before any lookup; that is not
            # a leak, and the GET of the same object proves the tenancy check.
            allowed = (404,) if method == "get" else (404, 422)
            if response.status_code not in allowed:
                problems.append(f"{method.upper()} {url} -> {response.status_code}, expected 404")
        elif response.status_code == 500:
            problems.append(f"{method.upper()} {url} -> {response.status_code}")
        if _leaks(personas, body):
            problems.append(f"{method.upper()} {url} shows insider data {_leaks(personas, body)}")
    assert not problems, "\n".join(problems)


def test_api_refuses_anonymous_callers(personas: Personas, insider_objects: dict[str, Any]) -> None:
    client = Client()
    for path, method in api_operations():
        url = API_PARAM.sub(lambda m: str(BY_KWARG[m.group(1)](personas, insider_objects)), path)
        assert getattr(client, method)(url).status_code == 401, f"{method.upper()} {url}"
