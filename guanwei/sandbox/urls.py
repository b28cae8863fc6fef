"""The sandbox platform under /sandbox/: Weibo's REST API at 2/<resource>/<name>.json, OAuth2 at
oauth2/<step>, pictures and avatars, the fault page, and (added by the scenario side) the public
timeline and scenario pages. Each side adds its routes here with small edits."""

from django.urls import path, re_path

from . import admin_views, api_views, oauth, pages

app_name = "sandbox"
urlpatterns = [
    # --- platform API (Weibo Open API v2) ---
    re_path(r"^2/(?P<name>[a-z_/]+)\.json$", api_views.api, name="api"),
    re_path(r"^2/(?P<rest>.*)$", api_views.api_not_found, name="api_not_found"),
    # --- OAuth2 ---
    path("oauth2/authorize", oauth.authorize, name="oauth_authorize"),
    path("oauth2/access_token", oauth.access_token, name="oauth_access_token"),
    path("oauth2/get_token_info", oauth.get_token_info, name="oauth_get_token_info"),
    path("oauth2/revokeoauth2", oauth.revokeoauth2, name="oauth_revoke"),
    path("oauth2/sign_out", oauth.sign_out, name="oauth_sign_out"),
    re_path(r"^oauth2/(?P<rest>.*)$", oauth.oauth_not_found, name="oauth_not_found"),
    # --- images (what sinaimg.cn serves for Weibo) ---
    path("pic/<str:size>/<int:pid>.jpg", api_views.picture, name="picture"),
    path("avatar/<int:uid>.png", api_views.avatar, name="avatar"),
    # --- operator pages ---
    path("faults/", admin_views.faults_page, name="faults"),
    path("fans/", admin_views.fans_page, name="fans"),
    # --- the public timeline and the scenario/replay runs (scenarios side: pages.py) ---
    path("", pages.timeline, name="index"),
    path("u/<int:uid>/", pages.user_page, name="user"),
    path("n/<str:name>/", pages.user_by_name, name="user_by_name"),
    path("status/<int:sid>/", pages.status_page, name="status"),
    path("runs/", pages.runs_page, name="runs"),
    path("ajax/side/hotSearch", pages.hot_search_feed, name="hot_search_feed"),
    path("runs/<int:run_id>/progress/", pages.run_progress, name="run_progress"),
    path("runs/<int:run_id>/cancel/", pages.run_cancel, name="run_cancel"),
]
