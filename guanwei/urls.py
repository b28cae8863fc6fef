"""URL map: each app brings its own urls module (the API mounts its routers in guanwei.api)."""

from django.urls import include, path

from guanwei.ops import views as ops_views

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("guanwei.core.urls")),  # login, logout, members, invitations, audit, tokens
    path("", include("guanwei.web.urls")),  # dashboard and the strategy landing pages
    path("matrix/", include("guanwei.matrix.urls")),
    path("ops/", include("guanwei.ops.urls")),  # plus /healthz
    path("healthz", ops_views.healthz, name="healthz"),
    path("sandbox/", include("guanwei.sandbox.urls")),
    path("api/v1/", include("guanwei.api.urls")),  # one NinjaAPI, routers from each app
]
