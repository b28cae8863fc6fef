from django.urls import path

from guanwei.matrix import views

app_name = "matrix"
urlpatterns = [
    path("", views.matrix_page, name="matrix"),
    path("connections/", views.connection_list, name="connections"),
    path("connections/new", views.connection_new, name="connection_new"),
    path("connections/<int:pk>/", views.connection_edit, name="connection"),
    path("connections/<int:pk>/connect", views.connect_start, name="connect"),
    path("connections/<int:pk>/callback", views.connect_callback, name="callback"),
    path("accounts/<int:pk>/", views.account_detail, name="account"),
    path("accounts/<int:pk>/reconnect", views.account_reconnect, name="reconnect"),
    path("accounts/<int:pk>/remove", views.account_remove, name="remove"),
    path("accounts/choose", views.account_choices, name="account_choices"),
    path("access/", views.access_list, name="access"),
    path("access/<int:member_id>/", views.access_edit, name="access_edit"),
]
