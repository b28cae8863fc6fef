from django.apps import AppConfig


class InboxConfig(AppConfig):
    name = "guanwei.inbox"
    label = "inbox"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.utils.translation import gettext_lazy as _

        from guanwei.core.audit import register_action_labels
        from guanwei.inbox import intake
        from guanwei.listening import consumers

        consumers.register("inbox", intake.handle)
        register_action_labels(
            {
                "item.assigned": _("分配客服工单"),
                "item.status_changed": _("客服工单状态变化"),
                "item.escalated": _("客服工单升级到公关"),
                "item.replied": _("回复客户"),
                "item.hidden": _("标为垃圾评论"),
                "reply.state_changed": _("客服回复状态变化"),
                "customer.noted": _("修改客户标签与备注"),
                "inbox.team_changed": _("修改客服团队"),
                "inbox.rule_changed": _("修改分派规则"),
                "inbox.canned_changed": _("修改快捷回复"),
            },
            {
                **dict.fromkeys(["item.assigned", "item.status_changed", "item.escalated", "item.replied", "item.hidden",
                                 "reply.state_changed", "customer.noted"],
                                lambda p: str(p.get("excerpt", ""))),
                **dict.fromkeys(["inbox.team_changed", "inbox.rule_changed", "inbox.canned_changed"],
                                lambda p: str(p.get("name", ""))),
            },  # fmt: skip
        )
