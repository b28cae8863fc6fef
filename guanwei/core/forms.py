"""Forms for sign-in, members, invitations, tokens and the audit filter (validation only)."""

from __future__ import annotations

from datetime import date

from django import forms
from django.utils.translation import gettext_lazy as _

from guanwei.core.audit import action_label, object_type_label
from guanwei.core.choosers import ChooserSelect, bound_to_selection
from guanwei.core.models import Channel, Member, Role

# `autocomplete` tokens (WHATWG autofill) let password managers and assistive technology fill
# the right field: the sign-in name, the current password, a new password.
USERNAME = {"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"}
CURRENT_PASSWORD = {"autocomplete": "current-password"}
NEW_PASSWORD = {"autocomplete": "new-password"}


class LoginForm(forms.Form):
    username = forms.CharField(label=_("用户名"), max_length=150, widget=forms.TextInput(attrs=USERNAME))
    password = forms.CharField(
        label=_("密码"), widget=forms.PasswordInput(attrs=CURRENT_PASSWORD), strip=False
    )


class PasswordChangeForm(forms.Form):
    old_password = forms.CharField(
        label=_("当前密码"), widget=forms.PasswordInput(attrs=CURRENT_PASSWORD), strip=False
    )
    new_password1 = forms.CharField(
        label=_("新密码"), widget=forms.PasswordInput(attrs=NEW_PASSWORD), strip=False
    )
    new_password2 = forms.CharField(
        label=_("再次输入新密码"), widget=forms.PasswordInput(attrs=NEW_PASSWORD), strip=False
    )

    def clean(self):  # type: ignore[no-untyped-def]
        data = super().clean()
        if data.get("new_password1") and data.get("new_password1") != data.get("new_password2"):
            self.add_error("new_password2", _("两次输入的新密码不一致"))
        return data


class InviteForm(forms.Form):
    email = forms.EmailField(label=_("邮箱"), max_length=254)
    role = forms.ChoiceField(label=_("角色"), choices=Role.choices, initial=Role.EDITOR)


class AcceptInvitationForm(forms.Form):
    username = forms.RegexField(
        label=_("用户名"), max_length=150, regex=r"^[\w.@+-]+\Z",
        error_messages={"invalid": _("用户名只能包含字母、数字和 @/./+/-/_")},
        widget=forms.TextInput(attrs=USERNAME),
    )
    display_name = forms.CharField(
        label=_("显示名"), max_length=100, widget=forms.TextInput(attrs={"autocomplete": "name"})
    )
    password1 = forms.CharField(
        label=_("密码"), widget=forms.PasswordInput(attrs=NEW_PASSWORD), strip=False
    )
    password2 = forms.CharField(
        label=_("再次输入密码"), widget=forms.PasswordInput(attrs=NEW_PASSWORD), strip=False
    )

    def clean(self):  # type: ignore[no-untyped-def]
        data = super().clean()
        if data.get("password1") and data.get("password1") != data.get("password2"):
            self.add_error("password2", _("两次输入的密码不一致"))
        return data


class RoleForm(forms.Form):
    role = forms.ChoiceField(label=_("角色"), choices=Role.choices)


class TokenForm(forms.Form):
    name = forms.CharField(label=_("名称"), max_length=100)


ACTIVE_CHOICES = [("", _("全部")), ("1", _("启用")), ("0", _("已停用"))]


class MemberFilterForm(forms.Form):
    q = forms.CharField(
        label=_("搜索"), required=False, max_length=100,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": _("名字或用户名")}),
    )
    role = forms.ChoiceField(label=_("角色"), choices=[("", _("全部")), *Role.choices], required=False)
    active = forms.ChoiceField(label=_("状态"), choices=ACTIVE_CHOICES, required=False)


AUDIT_FIRST_DAY = date(2000, 1, 1)
AUDIT_LAST_DAY = date(2999, 12, 31)


