"""Forms of the publishing pages. They parse; the actions check the rules and name the field."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from guanwei.core.models import Member
from guanwei.core.permissions import PERMISSIONS
from guanwei.matrix.models import Account
from guanwei.publishing.models import Campaign, ContentKind, Series, TierMode, WordAction

DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class MultipleImageInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleImages(forms.FileField):
    """Several files in one input; the actions check each (type, size, pixels)."""

    widget = MultipleImageInput

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        files = data if isinstance(data, list | tuple) else [data]
        return [super(MultipleImages, self).clean(f, initial) for f in files if f]


class AccountChoice(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Account) -> str:
        return f"@{obj.screen_name} · {obj.get_matrix_role_display()}"


class ComposeForm(forms.Form):
    """The composer, for a new post and for editing one. `variant_<account id>` fields carry the
    per-account texts; htmx posts the whole form to the live checks and to autosave."""

    post = forms.IntegerField(required=False, widget=forms.HiddenInput)  # the autosaved draft
    text = forms.CharField(
        label=_("正文"), max_length=5000, strip=False, required=False,
        widget=forms.Textarea(attrs={"rows": 6, "data-compose-text": ""}),
    )  # fmt: skip
    accounts = AccountChoice(label=_("发往账号"), queryset=Account.objects.none(), widget=forms.CheckboxSelectMultiple)
    repost_of = forms.CharField(
        label=_("转发微博（可选）"), required=False, max_length=300,
        help_text=_("填另一条微博的链接或 ID：正文成为转发时的评论。"),
    )  # fmt: skip
    images = MultipleImages(
        label=_("图片（最多 9 张）"), required=False,
        help_text=_("JPEG、PNG 或 GIF，每张不超过 5 MB。接口每条只能带 1 张：多于 1 张时成为人工发布任务。"),
        widget=MultipleImageInput(attrs={"accept": "image/jpeg,image/png,image/gif"}),
    )  # fmt: skip
    content_type = forms.ChoiceField(label=_("内容类型"), choices=ContentKind.choices, initial=ContentKind.GENERAL, required=False,
                                     help_text=_("审批流程可按内容类型不同（如产品宣称需法务审核）。"))  # fmt: skip
    series = forms.ModelChoiceField(label=_("内容系列"), queryset=Series.objects.none(), required=False)
    campaign = forms.ModelChoiceField(label=_("营销活动"), queryset=Campaign.objects.none(), required=False)
    scheduled_at = forms.DateTimeField(
        label=_("发布时间"), required=False, help_text=_("企业所在时区；留空表示批准后立即发布。"), widget=DATETIME,
    )  # fmt: skip
    emergency = forms.BooleanField(
        label=_("紧急发布（危机声明）"), required=False,
        help_text=_("仅所有者和管理员：一人批准即可发布，审计日志中会标明。"),
    )  # fmt: skip

    def __init__(self, *args: Any, member: Member, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.member = member
        accounts = Account.objects.for_member(member).exclude(token="").select_related("connection").order_by("screen_name")
        self.fields["accounts"].queryset = accounts
        self.fields["series"].queryset = Series.objects.filter(enterprise_id=member.enterprise_id).order_by("name")
        self.fields["campaign"].queryset = Campaign.objects.filter(enterprise_id=member.enterprise_id).order_by("name")
        if member.role not in PERMISSIONS["post.emergency"]:
            del self.fields["emergency"]
        self.variant_fields = []
        for account in accounts[:50]:
            name = f"variant_{account.pk}"
            self.fields[name] = forms.CharField(
                label=f"@{account.screen_name}", required=False, max_length=5000, strip=False,
                widget=forms.Textarea(attrs={"rows": 2}),
            )  # fmt: skip
            self.variant_fields.append(name)

    def variants(self) -> dict[int, str]:
        return {int(name.split("_", 1)[1]): self.cleaned_data.get(name) or "" for name in self.variant_fields
                if self.cleaned_data.get(name)}  # fmt: skip

    def bound_variants(self) -> list[Any]:
        return [self[name] for name in self.variant_fields]


class ScheduleForm(forms.Form):
    scheduled_at = forms.DateTimeField(label=_("发布时间"), required=False, widget=DATETIME)


class CommentForm(forms.Form):
    comment = forms.CharField(label=_("审批意见（退回时必填）"), required=False, max_length=1000, widget=forms.Textarea(attrs={"rows": 2}))


class ConfirmForm(forms.Form):
    url = forms.CharField(label=_("发出的微博链接"), max_length=300,
                          help_text=_("在平台上手动发出后，把这条微博的链接粘贴到这里。"))  # fmt: skip


class PolicyForm(forms.Form):
    """An approval chain: where it applies, and 1–3 tiers (a tier without a mode is left out)."""

    name = forms.CharField(label=_("名称"), max_length=60)
    position = forms.IntegerField(label=_("顺序"), min_value=0, max_value=999, initial=10,
                                  help_text=_("多条流程都适用时，顺序小的优先。"))  # fmt: skip
    content_type = forms.ChoiceField(label=_("内容类型"), required=False,
                                     choices=[("", _("所有类型")), *ContentKind.choices])  # fmt: skip
    accounts = AccountChoice(label=_("账号"), queryset=Account.objects.none(), required=False,
                             widget=forms.CheckboxSelectMultiple, help_text=_("不选表示所有账号。"))  # fmt: skip

    def __init__(self, *args: Any, member: Member, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["accounts"].queryset = Account.objects.for_member(member).order_by("screen_name")
        reviewers = Member.objects.filter(
            enterprise_id=member.enterprise_id, is_active=True, role__in=PERMISSIONS["post.review"]
        ).order_by("display_name")  # fmt: skip
        self.tiers = []
        for i in (1, 2, 3):
            self.fields[f"tier{i}_name"] = forms.CharField(label=_("第 %(n)d 级名称") % {"n": i}, required=False, max_length=40)
            self.fields[f"tier{i}_mode"] = forms.ChoiceField(
                label=_("第 %(n)d 级方式") % {"n": i}, required=i == 1,
                choices=[("", _("（不设这一级）")), *TierMode.choices], initial=TierMode.ANY if i == 1 else "",
            )  # fmt: skip
            self.fields[f"tier{i}_reviewers"] = forms.ModelMultipleChoiceField(
                label=_("第 %(n)d 级审核人") % {"n": i}, queryset=reviewers, required=False,
                widget=forms.CheckboxSelectMultiple, help_text=_("不选表示任一有审核权限的成员。"),
            )  # fmt: skip
            self.tiers.append((self[f"tier{i}_name"], self[f"tier{i}_mode"], self[f"tier{i}_reviewers"]))

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        for i in (1, 2, 3):
            if data.get(f"tier{i}_mode") == TierMode.ALL and not data.get(f"tier{i}_reviewers"):
                self.add_error(f"tier{i}_reviewers", _("“全部批准”须指定审核人。"))
        return data

    def tier_values(self) -> list[dict[str, Any]]:
        out = []
        for i in (1, 2, 3):
            mode = self.cleaned_data.get(f"tier{i}_mode")
            if mode:
                out.append({"name": self.cleaned_data.get(f"tier{i}_name") or "", "mode": mode,
                            "reviewers": list(self.cleaned_data.get(f"tier{i}_reviewers") or [])})  # fmt: skip
        return out


class SettingsForm(forms.Form):
    late_cutoff_minutes = forms.IntegerField(
        label=_("迟发上限（分钟）"), min_value=5, max_value=1440,
        help_text=_("超过发布时间这么久仍未发出（例如后台停了）的内容不再补发，标为“已错过”并通知作者。"),
    )  # fmt: skip


class WordForm(forms.Form):
    word = forms.CharField(label=_("敏感词"), max_length=50)
    action = forms.ChoiceField(label=_("处理"), choices=WordAction.choices, initial=WordAction.BLOCK)
    note = forms.CharField(label=_("备注"), max_length=100, required=False)


class WordImportForm(forms.Form):
    file = forms.FileField(
        label=_("词表文件"),
        help_text=_("UTF-8 文本，每行一个词；可用“词,warn”或“词,block”指定处理方式（默认禁止发布）。以 # 开头的行忽略。"),
    )  # fmt: skip
    action = forms.ChoiceField(label=_("未注明时的处理"), choices=WordAction.choices, initial=WordAction.BLOCK)


class TagForm(forms.Form):
    kind = forms.ChoiceField(label=_("类别"), choices=[("series", _("内容系列")), ("campaign", _("营销活动"))])
    name = forms.CharField(label=_("名称"), max_length=60)
    starts_on = forms.DateField(label=pgettext_lazy("campaign", "开始日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    ends_on = forms.DateField(label=pgettext_lazy("campaign", "结束日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}))


class ImportForm(forms.Form):
    file = forms.FileField(label=_("排期 CSV"), help_text=_("UTF-8（可带 BOM），首行为列名。格式见下。"))
