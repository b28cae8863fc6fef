"""The inbox's pages (/inbox/)."""

from django.urls import path

from guanwei.inbox import views

app_name = "inbox"
urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("list", views.item_rows, name="list"),
    path("bulk", views.bulk, name="bulk"),
    path("breached", views.breached, name="breached"),
    path("reports", views.reports, name="reports"),
    path("items/<int:item_id>/", views.item, name="item"),
    path("items/<int:item_id>/presence", views.presence, name="presence"),
    path("canned/", views.canned, name="canned"),
    path("canned/<int:canned_id>/delete", views.canned_delete, name="canned_delete"),
    path("teams/", views.teams, name="teams"),
    path("teams/<int:team_id>/", views.team_edit, name="team"),
    path("rules/<int:rule_id>/", views.rule_edit, name="rule"),
]
