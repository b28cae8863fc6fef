"""Monitoring's pages."""

from django.urls import path

from guanwei.monitoring import views

app_name = "monitoring"
urlpatterns = [
    path("", views.monitors, name="monitors"),
    path("new", views.monitor_edit, name="monitor_new"),
    path("check", views.check, name="check"),
    path("share", views.share, name="share"),
    path("alerts/", views.alerts, name="alerts"),
    path("incidents/", views.incidents, name="incidents"),
    path("incidents/<int:incident_id>/", views.incident, name="incident"),
    path("incidents/<int:incident_id>/review", views.incident_review, name="incident_review"),
    path("<int:monitor_id>/alert-rule", views.alert_rule, name="alert_rule"),
    path("export", views.export, name="export"),
    path("<int:monitor_id>/", views.monitor_detail, name="monitor"),
    path("<int:monitor_id>/edit", views.monitor_edit, name="monitor_edit"),
    path("<int:monitor_id>/delete", views.monitor_delete, name="monitor_delete"),
]
