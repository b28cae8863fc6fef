"""Forms for sign-in, members, invitations, tokens and the audit filter (validation only)."""

from __future__ import annotations

from datetime import date

from django import forms
from django.utils.translation import gettext_lazy as _

from guanwei.core.audit import action_label, object_type_label
from guanwei.core.choosers import ChooserSelect, bound_to_selection
from guanwei.core.models import Member, Role

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
