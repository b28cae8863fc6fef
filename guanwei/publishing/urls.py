"""Publishing's pages."""

from django.urls import path

from guanwei.publishing import views, views_calendar, views_rules

app_name = "publishing"
urlpatterns = [
    path("", views_calendar.calendar_view, name="calendar"),
    path("on-this-date", views_calendar.on_this_date, name="on_this_date"),
    path("export", views_calendar.export_plan, name="export"),
    path("import/", views_calendar.import_plan, name="import"),
    path("compose/", views.compose, name="compose"),
    path("check", views.check, name="check"),
    path("autosave", views.autosave, name="autosave"),
    path("review/", views.review_queue, name="review"),
    path("posts/<int:post_id>/", views.post_detail, name="post"),
    path("posts/<int:post_id>/edit/", views.compose, name="edit"),
    path("posts/<int:post_id>/diff", views.diff, name="diff"),
    path("posts/<int:post_id>/move", views_calendar.move, name="move"),
    path("posts/<int:post_id>/<slug:action>", views.post_action, name="post_action"),
    path("targets/<int:target_id>/<slug:action>", views.target_action, name="target_action"),
    path("images/<int:image_id>", views.image, name="image"),
    path("images/<int:image_id>/<slug:size>", views.image, name="image_size"),
    path("approvals/", views_rules.policies, name="policies"),
    path("approvals/new", views_rules.policy_edit, name="policy_new"),
    path("approvals/<int:policy_id>/", views_rules.policy_edit, name="policy_edit"),
    path("approvals/<int:policy_id>/delete", views_rules.policy_delete, name="policy_delete"),
    path("words/", views_rules.words, name="words"),
    path("words/import", views_rules.words_import, name="words_import"),
    path("words/<int:word_id>", views_rules.word_action, name="word_action"),
    path("tags/", views_rules.tags, name="tags"),
    path("tags/<slug:kind>/<int:tag_id>/delete", views_rules.tag_delete, name="tag_delete"),
]
