"""Weibo's error replies: `{"request", "error_code", "error"}` with a numeric code and a non-2xx
status (PLATFORM_APIS §4.2–4.3), and the OAuth2 variant with `error_uri`/`error_description`.

The HTTP status per code is not documented [UNCONFIRMED]; observed: 400 for 10017/10006/20206,
403 for 10014. We use 400 for request and content errors, 403 for permission, token and rate
errors, 404/405 for unknown API / wrong method, 5xx for system errors.
"""

from __future__ import annotations

from django.http import JsonResponse

# code → (message, HTTP status). Messages are Weibo's own English texts.
ERRORS: dict[int, tuple[str, int]] = {
    10001: ("System error", 500),
    10002: ("Service unavailable", 503),
    10006: ("source paramter(appkey) is missing", 403),
    10008: ("Param error, see doc for more info", 400),
    10014: ("Insufficient app permissions", 403),
    10016: ("Miss required parameter (%s) , see doc for more info", 400),
    10017: (
        "Parameter (%s)'s value invalid, expect (%s) , but get (%s) , see doc for more info",
        400,
    ),
    10018: ("Request body length over limit", 400),
    10020: ("Request api not found!", 404),
    10021: ("HTTP method is not suported for this request!", 405),
    10022: ("IP requests out of rate limit!", 403),
    10023: ("User requests out of rate limit!", 403),
    10024: ("User requests for (%s) out of rate limit!", 403),
    20003: ("User does not exists!", 400),
    20005: ("Unsupported image type, only suport JPG, GIF, PNG!", 400),
    20006: ("Image size too large!", 400),
    20007: ("Does multipart has image?", 400),
    20008: ("Content is null!", 400),
    20012: ("Text too long, please input text less than 140 characters!", 400),
    20013: ("Text too long, please input text less than 300 characters!", 400),
    20016: ("Out of limit!", 400),
    20017: ("Repeat content!", 400),
    20019: ("Repeat conetnt!", 400),
    20101: ("Target weibo does not exist!", 400),
    20102: ("Not your own weibo!", 403),
    20201: ("Target weibo comment does not exist!", 400),
    20203: ("Not your own comment!", 403),
    20206: ("only author's attention user can comment!", 400),
    20504: ("Can not follow yourself!", 400),
    20506: ("Already followed!", 400),
    20521: ("Hi Superman, you have followed too many people today!", 403),
    20522: ("Not followed!", 400),
    20301: ("Can't send direct message to user who is not your follower!", 403),
    20302: ("Reply window closed: no message from this user within 48 hours!", 403),
    21321: ("Applications over the unaudited use restrictions!", 403),
    21327: ("expired_token", 403),
    21332: ("invalid_access_token", 403),
    21335: ("Request uid's value must be the current user uid!", 400),
}

# OAuth2 errors (§1.6): code → (error name, HTTP status).
OAUTH_ERRORS: dict[int, tuple[str, int]] = {
    21322: ("redirect_uri_mismatch", 400),
    21323: ("invalid_request", 400),
    21324: ("invalid_client", 401),
    21325: ("invalid_grant", 400),
    21326: ("unauthorized_client", 400),
    21327: ("expired_token", 403),
    21328: ("unsupported_grant_type", 400),
    21329: ("unsupported_response_type", 400),
    21330: ("access_denied", 403),
    21331: ("temporarily_unavailable", 503),
    21332: ("invalid_access_token", 403),
    21321: ("unaudited_app_restricted", 403),
}


class ApiError(Exception):
    """Raised anywhere below a sandbox view; the view wrapper turns it into Weibo's JSON."""

    def __init__(
        self, code: int, *args: str, message: str | None = None, status: int | None = None
    ):
        template, default_status = ERRORS.get(code, ("System error", 400))
        if message is None:
            message = (
                template % args if args and "%s" in template else template.replace(" (%s)", "")
            )
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status or default_status


class OAuthError(Exception):
    def __init__(self, code: int, description: str = ""):
        name, status = OAUTH_ERRORS[code]
        super().__init__(description or name)
        self.code = code
        self.name = name
        self.description = description or name
        self.status = status


def missing(param: str) -> ApiError:
    return ApiError(10016, param)


def invalid(param: str, expected: str, got: str) -> ApiError:
    return ApiError(10017, param, expected, got[:50])


def error_response(request_path: str, exc: ApiError) -> JsonResponse:
    return JsonResponse(
        {"request": request_path, "error_code": exc.code, "error": exc.message},
        status=exc.status,
        json_dumps_params={"ensure_ascii": False},
    )


def oauth_error_response(request_path: str, exc: OAuthError) -> JsonResponse:
    return JsonResponse(
        {
            "error": exc.name,
            "error_code": exc.code,
            "request": request_path,
            "error_uri": request_path,
            "error_description": exc.description,
        },
        status=exc.status,
        json_dumps_params={"ensure_ascii": False},
    )


def reject_nul(request) -> None:  # type: ignore[no-untyped-def]
    """A NUL byte in any parameter or the token header is a malformed request (10008) — and
    PostgreSQL refuses NUL in text, so it must never reach a query."""
    values = [request.path, request.META.get("HTTP_AUTHORIZATION", "")]
    for query in (request.GET, request.POST if request.method == "POST" else None):
        if query is not None:
            for key, items in query.lists():
                values.append(key)
                values.extend(items)
    if any("\x00" in value for value in values):
        raise ApiError(10008)
