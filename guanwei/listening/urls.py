"""Listening's pages and the fans-service push receiver."""

from django.urls import path

from guanwei.listening import views

app_name = "listening"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("accounts/<int:account_id>/", views.account_streams, name="account"),
    path("push/<int:connection_id>/", views.push, name="push"),
    path("imports/", views.import_list, name="imports"),
    path("imports/<int:import_id>/", views.import_row, name="import_row"),
]
