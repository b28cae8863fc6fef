"""The five areas of the playbook (组合 / 传播 / 销售 / 服务 / 管理) and the pages in each.

A link whose URL name does not resolve yet is a page a later issue will build: the navigation
leaves it out and the area's landing page lists it under “尚未构建”, so nothing is faked.
Apps that add a page add (or rename) its link here.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import NoReverseMatch, reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from guanwei.core.models import Member
from guanwei.core.permissions import can, is_operator


@dataclass(frozen=True)
class Link:
    label: str | Promise
    url_name: str
    action: str
    description: str | Promise = ""


@dataclass(frozen=True)
class Area:
    slug: str
    label: str | Promise  # the short name in the navigation
    title: str | Promise  # the strategy's name in the playbook
    summary: str | Promise
    links: tuple[Link, ...]


AREAS: tuple[Area, ...] = (
    Area(
        "combination",
        pgettext_lazy("nav", "组合"),
        _("组合策略 · 账号矩阵"),
        _("母微博与产品、活动、客服、社区、电商、地区子账号组成的矩阵：账号的广度、深度与一致性。"),
        (
            Link(
                pgettext_lazy("nav", "账号矩阵"),
                "matrix:matrix",
                "account.view",
                _("矩阵树、每个账号的状态、粉丝数和授权到期时间。"),
            ),
            Link(
                pgettext_lazy("nav", "平台连接"),
                "matrix:connections",
                "account.manage",
                _("沙盒、新浪微博、Mastodon 的应用凭据；从这里连接账号。"),
            ),
            Link(
                pgettext_lazy("nav", "账号权限"),
                "matrix:access",
                "account.manage",
                _("受限成员可以代表哪些账号操作。"),
            ),
            Link(
                pgettext_lazy("nav", "矩阵分析（三度）"),
                "insight:matrix",
                "account.view",
                _("广度、深度、一致性及粉丝、互动指标。"),
            ),
        ),
    ),
    Area(
        "communication",
        pgettext_lazy("nav", "传播"),
        _("传播策略 · 内容与舆情"),
        _("内容发布与排期、话题和热点人物、公关与舆情监控、危机处理。"),
        (
            Link(
                pgettext_lazy("nav", "撰稿"),
                "publishing:compose",
                "post.edit",
                _("一次撰稿，按账号生成不同版本，送审后定时发布。"),
            ),
            Link(
                pgettext_lazy("nav", "发布日历"),
                "publishing:calendar",
                "post.view",
                _("各账号的排期与已发布内容：月、周、列表，拖动改期，节假日与营销节点。"),
            ),
            Link(
                pgettext_lazy("nav", "系列与活动"),
                "publishing:tags",
                "post.view",
                _("内容系列（如过去/现在/未来）与营销活动，用于日历筛选。"),
            ),
            Link(
                pgettext_lazy("nav", "聆听"),
                "listening:overview",
                "account.view",
                _("各账号收到的 @提及、评论和私信：读取状态与最新内容。"),
            ),
            Link(
                pgettext_lazy("nav", "舆情监控"),
                "monitoring:monitors",
                "monitor.manage",
                _("品牌、产品、竞品、高管的监控规则与提及。"),
            ),
            Link(
                pgettext_lazy("nav", "事件与预警"),
                "monitoring:incidents",
                "monitor.manage",
                _("声量突增的预警和危机处理室。"),
            ),
        ),
    ),
    Area(
        "sales",
        pgettext_lazy("nav", "销售"),
        _("销售策略 · 活动与电商"),
        _("社区运营、电商导流、促销与抽奖活动，以及可追踪的链接。"),
        (
            Link(
                pgettext_lazy("nav", "活动"),
                "campaigns:campaigns",
                "campaign.manage",
                _("促销、抽奖、系列活动及其效果。"),
            ),
            Link(
                pgettext_lazy("nav", "追踪链接"),
                "campaigns:links",
                "campaign.manage",
                _("带来源标记的短链接与点击统计。"),
            ),
        ),
    ),
    Area(
        "service",
        pgettext_lazy("nav", "服务"),
        _("服务策略 · 实时客服"),
        _("评论、@提及、转发评论与私信汇入一个收件箱，分派给客服并按时限回复。"),
        (
            Link(
                pgettext_lazy("nav", "客服收件箱"),
                "inbox:inbox",
                "inbox.reply",
                _("待处理的客户消息、分派与回复。"),
            ),
            Link(
                pgettext_lazy("nav", "超时工单"),
                "inbox:breached",
                "inbox.reply",
                _("超过首次响应时限的工单。"),
            ),
            Link(
                pgettext_lazy("nav", "快捷回复"),
                "inbox:canned",
                "inbox.reply",
                _("常用回复模板，可带客户昵称、订单号等变量。"),
            ),
            Link(
                pgettext_lazy("nav", "服务报表"),
                "inbox:reports",
                "inbox.reply",
                _("工单量、响应与解决用时、按客服和客服组的达标率。"),
            ),
            Link(
                pgettext_lazy("nav", "客服组与分派规则"),
                "inbox:teams",
                "inbox.manage",
                _("营业时间、响应时限、分派方式，以及工单进入哪个组。"),
            ),
            Link(
                pgettext_lazy("nav", "客户"),
                "inbox:customers",
                "inbox.reply",
                _("跨账号的客户档案与往来记录。"),
            ),
        ),
    ),
    Area(
        "management",
        pgettext_lazy("nav", "管理"),
        _("管理策略 · 工作流程与组织架构"),
        _("企业成员与角色、审批流程、审计日志、接口令牌与系统运行状态。"),
        (
            Link(
                pgettext_lazy("nav", "成员与角色"),
                "core:members",
                "member.view",
                _("邀请成员、调整角色、停用账号。"),
            ),
            Link(
                pgettext_lazy("nav", "审核队列"),
                "publishing:review",
                "post.review",
                _("等你审批的内容，以及自你上次看过后改了什么。"),
            ),
            Link(
                pgettext_lazy("nav", "审批流程"),
                "publishing:policies",
                "post.review",
                _("按账号和内容类型的多级审批：任一人或全部批准，紧急发布。"),
            ),
            Link(
                pgettext_lazy("nav", "敏感词"),
                "publishing:words",
                "publishing.manage",
                _("发布前检查的敏感词表：禁止或提醒，可从文件导入。"),
            ),
            Link(
                pgettext_lazy("nav", "审计日志"),
                "core:audit",
                "audit.view",
                _("谁在何时做了什么；可筛选、导出 CSV。"),
            ),
            Link(
                pgettext_lazy("nav", "通知渠道"),
                "core:channels",
                "channel.manage",
                _("Webhook、邮件、钉钉、企业微信、飞书：告警和通知发往哪里。"),
            ),
            Link(
                pgettext_lazy("nav", "API 令牌"),
                "core:tokens",
                "apitoken.manage",
                _("个人接口令牌，用于 /api/v1/。"),
            ),
            Link(
                pgettext_lazy("nav", "运行状态"),
                "ops:status",
                "ops.view",
                _("后台任务进程、队列与逾期任务。"),
            ),
        ),
    ),
)

# The server operator's pages (Django superuser; no tenant role reaches them). They sit in the
# operator's own menu, never in an enterprise's navigation.
OPERATOR_LINKS: tuple[Link, ...] = (
    Link(pgettext_lazy("nav", "服务器运行状态"), "ops:status", "operator"),
    Link(pgettext_lazy("nav", "沙盒平台"), "sandbox:index", "operator"),
    Link(pgettext_lazy("nav", "沙盒场景与回放"), "sandbox:runs", "operator"),
    Link(pgettext_lazy("nav", "沙盒故障注入"), "sandbox:faults", "operator"),
    Link(pgettext_lazy("nav", "沙盒粉丝服务"), "sandbox:fans", "operator"),
)


def operator_links(user: object) -> list[dict]:
    """The operator's menu (empty for everyone else)."""
    if not is_operator(user):
        return []
    return [{"label": link.label, "url": url} for link in OPERATOR_LINKS if (url := resolve(link))]


