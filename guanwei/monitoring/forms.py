"""Forms of the monitoring pages: they parse; the actions check the rule and name the field."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from guanwei.core.models import Channel
from guanwei.monitoring.models import AlertRule, MonitorGroup


class MonitorForm(forms.Form):
    name = forms.CharField(label=_("名称"), max_length=60)
    group = forms.ChoiceField(label=_("分组"), choices=MonitorGroup.choices, initial=MonitorGroup.BRAND)
    rule = forms.CharField(
        label=_("规则"), max_length=2000, strip=False,
        help_text=_("例如：(品牌名 OR 产品名) NEAR/15 (变质 OR 投诉) -广告。"),
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
    )  # fmt: skip
    is_active = forms.BooleanField(label=_("启用"), required=False, initial=True)


class AlertRuleForm(forms.ModelForm):
    class Meta:
        model = AlertRule
        fields = ["is_active", "min_volume", "factor", "negative_share", "min_duration", "quiet_start", "quiet_end",
                  "cooldown", "channels"]  # fmt: skip
        widgets = {
            "quiet_start": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "quiet_end": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "channels": forms.CheckboxSelectMultiple,
        }

    def __init__(self, *args, enterprise_id: int, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.fields["channels"].queryset = Channel.objects.filter(enterprise_id=enterprise_id, is_active=True).order_by("name")
        self.fields["factor"].min_value = 1.5
        self.fields["negative_share"].max_value = 1
