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
