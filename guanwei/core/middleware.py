"""Puts the signed-in user's active Member on the request (request.member, or None)."""

from django.utils.functional import SimpleLazyObject


def _member_of(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    member = getattr(user, "member", None)
    if member is None or not member.is_active:
        return None
    return member


class MemberMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.member = SimpleLazyObject(lambda: _member_of(request))
        return self.get_response(request)
