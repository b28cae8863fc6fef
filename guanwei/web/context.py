"""Template context shared by every page (navigation, current member)."""


def shell(request):
    return {}
