"""Inbox triage (工单分流): a category and an urgency flag for each customer-service item.

Transparent rules, no model: weighted cue lists over the folded text of the author's own words,
optionally nudged by the sentiment label of `guanwei.textkit.sentiment`. Every point a category
gets is a reason code the UI can show. docs/triage.md says exactly how, and how well it does.

How `categorize` decides:
1. The author's own words: the text is folded (`normalize.fold`: traditional → simplified,
   full-width → half-width, case) with the ``//@user:`` repost chain removed; at most
   `MAX_CHARS` characters are read. Emoticon codes such as ``[赞]`` are dropped. Nothing left →
   ``other`` (``empty``).
2. Each category sums the weights of its cues (`_CUES`) that occur, each cue once; @mentions
   are not read for cues. Spam also gets 2 for a link plus a price (``links+money``), 2 for a
   word character repeated 12+ times, 1 for 3+ @mentions around at most 40 characters. An
   inquiry loses 2 when a rhetorical pattern occurs (难道, 凭什么, 怎么能, 真的吗, …).
3. Sentiment, when given: ``negative`` adds 1 to complaint, ``positive`` 1 to praise, but only
   when that category already has 1.5 points or the text names a service (快递, 客服, 银行, …).
4. The first category in `PRIORITY` whose score reaches `THRESHOLD` (2) wins, else ``other``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from guanwei.textkit.normalize import fold

__all__ = [
    "CATEGORIES",
    "DEFAULT_URGENT",
    "MAX_CHARS",
    "PRIORITY",
    "THRESHOLD",
    "Triage",
    "categorize",
    "triage",
]

CATEGORIES: tuple[str, ...] = ("complaint", "inquiry", "praise", "suggestion", "spam", "other")
# 投诉 咨询 表扬 建议 垃圾 其他
# When two categories both reach the threshold: an ad is an ad whatever it says; a complaint
# phrased as a question or carrying a wish is still a complaint; a question proposing a change
# (能不能增加…？) is a suggestion.
PRIORITY: tuple[str, ...] = ("spam", "complaint", "suggestion", "inquiry", "praise")
THRESHOLD = 2.0
MAX_CHARS = 5000  # an inbox item longer than this is read only this far

DEFAULT_URGENT: tuple[str, ...] = (
    "投诉",
    "315",
    "12315",
    "12345",
    "律师",
    "起诉",
    "曝光",
    "媒体",
    "消协",
    "消费者协会",
    "工商",
    "市场监管",
    "维权",
    "报警",
    "法院",
)

Cue = tuple[str, float, str]  # (regex over the folded text, weight, reason code)

# Service words: a complaint or praise is about something someone provides.
_SERVICE = (
    r"快递|物流|客服|售后|银行|移动|联通|电信|宽带|物业|酒店|餐厅|饭店|店家|卖家|商家|店铺|"
    r"航班|航空|机场|医院|淘宝|京东|天猫|12306|地铁|公交|外卖|商场|专柜|app|网站|平台|"
    r"公司|产品|质量|服务|价格|手机|网速|订单"
)

_CUES: dict[str, tuple[Cue, ...]] = {
    "spam": (
        (
            r"加微信|加v信|加vx|加q|微信号|v信|vx[:：]|(微信|qq|扣扣)[:：]? ?[a-z0-9_]{5,}",
            3,
            "kw:加微信",
        ),
        (r"代购|刷粉|招代理|一件代发|货源|批发", 1.5, "kw:代购"),
        (r"兼职|日赚|月入", 1, "kw:兼职"),
        (r"包邮|秒杀|抢购|限时|特价|特惠|抢订|团购", 1.5, "kw:秒杀"),
        (r"原价|仅售|现价|低至|只要\d|优惠|折扣|\d(\.\d)?折|\d+元起", 1, "kw:优惠"),
        (
            r"抽奖|中奖|抽中|能中|抽我|抽取|抽\d+个|好运|转发.{0,8}(送|抽)|关注.{0,6}(送|抽)|赢取|奖品",
            2,
            "kw:抽奖",
        ),
        (r"广而告之|广告时间|硬广", 2, "kw:广告"),
        (r"互粉|回粉|求关注|批量", 2, "kw:互粉"),
        (r"淘宝店|网店|小店|店庆|官网|详情|戳|地址[:：]|免费(下载|领取|试用|游)", 1, "kw:店铺"),
        (
            r"欢迎(选购|订购|咨询|光临|品鉴)|敬请|火热|活动|专享|新品|会员|预订|预购|报名",
            1,
            "kw:推广",
        ),
    ),
    "complaint": (
        (r"(我要|要|去|必须)投诉|投诉(你|他|她|死|电话)|12315|消协", 3, "kw:我要投诉"),
        (r"投诉", 1.5, "kw:投诉"),
        (r"退款|退货|不给退|不退|退票|赔偿|不赔", 2, "kw:退款"),
        (r"差评|质量问题|质量太差|太不靠谱|不靠谱|不满意|难吃|不好用", 2, "kw:差评"),
        (
            r"(客服|人工|电话).{0,8}(不理|没人|不接|爱理不理)|没人(管|理|接)|不理会",
            2,
            "kw:客服不理",
        ),
        (r"骗子|骗钱|欺骗|诈骗|欺诈|坑人|坑钱|黑店|宰客|霸王条款|流氓", 2, "kw:骗"),
        (r"态度.{0,2}(差|恶劣|不好)|太差|真差|服务.{0,4}差|不方便", 2, "kw:态度差"),
        (
            r"(不|没|还没)发货|(不|没)派件|延误|(太|好|真|很|越来越)慢|网速.{0,2}慢|慢死",
            2,
            "kw:延误",
        ),
        (r"垃圾", 1, "kw:垃圾"),
        (r"乱收费|乱扣|扣费|扣钱|抢钱|涨价|哄抬|太贵", 2, "kw:乱收费"),
        (r"再也不(买|用|来|去|住|坐|喝|吃)|卸载|抵制|维权", 2, "kw:再也不"),
        (r"故障|瘫痪|报修|无法办理|不公平|被坑|坑了|黑心|绝望|不让退", 1.5, "kw:故障"),
        (r"坑爹|恶心|无语|伤不起|气死|醉了|受不了|够了|坏了", 1, "kw:不满"),
    ),
    "suggestion": (
        (r"(?<![的条和提])(建议|提议)|呼吁", 3, "kw:建议"),
        (r"能不能(增加|开通|出|多|推出|改|加|快点)|可不可以(增加|开通|出|多)", 3, "kw:能不能增加"),
        (
            r"希望.{0,12}(加强|改进|改善|增加|推出|开通|整治|下台|出台|解决|重视|改变|落实)",
            2,
            "kw:希望",
        ),
        (
            r"(应该|应当|应)(被)?(加|学|取消|禁止|推出|追究|调查|改|反思|出台|封|把|给|多)",
            2,
            "kw:应该",
        ),
        (r"最好|不如|要改|改进|完善|整治", 1, "kw:改进"),
    ),
    "inquiry": (
        (r"请问|求问(?!心)|想问一下|问一下|请教|咨询一下", 3, "kw:请问"),
        (r"求助|求链接|求推荐|求地址", 1.5, "kw:求助"),
        (
            r"多少钱|什么价|在哪(里|儿)?(买|有|能|可以)?|哪里(买|有|能|可以)|哪家|"
            r"怎么(买|去|办理|预约|申请|报名|弄|用|领|投诉)|如何(预约|申请|办理|购买)",
            2,
            "kw:怎么",
        ),
        (r"什么时候|何时|多久|几点|有(吗|么|冇)|还在吗|可以.{0,8}吗", 1, "kw:何时"),
        (r"有没有|有没|有无|能否|是否", 0.5, "kw:有没有"),
        (r"[?？]", 1, "question"),
        (r"[吗么呢][?？~。!！]*$|[吗么][?？]", 0.5, "question:吗"),
    ),
    "praise": (
        (r"好评|点赞|满意|干得漂亮|点个赞|赞一个|超赞|给赞", 2, "kw:好评"),
        (r"(?<!不)(好吃|好用|好看|好听|好喝)", 2, "kw:好吃"),
        (
            r"(真|很|太|超|非常)(棒|赞|给力|不错|好|专业|贴心|周到|出色|靠谱)|"
            r"(?<!不)靠谱|出色|值得推荐|说得好|美味",
            2,
            "kw:真棒",
        ),
        (r"感谢|谢谢|辛苦了", 1, "kw:感谢"),
        (r"推荐|给力|不错|喜欢|支持|精辟|有深度|赞", 1, "kw:喜欢"),
    ),
}

# Rhetorical questions and exclamations: a question mark here is not a request for information.
_RHETORICAL = re.compile(
    r"难道|凭什么|怎么能|怎么可以|还让不让|有没有搞错|有没有人性|何在|什么玩意|什么鬼|"
    r"谁知道呢|什么情况|还有天理|你怎么看|怎么看[?？]|真的吗|是真的吗|是吗|"
    r"为什么(要|不|会|没)|怎么(会|还|又|这么|就|了)|干嘛|你懂|你说|你觉得|好么|好吗|对吗|"
    r"关你什么事|岂不是|怎能|还想|王八蛋|到底"
)
_EMOTICON = re.compile(r"\[[^\[\]]{1,10}\]")
_URL = re.compile(r"https?://|t\.cn/|sinaurl\.cn/")
_MONEY = re.compile(r"\d+(\.\d+)? ?(元|块)|¥|￥|\d(\.\d)?折")
_REPEAT = re.compile(r"([^\W\d_])\1{11,}")  # a word character, not "！！！" or "???"
_MENTION = re.compile(r"@[\w\-]{1,30}")
_SERVICE_RE = re.compile(_SERVICE)
_COMPILED: dict[str, tuple[tuple[re.Pattern[str], float, str], ...]] = {
    cat: tuple((re.compile(p), w, code) for p, w, code in cues) for cat, cues in _CUES.items()
}


@dataclass(frozen=True)
class Triage:
    """工单分流 — an inbox item's category, whether it is urgent, and why (machine codes)."""

    category: str
    urgent: bool
    reasons: tuple[str, ...]


