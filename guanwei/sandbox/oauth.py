"""The sandbox's OAuth2 (PLATFORM_APIS §1): authorize with a consent page where a person signs
in as a sandbox user, access_token (one-time codes), get_token_info and revokeoauth2.

The consent page keeps its own sign-in (session key `sandbox_uid`), separate from guanwei's
login: the sandbox plays another website.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from guanwei.core import throttle
from guanwei.core.clock import now

from . import faults, store
from .errors import ApiError, OAuthError, error_response, oauth_error_response, reject_nul
from .models import App, AuthCode, SandboxUser, Token, hash_credential

log = logging.getLogger(__name__)

SESSION_KEY = "sandbox_uid"
DISPLAYS = {"default", "mobile", "wap", "client", "apponweibo"}


def oauth_path(request: HttpRequest) -> str:
    path = request.path
    marker = path.find("/oauth2/")
    return path[marker:] if marker >= 0 else path


def guarded_oauth(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """OAuth2 JSON endpoints: OAuth2 error bodies, faults, never a stack trace."""

    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        path = oauth_path(request)
        try:
            reject_nul(request)
            app = _app_of_request(request)
            # Faults belong to an app: a request naming no known app never meets one.
            fault = faults.pick(app, "oauth2/" + view.__name__) if app is not None else None
            if fault is not None:
                early = faults.before(fault, path)
                if early is not None:
                    return early
            response = view(request, *args, **kwargs)
            return faults.after(fault, response) if fault is not None else response
        except OAuthError as exc:
            return oauth_error_response(path, exc)
        except ApiError as exc:
            return error_response(path, exc)
        except RequestDataTooBig:
            return error_response(path, ApiError(10018))
        except Exception:
            log.exception("sandbox.oauth error path=%s", path)
            return error_response(path, ApiError(10001))

    wrapped.__name__ = view.__name__
    return csrf_exempt(wrapped)


def _params(request: HttpRequest) -> dict[str, str]:
    """Query string and form body both count (§1.2 [CONFLICT]: clients send either)."""
    params = dict(request.GET.items())
    if request.method == "POST":
        params.update(request.POST.items())
    return params


def _app_of_request(request: HttpRequest) -> App | None:
    params = _params(request)
    if params.get("client_id"):
        return App.objects.filter(app_key=params["client_id"]).first()
    if params.get("access_token"):
        token = Token.matching(params["access_token"]).select_related("app").first()
        return token.app if token else None
    return None


def redirect_uri_allowed(app: App, redirect_uri: str) -> bool:
    """Exactly a registered 授权回调页, or any path on a registered origin without a path."""
    given = urlsplit(redirect_uri)
    if given.scheme not in ("http", "https") or not given.netloc:
        return False
    for entry in app.redirect_uris.split():
        registered = urlsplit(entry.strip())
        if entry.strip() == redirect_uri:
            return True
        if (
            registered.path in ("", "/")
            and not registered.query
            and (registered.scheme, registered.netloc.lower())
            == (given.scheme, given.netloc.lower())
        ):
            return True
    return False


def with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + [
        (k, v) for k, v in params.items() if v != ""
    ]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _error_redirect(redirect_uri: str, code: int, description: str, state: str) -> HttpResponse:
    exc = OAuthError(code, description)
    return HttpResponseRedirect(
        with_query(
            redirect_uri,
            error=exc.name,
            error_code=str(code),
            error_description=description,
            state=state,
        )
    )


def _error_page(request: HttpRequest, code: int, description: str) -> HttpResponse:
    exc = OAuthError(code, description)
    return render(
        request,
        "sandbox/oauth_error.html",
        {"code": code, "name": exc.name, "description": description},
        status=exc.status,
    )


def signed_in_user(request: HttpRequest) -> SandboxUser | None:
    uid = request.session.get(SESSION_KEY)
    return SandboxUser.objects.filter(pk=uid).first() if uid else None


def authorize(request: HttpRequest) -> HttpResponse:
    """GET shows the consent page; POST signs in (if needed) and grants or denies."""
    try:
        reject_nul(request)
        params = _params(request)
    except ApiError:
        return _error_page(request, 21323, _("请求参数无效"))
    except RequestDataTooBig:
        return _error_page(request, 21323, _("请求太大"))
    language = "en" if params.get("language", "").lower().startswith("en") else None
    if language:
        with translation.override(language):
            return _authorize(request, params)
    return _authorize(request, params)


def _authorize(request: HttpRequest, params: dict[str, str]) -> HttpResponse:
    client_id = params.get("client_id", "")
    redirect_uri = params.get("redirect_uri", "")
    state = params.get("state", "")
    if not client_id:
        return _error_page(request, 21323, _("缺少 client_id"))
    app = App.objects.filter(app_key=client_id).first()
    if app is None:
        return _error_page(request, 21324, _("应用不存在（client_id 无效）"))
    if not redirect_uri or not redirect_uri_allowed(app, redirect_uri):
        # Never redirect to an unregistered address.
        return _error_page(request, 21322, _("redirect_uri 与应用登记的授权回调页不一致"))
    fault = faults.pick(app, "oauth2/authorize")
    if fault is not None and (early := faults.before(fault, oauth_path(request))) is not None:
        return early
    response_type = params.get("response_type", "code") or "code"
    if response_type != "code":
        return _error_redirect(redirect_uri, 21329, "unsupported response_type", state)
    display = params.get("display", "default") or "default"
    if display not in DISPLAYS:
        display = "default"
    scope = params.get("scope", "")
    forcelogin = params.get("forcelogin", "").lower() == "true"

    user = None if forcelogin else signed_in_user(request)
    error = ""
    if request.method == "POST":
        if params.get("action") == "deny":
            return _error_redirect(redirect_uri, 21330, "user denied the authorization", state)
        screen_name = params.get("screen_name", "").strip()
        if screen_name or not user:
            ip = throttle.client_ip(request)
            verdict = throttle.check(f"sandbox:{screen_name}", ip, scope="sandbox")
            candidate = SandboxUser.objects.filter(screen_name=screen_name).first()
            if verdict.is_blocked:
                # Throttled like guanwei's own sign-in: a platform's consent page is a login form.
                user = None
                error = _("尝试次数过多，请 %(minutes)d 分钟后再试") % {
                    "minutes": verdict.retry_after_minutes
                }
                if verdict.is_new_burst:
                    log.warning("sandbox.oauth consent throttled ip=%s", ip)
            elif candidate and store.check_user_password(candidate, params.get("password", "")):
                user = candidate
                request.session[SESSION_KEY] = user.pk
                throttle.clear_username(f"sandbox:{screen_name}", ip)
            else:
                throttle.record_failure(f"sandbox:{screen_name}", ip)
                user = None
                error = _("昵称或密码错误")
        if user is not None:
            if not app.is_audited and not app.test_users.filter(pk=user.pk).exists():
                return _error_redirect(
                    redirect_uri, 21321, "Applications over the unaudited use restrictions", state
                )
            code = store.create_auth_code(app, user, redirect_uri, scope)[1]
            log.info("sandbox.oauth authorize app=%s uid=%s", app.app_key, user.pk)
            return HttpResponseRedirect(with_query(redirect_uri, code=code, state=state))
    accounts = list(
        SandboxUser.objects.exclude(password="")
        .order_by("-is_official", "screen_name")
        .values_list("screen_name", flat=True)[:50]
    )
    return render(
        request,
        "sandbox/oauth_authorize.html",
        {
            "app": app,
            "user": user,
            "scopes": [s for s in scope.split(",") if s],
            "params": {
                k: v
                for k, v in params.items()
                if k
                in (
                    "client_id",
                    "redirect_uri",
                    "response_type",
                    "state",
                    "scope",
                    "display",
                    "forcelogin",
                    "language",
                )
            },
            "accounts": accounts,
            "error": error,
            "display": display,
            "forcelogin": forcelogin,
        },
        status=400 if error else 200,
    )


@guarded_oauth
def access_token(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        raise ApiError(10021)
    p = _params(request)
    grant_type = p.get("grant_type", "")
    if not p.get("client_id") or not p.get("client_secret"):
        raise OAuthError(21323, "miss client id or secret")
    app = App.objects.filter(app_key=p["client_id"]).first()
    if app is None or not hmac.compare_digest(app.app_secret, p["client_secret"]):
        raise OAuthError(21324, "invalid client id or secret")
    if not grant_type:
        raise OAuthError(21323, "miss grant_type")
    if grant_type != "authorization_code":
        # Refresh tokens exist only for Weibo's official mobile SDK; web apps re-authorise.
        raise OAuthError(21328, f"unsupported grant_type: {grant_type}")
    code_value = p.get("code", "")
    if not code_value:
        raise OAuthError(21323, "miss code")
    if not p.get("redirect_uri"):
        raise OAuthError(21323, "miss redirect uri")
    pending = AuthCode.objects.filter(code_hash=hash_credential(code_value), app=app).first()
    if (
        pending is not None
        and pending.used_at is None
        and pending.redirect_uri != p["redirect_uri"]
    ):
        raise OAuthError(21322, "redirect_uri does not match the one used to authorize")
    code = store.redeem_auth_code(app, code_value)
    if code is None:
        raise OAuthError(21325, f"invalid authorization code:{code_value}")
    token = store.grant_token(app, code.user, scope=code.scope)
    expires_in = max(round((token.expires_at - now()).total_seconds()), 0)
    log.info("sandbox.oauth token app=%s uid=%s", app.app_key, code.user_id)
    return JsonResponse(
        {
            "access_token": token.token,
            "remind_in": str(expires_in),
            "expires_in": expires_in,
            "uid": str(code.user_id),
            "isRealName": "true",
        }
    )


def _token_for(request: HttpRequest) -> Token:
    raw = _params(request).get("access_token", "").strip()
    if not raw:
        raise OAuthError(21323, "miss access_token")
    token = Token.matching(raw).select_related("app").filter(revoked_at=None).first()
    if token is None:
        raise OAuthError(21332, "invalid_access_token")
    return token


@guarded_oauth
def get_token_info(request: HttpRequest) -> HttpResponse:
    """Remaining lifetime in `expire_in` (negative once expired), numbers not strings."""
    if request.method != "POST":
        raise ApiError(10021)
    token = _token_for(request)
    app_key: int | str = (
        int(token.app.app_key) if token.app.app_key.isdigit() else token.app.app_key
    )
    return JsonResponse(
        {
            "uid": token.user_id,
            "appkey": app_key,
            "scope": token.scope or None,
            "create_at": int(token.created_at.timestamp()),
            "expire_in": round((token.expires_at - now()).total_seconds()),
        }
    )


@guarded_oauth
def revokeoauth2(request: HttpRequest) -> HttpResponse:
    token = _token_for(request)
    store.revoke_token(token)
    log.info("sandbox.oauth revoke app=%s uid=%s", token.app.app_key, token.user_id)
    return JsonResponse({"result": "true"})


@csrf_exempt
def oauth_not_found(request: HttpRequest, rest: str = "") -> HttpResponse:
    return error_response(oauth_path(request), ApiError(10020))


def sign_out(request: HttpRequest) -> HttpResponse:
    """Leave the sandbox sign-in (the consent page's "换个账号")."""
    request.session.pop(SESSION_KEY, None)
    back = request.GET.get("next", "")
    if back.startswith("/") and not back.startswith("//"):
        return HttpResponseRedirect(back)
    return HttpResponseRedirect("/sandbox/")