AREAS_BY_SLUG = {a.slug: a for a in AREAS}


def resolve(link: Link) -> str | None:
    try:
        return reverse(link.url_name)
    except NoReverseMatch:
        return None


@dataclass
class ResolvedLink:
    link: Link
    url: str | None  # None: not built yet
    allowed: bool


def area_links(member: Member | None, area: Area) -> list[ResolvedLink]:
    return [ResolvedLink(link, resolve(link), can(member, link.action)) for link in area.links]


def navigation(member: Member | None, path: str) -> list[dict]:
    """The navigation for `member`: each area with the built pages they may open. The current
    page is the item with the longest URL that `path` starts with (/matrix/connections/ is not
    also /matrix/)."""
    areas = [(area, [r for r in area_links(member, area) if r.url and r.allowed]) for area in AREAS]
    matches = [r.url for _, links in areas for r in links if r.url and path.startswith(r.url)]
    current = max(matches, key=len, default=None)
    nav = []
    for area, links in areas:
        area_url = reverse("web:area", args=[area.slug])
        items = [{"label": r.link.label, "url": r.url, "active": r.url == current} for r in links]
        nav.append(
            {
                "slug": area.slug,
                "label": area.label,
                "url": area_url,
                "items": items,
                "active": path == area_url or any(i["active"] for i in items),
            }
        )
    return nav