def _own_words(text: str) -> str:
    """The author's own words, folded: without the repost chain, the emoticon codes and NULs."""
    folded = fold(str(text or "")[: MAX_CHARS * 2], keep_repost_chain=False)[:MAX_CHARS]
    return _EMOTICON.sub(" ", folded).strip()


def _score(words: str) -> tuple[dict[str, float], dict[str, list[str]]]:
    """Each category's points and the reason codes that earned them."""
    plain = _MENTION.sub(" ", words)  # an account's name is not what the author says
    points = {cat: 0.0 for cat in _COMPILED}
    reasons: dict[str, list[str]] = {cat: [] for cat in _COMPILED}
    for cat, cues in _COMPILED.items():
        for pattern, weight, code in cues:
            if pattern.search(plain):
                points[cat] += weight
                reasons[cat].append(code)
    if _URL.search(words) and _MONEY.search(words):
        points["spam"] += 2
        reasons["spam"].append("links+money")
    if _REPEAT.search(plain):
        points["spam"] += 2
        reasons["spam"].append("repeated-chars")
    # Three or more @mentions around a few words: a lottery entry or a follow-for-follow call.
    if len(_MENTION.findall(words)) >= 3 and len(plain.replace(" ", "")) <= 40:
        points["spam"] += 1
        reasons["spam"].append("mass-mention")
    if points["inquiry"] and _RHETORICAL.search(plain):
        points["inquiry"] -= 2
        reasons["inquiry"].append("rhetorical")
    return points, reasons


