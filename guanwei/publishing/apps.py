from django.apps import AppConfig


class PublishingConfig(AppConfig):
    name = "guanwei.publishing"
    label = "publishing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.utils.translation import gettext_lazy as _

        from guanwei.core import exports
        from guanwei.core.audit import register_action_labels
        from guanwei.publishing import plan

        exports.register(
            exports.ExportKind(
                name="plan", label=_("发布排期"), permission="post.view", filename="guanwei-plan",
                queryset=plan.filtered, lines=plan.csv_lines,
            )
        )  # fmt: skip

        register_action_labels(
            {
                "post.created": _("创建内容"),
                "post.edited": _("修改内容"),
                "post.approved": _("批准内容"),
                "post.approval_recorded": _("审批（本级通过）"),
                "post.commented": _("评论内容"),
                "post.emergency": _("标记为紧急发布"),
                "post.emergency_off": _("取消紧急发布"),
                "post.delete_requested": _("申请删除已发布内容"),
                "target.state_changed": _("发布状态变化"),
                "approval_policy.created": _("新建审批流程"),
                "approval_policy.changed": _("修改审批流程"),
                "approval_policy.deleted": _("删除审批流程"),
                "sensitive_word.added": _("添加敏感词"),
                "sensitive_word.changed": _("修改敏感词"),
                "sensitive_word.deleted": _("删除敏感词"),
                "sensitive_word.imported": _("导入敏感词"),
                "series.created": _("新建内容系列"),
                "series.deleted": _("删除内容系列"),
                "campaign.created": _("新建营销活动"),
                "campaign.deleted": _("删除营销活动"),
                "plan.imported": _("导入排期"),
                "publishing.settings_changed": _("修改发布设置"),
            },
            {
                **dict.fromkeys(
                    ["post.created", "post.edited", "post.approved", "post.approval_recorded", "post.commented",
                     "post.emergency", "post.emergency_off", "post.delete_requested"],
                    lambda p: str(p.get("excerpt", "")),
                ),  # fmt: skip
                **dict.fromkeys(
                    ["approval_policy.created", "approval_policy.changed", "approval_policy.deleted",
                     "series.created", "series.deleted", "campaign.created", "campaign.deleted"],
                    lambda p: str(p.get("name", "")),
                ),  # fmt: skip
                **dict.fromkeys(
                    ["sensitive_word.added", "sensitive_word.changed", "sensitive_word.deleted"],
                    lambda p: str(p.get("word", "")),
                ),  # fmt: skip
                "sensitive_word.imported": lambda p: f"+{p.get('added', 0)} / ~{p.get('updated', 0)}",
                "plan.imported": lambda p: f"{p.get('posts', 0)}",
                "publishing.settings_changed": lambda p: f"{p.get('late_cutoff_minutes', '')} min",
            },
        )
