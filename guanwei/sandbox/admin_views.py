"""The sandbox operator's fault page (/sandbox/faults/): list, add, switch off and remove
injected faults, and the fans-service settings (/sandbox/fans/). Only the server operator may use
them, in every mode: they change how the platform treats every enterprise's apps and accounts."""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from guanwei.core.permissions import operator_required

from . import fanservice, faults, store
from .models import App, FanService, Fault, FaultKind, SandboxUser


class FaultForm(forms.Form):
    app = forms.ModelChoiceField(
        App.objects.order_by("name"), required=False, label=_("应用"), empty_label=_("所有应用")
    )
    endpoint = forms.CharField(
        label=_("接口"),
        initial="*",
        max_length=100,
        help_text=_("如 statuses/share、comments/*、oauth2/access_token；* 表示全部"),
    )
    kind = forms.ChoiceField(label=_("故障"), choices=FaultKind.choices)
    probability = forms.FloatField(label=_("概率"), initial=1.0, min_value=0.0, max_value=1.0)
    times = forms.IntegerField(label=_("仅接下来 N 次"), required=False, min_value=1, max_value=1_000_000)
    delay_s = forms.FloatField(label=_("挂起秒数"), initial=15.0, min_value=0.0, max_value=120.0)
    http_status = forms.TypedChoiceField(
        label=_("HTTP 状态"),
        coerce=int,
        initial=503,
        choices=[(500, "500"), (502, "502"), (503, "503"), (504, "504")],
    )
    error_code = forms.TypedChoiceField(
        label=_("限流错误码"),
        coerce=int,
        required=False,
        empty_value=None,
        choices=[
            ("", "10023"),
            (10022, "10022"),
            (10023, "10023"),
            (10024, "10024"),
            (20016, "20016"),
        ],
    )
    note = forms.CharField(label=_("备注"), required=False, max_length=200)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs.setdefault("class", "sbx-input")


@operator_required
def faults_page(request: HttpRequest) -> HttpResponse:
    form = FaultForm(request.POST or None)
    if request.method == "POST":
        action = request.POST.get("action", "add")
        if action == "add":
            if form.is_valid():
                d = form.cleaned_data
                faults.add_fault(
                    d["kind"],
                    d["endpoint"],
                    app=d["app"],
                    probability=d["probability"],
                    times=d["times"],
                    delay_s=d["delay_s"],
                    http_status=d["http_status"],
                    error_code=d["error_code"],
                    note=d["note"],
                )
                return HttpResponseRedirect(reverse("sandbox:faults"))
        else:
            if action == "clear":
                faults.clear_faults()
            else:
                fault = get_object_or_404(Fault, pk=request.POST.get("fault"))
                if action == "delete":
                    fault.delete()
                elif action == "toggle":
                    faults.set_enabled(fault, not fault.is_enabled)
            return HttpResponseRedirect(reverse("sandbox:faults"))
    rows = Fault.objects.select_related("app").order_by("-pk")[:200]
    return render(
        request,
        "sandbox/faults.html",
        {"form": form, "faults": rows},
        status=400 if form.errors else 200,
    )


class FanServiceForm(forms.Form):
    """粉丝服务 → 高级功能 → 开发模式: the callback URL and the app whose secret signs pushes."""

    account = forms.ModelChoiceField(
        SandboxUser.objects.filter(is_official=True).order_by("screen_name"), label=_("账号")
    )
    app = forms.ModelChoiceField(
        App.objects.order_by("name"), label=_("应用（用其 App Secret 签名）")
    )
    callback_url = forms.URLField(label=_("回调地址"), max_length=500, assume_scheme="https")
    push_mentions = forms.BooleanField(label=_("推送 @ 提及"), required=False, initial=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            if name != "push_mentions":
                field.widget.attrs.setdefault("class", "sbx-input")


@operator_required
def fans_page(request: HttpRequest) -> HttpResponse:
    """Enable an account's fans-service developer mode: save the callback, then Weibo's
    echostr handshake decides whether pushes are sent to it."""
    form = FanServiceForm(request.POST or None)
    result = None
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        fs = store.configure_fan_service(
            d["account"], d["app"], d["callback_url"], push_mentions=d["push_mentions"]
        )
        result = fanservice.verify_callback(fs)
    services = FanService.objects.select_related("user", "app").order_by("user__screen_name")
    status = 400 if form.errors or result is False else 200
    return render(
        request,
        "sandbox/fans.html",
        {"form": form, "services": services, "result": result},
        status=status,
    )
