from django.urls import path

from guanwei.web import views

app_name = "web"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("s/<slug:slug>/", views.area, name="area"),
    path("notifications/", views.notifications, name="notifications"),
    path("notifications/bell", views.bell, name="bell"),
    path("notifications/<int:notification_id>/dismiss", views.dismiss, name="dismiss"),
]