def categorize(text: str, *, sentiment: str | None = None) -> tuple[str, tuple[str, ...]]:
    """The item's category (one of `CATEGORIES`) and the reason codes behind it.

    `sentiment` is the label of `guanwei.textkit.sentiment.classify` for the same text
    ("positive", "neutral", "negative") when the caller has it.
    """
    words = _own_words(text)
    if not words:
        return "other", ("empty",)
    points, reasons = _score(words)
    names_service = bool(_SERVICE_RE.search(words))
    # A weak cue alone (坑爹, 喜欢: 1 point) is chatter more often than not; sentiment only
    # tips a category that has a real cue (1.5 or more) or a named service.
    if sentiment == "negative" and (points["complaint"] >= 1.5 or names_service):
        points["complaint"] += 1
        reasons["complaint"].append("negative")
    elif sentiment == "positive" and (points["praise"] >= 1.5 or names_service):
        points["praise"] += 1
        reasons["praise"].append("positive")
    for cat in PRIORITY:
        if points[cat] >= THRESHOLD:
            return cat, tuple(reasons[cat])
    return "other", ()


def _keyword_pattern(keywords: tuple[str, ...]) -> re.Pattern[str] | None:
    parts = []
    for word in keywords:
        folded = fold(word)
        if not folded:
            continue
        # "315" must not fire inside a phone number or an order number.
        parts.append(
            rf"(?<!\d){re.escape(folded)}(?!\d)" if folded.isdigit() else re.escape(folded)
        )
    return re.compile("|".join(parts)) if parts else None


def triage(
    text: str,
    *,
    sentiment: str | None,
    verified: bool = False,
    followers: int = 0,
    urgent_followers: int = 10000,
    keywords: tuple[str, ...] = DEFAULT_URGENT,
) -> Triage:
    """Category plus urgency. Urgent when any of these holds (all that hold are given as reasons):

    - the author's own words contain an urgent keyword (``urgent:<keyword>``, e.g. 投诉, 315);
    - the item is negative and its author is verified (``negative+verified``) or has at least
      `urgent_followers` followers (``negative+followers``);
    - it is a complaint, negative, and its author verified (``complaint+negative+verified``).
    """
    category, reasons = categorize(text, sentiment=sentiment)
    why: list[str] = []
    pattern = _keyword_pattern(tuple(keywords))
    if pattern is not None:
        words = _own_words(text)
        found = dict.fromkeys(m.group(0) for m in pattern.finditer(words))
        why.extend(f"urgent:{word}" for word in found)
    if sentiment == "negative":
        if verified:
            why.append("negative+verified")
        if followers >= urgent_followers:
            why.append("negative+followers")
        if verified and category == "complaint":
            why.append("complaint+negative+verified")
    return Triage(category=category, urgent=bool(why), reasons=reasons + tuple(why))
