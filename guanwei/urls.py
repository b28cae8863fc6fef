"""URL map: each app brings its own urls module (the API mounts its routers in guanwei.api)."""

from django.conf import settings
from django.urls import include, path

from guanwei.ops import views as ops_views

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("guanwei.core.urls")),  # login, logout, members, invitations, audit, tokens
    path("", include("guanwei.web.urls")),  # dashboard and the strategy landing pages
    path("matrix/", include("guanwei.matrix.urls")),
    path("listening/", include("guanwei.listening.urls")),
    path("publishing/", include("guanwei.publishing.urls")),
    path("monitoring/", include("guanwei.monitoring.urls")),
    path("inbox/", include("guanwei.inbox.urls")),
    path("ops/", include("guanwei.ops.urls")),  # plus /healthz
    path("healthz", ops_views.healthz, name="healthz"),
    path("api/v1/", include("guanwei.api.urls")),  # one NinjaAPI, routers from each app
]
if settings.SANDBOX_ENABLED:  # GUANWEI_SANDBOX: off in production unless asked for
    urlpatterns.append(path("sandbox/", include("guanwei.sandbox.urls")))
