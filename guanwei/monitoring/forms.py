"""Forms of the monitoring pages: they parse; the actions check the rule and name the field."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from guanwei.monitoring.models import MonitorGroup


class MonitorForm(forms.Form):
    name = forms.CharField(label=_("名称"), max_length=60)
    group = forms.ChoiceField(label=_("分组"), choices=MonitorGroup.choices, initial=MonitorGroup.BRAND)
    rule = forms.CharField(
        label=_("规则"), max_length=2000, strip=False,
        help_text=_("例如：(品牌名 OR 产品名) NEAR/15 (变质 OR 投诉) -广告。"),
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
    )  # fmt: skip
    is_active = forms.BooleanField(label=_("启用"), required=False, initial=True)
