"""The inbox's settings forms: they parse; settings_actions decide (errors come back on their field)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from guanwei.core.models import Member
from guanwei.inbox.models import Category, Priority, Team
from guanwei.matrix.models import Account

CATEGORY_CHOICES = [("", "—"), *Category.choices]
ASSIGN_CHOICES = [("round_robin", _("轮流分派")), ("least_open", _("分给未结最少的人")), ("manual", _("手动分派"))]


class CannedForm(forms.Form):
    title = forms.CharField(label=_("标题"), max_length=60)
    text = forms.CharField(label=_("内容"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3}),
                           help_text=_("可用变量：{customer} 客户昵称，{account} 账号，{order} 订单号。"))  # fmt: skip
    category = forms.ChoiceField(label=_("类别"), choices=CATEGORY_CHOICES, required=False)


class TeamForm(forms.Form):
    name = forms.CharField(label=_("名称"), max_length=60)
    hours = forms.CharField(label=_("营业时间"), max_length=300, initial="mon-fri 09:00-18:00",
                            help_text=_("例如 mon-fri 09:00-12:00,13:00-18:00; sat 10:00-16:00"))  # fmt: skip
    always_open = forms.BooleanField(label=_("全天候（7×24）"), required=False)
    china_holidays = forms.BooleanField(label=_("按中国法定节假日与调休"), required=False, initial=True)
    assign_mode = forms.ChoiceField(label=_("分派方式"), choices=ASSIGN_CHOICES)
    max_open_per_agent = forms.IntegerField(label=_("每人最多未结工单"), min_value=1, max_value=1000, initial=30)
    members = forms.ModelMultipleChoiceField(label=_("成员"), queryset=Member.objects.none(), required=False,
                                             widget=forms.CheckboxSelectMultiple)  # fmt: skip

    def __init__(self, *args: Any, agents: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["members"].queryset = agents if agents is not None else Member.objects.none()
        labels = dict(Priority.choices)
        for priority in Priority.values:
            self.fields[f"first_{priority}"] = forms.IntegerField(
                label=_("首次响应（分钟）· %(p)s") % {"p": labels[priority]}, min_value=1, required=False)
            self.fields[f"resolve_{priority}"] = forms.IntegerField(
                label=_("解决时限（分钟）· %(p)s") % {"p": labels[priority]}, min_value=1, required=False)

    def minutes(self, prefix: str) -> dict[str, Any]:
        return {p: self.cleaned_data.get(f"{prefix}_{p}") for p in Priority.values}


class RuleForm(forms.Form):
    name = forms.CharField(label=_("名称"), max_length=60)
    position = forms.IntegerField(label=_("顺序"), min_value=0, max_value=10_000, initial=10)
    team = forms.ModelChoiceField(label=_("客服组"), queryset=Team.objects.none())
    account = forms.ModelChoiceField(label=_("账号"), queryset=Account.objects.none(), required=False)
    category = forms.ChoiceField(label=_("类别"), choices=CATEGORY_CHOICES, required=False)
    rule = forms.CharField(label=_("关键词规则"), max_length=1000, required=False,
                           help_text=_("监控规则的写法，例如 退货 OR 退款"))  # fmt: skip
    verified_only = forms.BooleanField(label=_("只限认证用户"), required=False)
    urgent_only = forms.BooleanField(label=_("只限紧急"), required=False)

    def __init__(self, *args: Any, member: Member, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = Team.objects.filter(enterprise_id=member.enterprise_id).order_by("name")
        self.fields["account"].queryset = Account.objects.for_member(member).order_by("screen_name")
