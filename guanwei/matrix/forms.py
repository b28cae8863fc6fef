"""Forms of the matrix pages. They validate input and name the field at fault; actions write."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from guanwei.core import outbound
from guanwei.core.choosers import ChooserSelect, bound_to_selection
from guanwei.core.models import Member
from guanwei.matrix.connectors import builtin_sandbox_url
from guanwei.matrix.models import Account, Connection, MatrixRole, PlatformKind


class ConnectionForm(forms.ModelForm):
    """Create or edit a platform connection. The app secret is write-only: it is never rendered
    back; on edit, leaving “replace secret” empty keeps the stored one."""

    base_url = forms.URLField(
        label=_("接口地址"),
        max_length=200,
        required=False,
        assume_scheme="https",
        help_text=_(
            "平台接口的根地址。新浪微博：https://api.weibo.com；Mastodon：实例地址，如 https://mastodon.social；沙盒：留空（总是本站的 /sandbox）"
        ),
    )
    new_secret = forms.CharField(
        label=_("App Secret"),
        required=False,
        strip=True,
        max_length=500,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )

    class Meta:
        model = Connection
        fields = ["name", "kind", "base_url", "app_key", "safe_domain", "app_level", "commercial"]
        help_texts = {
            "safe_domain": _("微博发布带链接的内容时要求的安全域名（可留空）。"),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.is_new = self.instance.pk is None
        secret = self.fields["new_secret"]
        if self.is_new:
            secret.required = True
            secret.help_text = _("保存后不再显示。")
        else:
            secret.label = _("更换 App Secret")
            secret.help_text = _("已保存（出于安全不再显示）。留空则保留原来的；填写则替换。")
        kinds = PlatformKind.choices
        if not settings.SANDBOX_ENABLED and self.instance.kind != PlatformKind.SANDBOX:
            kinds = [(k, label) for k, label in kinds if k != PlatformKind.SANDBOX]
        self.fields["kind"].choices = kinds
        # Forms and scripts written before the level existed keep working: unsaid is "ordinary".
        self.fields["app_level"].required = False

    def clean_app_level(self) -> str:
        return self.cleaned_data.get("app_level") or "ordinary"

    def clean_base_url(self) -> str:
        url = self.cleaned_data["base_url"].rstrip("/")
        if url and not url.startswith(("http://", "https://")):
            raise forms.ValidationError(_("接口地址必须以 http:// 或 https:// 开头。"))
        if url and outbound.url_problem(url):
            # One message for every reason: the form is no probe of the inside network.
            raise forms.ValidationError(
                _("不能使用这个地址：平台接口须是公网地址（生产环境须为 https）。内网平台请由服务器管理员在 GUANWEI_OUTBOUND_ALLOW 中放行。")
            )
        return url

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("kind") == PlatformKind.SANDBOX:
            # The built-in sandbox: always this server's own, wherever it listens (see
            # matrix.connectors.builtin_sandbox_url); the stored address is only a record.
            data["base_url"] = builtin_sandbox_url()
        elif data.get("kind") and not data.get("base_url") and "base_url" not in self.errors:
            self.add_error("base_url", _("请填写平台接口的根地址。"))
        return data

    def clean_app_key(self) -> str:
        key = self.cleaned_data["app_key"].strip()
        if not key:
            raise forms.ValidationError(_("请填写 App Key。"))
        return key

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        qs = Connection.objects.filter(enterprise_id=self.instance.enterprise_id, name=name)
        if self.instance.pk:
            qs = qs.exclude(pk=self.instance.pk)
        if self.instance.enterprise_id and qs.exists():
            raise forms.ValidationError(_("已有同名的平台连接，请换一个名称。"))
        return name


def account_label(obj: Account) -> str:
    return f"@{obj.screen_name} · {obj.get_matrix_role_display()}"


class ParentChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Account) -> str:
        return account_label(obj)


class AccountForm(forms.Form):
    matrix_role = forms.ChoiceField(label=_("矩阵角色"), choices=MatrixRole.choices)
    parent = ParentChoiceField(
        label=_("上级账号"),
        queryset=Account.objects.none(),
        required=False,
        empty_label=_("（无，作为顶层账号）"),
    )

    def __init__(self, *args: Any, member: Member, account: Account | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        qs = Account.objects.for_member(member).order_by("screen_name")
        if account is not None:
            qs = qs.exclude(pk=account.pk)
        self.set_parent_choices(qs)

    def set_parent_choices(self, qs: Any) -> None:
        """A searchable chooser (a matrix of 1,000 accounts is 1,000 options otherwise)."""
        field = self.fields["parent"]
        field.widget = ChooserSelect(source="matrix:account_choices")
        value = self.data.get("parent") if self.is_bound else self.initial.get("parent", field.initial)
        bound_to_selection(field, qs, value, label=account_label)


class ConnectForm(AccountForm):
    """What the account to be connected will be in the matrix, chosen before authorising."""

    def __init__(self, *args: Any, member: Member, **kwargs: Any):
        super().__init__(*args, member=member, **kwargs)
        self.fields["matrix_role"].initial = MatrixRole.PRODUCT
        parent = Account.objects.for_member(member).filter(matrix_role=MatrixRole.PARENT).first()
        self.fields["parent"].initial = parent.pk if parent else None
        self.set_parent_choices(self.fields["parent"].queryset)


class AccessForm(forms.Form):
    limited = forms.BooleanField(
        label=_("仅限指定账号"),
        required=False,
        help_text=_("不勾选：可操作全部账号。勾选：只能操作下面选中的账号。"),
    )
    accounts = forms.ModelMultipleChoiceField(
        label=_("可操作的账号"),
        queryset=Account.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args: Any, member: Member, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["accounts"].queryset = Account.objects.for_member(member).order_by(
            "screen_name"
        )
