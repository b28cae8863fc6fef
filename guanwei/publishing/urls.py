"""Publishing's pages."""

from django.urls import path

from guanwei.publishing import views

app_name = "publishing"
urlpatterns = [
    path("", views.post_list, name="calendar"),
    path("compose/", views.compose, name="compose"),
    path("length", views.length, name="length"),
    path("posts/<int:post_id>/", views.post_detail, name="post"),
    path("posts/<int:post_id>/<slug:action>", views.post_action, name="post_action"),
]
