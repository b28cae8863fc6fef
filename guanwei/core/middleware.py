"""Puts the signed-in user's active Member on the request (request.member, or None) and shows
times in the member's enterprise time zone."""

from django.utils import timezone

from guanwei.core.models import Member


def _member_of(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    member = Member.objects.select_related("enterprise").filter(user_id=user.pk).first()
    if member is None or not member.is_active:
        return None
    member.user = user
    return member


class MemberMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # Eager, not lazy: `request.member is None` must mean what it says.
        request.member = _member_of(request)
        if request.member is not None:
            timezone.activate(request.member.enterprise.time_zone)
        else:
            timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