class AuditFilterForm(forms.Form):
    actor = forms.ModelChoiceField(
        label=_("操作人"), queryset=Member.objects.none(), required=False, empty_label=_("全部")
    )
    action = forms.ChoiceField(label=_("操作"), required=False)
    object_type = forms.ChoiceField(label=_("对象类型"), required=False)
    since = forms.DateField(label=_("开始日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label=_("结束日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, member: Member, actions: list[str], object_types: list[str], **kw):  # type: ignore[no-untyped-def]
        super().__init__(*args, **kw)
        # A searchable chooser: 5,000 members as <option>s were most of this page's time.
        self.fields["actor"].widget = ChooserSelect(source="core:member_choices")
        bound_to_selection(
            self.fields["actor"],
            Member.objects.for_member(member),
            self.data.get("actor") if self.is_bound else None,
            label=lambda m: m.display_name,
        )
        self.fields["action"].choices = [("", _("全部")), *((a, action_label(a)) for a in actions)]
        self.fields["object_type"].choices = [
            ("", _("全部")), *((t, object_type_label(t)) for t in object_types)
        ]

    def clean(self):  # type: ignore[no-untyped-def]
        data = super().clean()
        for name in ("since", "until"):
            day = data.get(name)
            # Beyond these, converting the day to UTC in the enterprise's zone overflows.
            if day is not None and not (AUDIT_FIRST_DAY <= day <= AUDIT_LAST_DAY):
                self.add_error(name, _("日期须在 %(first)s 与 %(last)s 之间") % {
                    "first": AUDIT_FIRST_DAY.isoformat(), "last": AUDIT_LAST_DAY.isoformat()
                })
                data.pop(name, None)
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            self.add_error("until", _("结束日期不能早于开始日期"))
        return data


class ChannelForm(forms.Form):
    """A channel's settings. Secrets are write-only: never rendered back; on edit, an empty
    secret keeps the stored one (a webhook's signing secret is generated, shown once)."""

    name = forms.CharField(label=_("名称"), max_length=100)
    kind = forms.ChoiceField(label=_("类型"), choices=Channel.Kind.choices)
    url = forms.CharField(
        label=_("地址"), required=False, max_length=2000,
        help_text=_("Webhook 或机器人的地址（含 access_token / key，保存后只显示域名）；电子邮件：收件地址，用逗号分隔；站内通知：留空。"),
    )  # fmt: skip
    secret = forms.CharField(
        label=_("加签密钥"), required=False, max_length=200, strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_("钉钉“加签”的 SEC… 密钥或飞书的签名校验密钥（可留空）。Webhook 的签名密钥由系统生成。"),
    )  # fmt: skip
    events = forms.CharField(
        label=_("订阅的事件"), required=False, max_length=500,
        help_text=_("事件名或领域，用逗号分隔，例如 account, export.done；留空表示全部事件。"),
    )  # fmt: skip
    bell_action = forms.ChoiceField(
        label=_("站内通知给谁"), required=False,
        help_text=_("只用于“站内通知”类型。"),
        choices=[("channel.manage", _("管理员")), ("account.manage", _("能管理账号的成员")),
                 ("dashboard.view", _("全体成员"))],
    )  # fmt: skip
    is_active = forms.BooleanField(label=_("启用"), required=False, initial=True)

    def clean_events(self) -> list[str]:
        raw = self.cleaned_data["events"].replace("，", ",")
        events = sorted({e.strip() for e in raw.split(",") if e.strip()})
        for event in events:
            if not all(part.replace("_", "").isalnum() and part.isascii() for part in event.split(".")):
                raise forms.ValidationError(_("事件名只能包含字母、数字、下划线和点：%(event)s") % {"event": event[:40]})
        return events[:30]

    def clean(self):  # type: ignore[no-untyped-def]
        from django.core.validators import validate_email

        from guanwei.core import outbound

        data = super().clean()
        kind, url = data.get("kind"), (data.get("url") or "").strip()
        if kind == Channel.Kind.EMAIL:
            addresses = [a.strip() for a in url.replace("，", ",").split(",") if a.strip()]
            if not addresses:
                self.add_error("url", _("请填写至少一个收件地址。"))
            for address in addresses[:20]:
                try:
                    validate_email(address)
                except forms.ValidationError:
                    self.add_error("url", _("不是有效的邮件地址：%(a)s") % {"a": address[:100]})
                    break
            if len(addresses) > 20:
                self.add_error("url", _("最多 20 个收件地址。"))
            data["url"] = ", ".join(addresses)
        elif kind == Channel.Kind.BELL:
            data["url"] = ""
        elif kind:
            if not url and not self.initial.get("has_url"):
                self.add_error("url", _("请填写地址。"))
            elif url and (not url.startswith(("https://", "http://")) or outbound.url_problem(url)):
                self.add_error(
                    "url",
                    _("不能使用这个地址：须是公网的 https 地址。内网地址请由服务器管理员在 GUANWEI_OUTBOUND_ALLOW 中放行。"),
                )
            data["url"] = url
        secret = data.get("secret") or ""
        if kind == Channel.Kind.DINGTALK and secret and not secret.startswith("SEC"):
            self.add_error("secret", _("钉钉的加签密钥以 SEC 开头。"))
        return data
