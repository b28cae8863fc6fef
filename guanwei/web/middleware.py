"""Pages are in Chinese (zh-hans) until the member switches language.

Django's LocaleMiddleware would follow the browser's Accept-Language, so a PR team member whose
office PC runs an English Windows would get English pages they never asked for. guanwei's users
are Chinese teams, and the product's language is chosen with the switch (a cookie) only. The API
keeps honouring Accept-Language: integrations ask for what they parse.
"""


class ChineseUnlessSwitchedMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith("/api/"):
            request.META.pop("HTTP_ACCEPT_LANGUAGE", None)
        return self.get_response(request)


class RejectNulBytesMiddleware:
    """A NUL byte in the path, a query parameter or a form field is never valid input, and
    PostgreSQL refuses it in text (a 500 deep in a query). Refused here, once, for every page
    (400 page) and the API (JSON naming the field). The sandbox answers with Weibo's own error
    JSON instead (sandbox.errors.reject_nul)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/sandbox/"):
            return self.get_response(request)
        field = self._field_with_nul(request)
        if field is None:
            return self.get_response(request)
        if request.path.startswith("/api/"):
            from django.http import JsonResponse

            reason = "contains a NUL character"
            return JsonResponse({"detail": [{"field": field, "in": "query", "reason": reason}]}, status=400)
        from django.views.defaults import bad_request

        return bad_request(request, exception=None)

    @staticmethod
    def _field_with_nul(request) -> str | None:  # type: ignore[no-untyped-def]
        if "\x00" in request.path:
            return "path"
        sources = [request.GET]
        content_type = request.content_type or ""
        if request.method == "POST" and content_type in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ):
            try:
                # The raw body first: once request.POST has read the stream, a view that wants
                # the body (django-ninja parsing JSON) could not have it any more (a 500).
                request.body  # noqa: B018 - cached for request.POST and for the view
                sources.append(request.POST)
            except Exception:  # malformed or too large: the view's own handling answers
                return None
        for source in sources:
            for key, values in source.lists():
                if "\x00" in key or any("\x00" in v for v in values):
                    return key.replace("\x00", "")[:100]
        return None


class ApiJsonErrorsMiddleware:
    """Every answer under /api/ is JSON: Django and django-ninja answer a wrong method with a
    plain-text 405; it becomes {"detail": …} with the Allow header kept."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            request.path.startswith("/api/")
            and response.status_code == 405
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            from django.http import JsonResponse
            from django.utils.translation import gettext as _

            allow = response.get("Allow", "")
            response = JsonResponse({"detail": _("不支持的请求方法"), "allow": allow}, status=405)
            if allow:
                response["Allow"] = allow
        return response
