"""Forms of the publishing pages. They parse; the actions check the rules and name the field."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from guanwei.core.models import Member
from guanwei.matrix.models import Account


class AccountChoice(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Account) -> str:
        return f"@{obj.screen_name} · {obj.get_matrix_role_display()}"


class ComposeForm(forms.Form):
    text = forms.CharField(
        label=_("正文"), max_length=5000, strip=False,
        widget=forms.Textarea(attrs={"rows": 5, "hx-post": "", "hx-trigger": "input changed delay:250ms",
                                     "hx-target": "#length", "hx-swap": "innerHTML"}),
    )  # fmt: skip
    accounts = AccountChoice(label=_("发往账号"), queryset=Account.objects.none(), widget=forms.CheckboxSelectMultiple)
    scheduled_at = forms.DateTimeField(
        label=_("发布时间"), required=False, help_text=_("企业所在时区；留空表示批准后立即发布。"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )  # fmt: skip

    def __init__(self, *args: Any, member: Member, length_url: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["accounts"].queryset = (
            Account.objects.for_member(member).exclude(token="").select_related("connection").order_by("screen_name")
        )
        self.fields["text"].widget.attrs["hx-post"] = length_url


class ScheduleForm(forms.Form):
    scheduled_at = forms.DateTimeField(
        label=_("发布时间"), required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )  # fmt: skip


class CommentForm(forms.Form):
    comment = forms.CharField(label=_("修改意见"), required=False, max_length=1000, widget=forms.Textarea(attrs={"rows": 2}))
