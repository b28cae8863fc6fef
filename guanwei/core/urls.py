"""Sign-in, members, invitations, the audit log, exports and personal API tokens."""

from django.urls import path

from guanwei.core import views

app_name = "core"
urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("settings/password/", views.password_change, name="password_change"),
    path("settings/tokens/", views.tokens, name="tokens"),
    path("settings/tokens/new/", views.token_create, name="token_create"),
    path("settings/tokens/<int:token_id>/revoke/", views.token_revoke, name="token_revoke"),
    path("members/", views.members, name="members"),
    path("members/invite/", views.member_invite, name="member_invite"),
    path("members/<int:member_id>/role/", views.member_role, name="member_role"),
    path("members/<int:member_id>/deactivate/", views.member_deactivate, name="member_deactivate"),
    path("members/<int:member_id>/reactivate/", views.member_reactivate, name="member_reactivate"),
    path(
        "members/invitations/<int:invitation_id>/revoke/",
        views.invitation_revoke,
        name="invitation_revoke",
    ),
    path("invite/<str:token>/", views.invite_accept, name="invite_accept"),
    path("audit/", views.audit_log, name="audit"),
    path("members/choose", views.member_choices, name="member_choices"),
    path("audit/export.csv", views.audit_csv, name="audit_csv"),
    path("settings/channels/", views.channel_list, name="channels"),
    path("settings/channels/<int:channel_id>/", views.channel_detail, name="channel"),
    path("settings/channels/<int:channel_id>/test", views.channel_test, name="channel_test"),
    path("exports/", views.export_list, name="exports"),
    path("exports/<int:export_id>/", views.export_detail, name="export_detail"),
    path("exports/<int:export_id>/download", views.export_download, name="export_download"),
]
