"""Assisted manual tasks: what the API cannot carry is posted by a person.

A target becomes a manual task when its account's API cannot publish it as written: the
capability is off at the app's level, a Weibo share without a link under the safe domain
(statuses/share refuses it, 10017), more images than the API takes in one post (one), or a
repost with images. It is approved and scheduled like any other target and sits in the
calendar; when it is due, the dispatcher leaves it to people: the post's page shows copy-ready
text, the images, a link to the platform, and a field to paste the post's URL back
(`do_confirm_manual`), which settles it as published.
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from guanwei.matrix.connectors import capabilities_of
from guanwei.matrix.models import Account, PlatformKind
from guanwei.platforms.weibo import has_safe_domain_link

API_IMAGES = 1  # the connectors' publish takes one image (Weibo's share: one `pic`)


def share_problem(text: str, account: Account) -> str:
    """Why Weibo's statuses/share would refuse `text` for `account` ('' when it would not).
    Such a post is not an error: it becomes an assisted manual task (publishing.manual)."""
    if account.connection.kind == PlatformKind.MASTODON:
        return ""  # Weibo and the sandbox (which imitates it) have the rule
    # statuses/share, the only write an ordinary app has, takes text with a link under the
    # app's safe domain (PLATFORM_APIS §2.3); Weibo refuses anything else (10017).
    safe = account.connection.safe_domain.strip()
    if not safe:
        return _("平台连接“%(name)s”未填写安全域名，微博接口无法发布。") % {"name": account.connection.name}
    if not has_safe_domain_link(text, safe):
        return _("正文没有安全域名 %(domain)s 下的链接，微博接口不接受（错误 10017）。") % {"domain": safe}
    return ""


def manual_reason(account: Account, text: str, *, images: int = 0, repost: bool = False) -> str:
    """Why `account` must post this by hand ('' when the API can)."""
    caps = capabilities_of(account.connection)
    if repost:
        if not caps.repost:
            return _("此账号的接口不能转发。")
        if images:
            return _("转发不能附带图片。")
        return ""
    if not caps.publish:
        return _("此账号的接口不能发布。")
    if images > API_IMAGES:
        return _("接口每条只能带 %(n)d 张图片（本条 %(m)d 张）。") % {"n": API_IMAGES, "m": images}
    if images and not caps.publish_image:
        return _("此账号的接口不能发布图片。")
    return share_problem(text, account)
