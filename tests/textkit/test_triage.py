"""Inbox triage: clear hand-written items get their obvious category, the urgency rules, bad input,
and (with the shared data) the labelled Weibo set still resolves and still scores."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest

from guanwei.textkit.triage import CATEGORIES, DEFAULT_URGENT, Triage, categorize, triage

REPO = Path(__file__).resolve().parents[2]
# Measured 0.531 on test (docs/triage.md); the floor only catches a regression.
TEST_MACRO_F1_FLOOR = 0.50

CLEAR = {
    "快递一个星期了还不发货，客服电话打了十次没人接，我要投诉！": "complaint",
    "买的吹风机用了三天就坏了，质量太差，必须退款": "complaint",
    "请问这款耳机什么时候到货？": "inquiry",
    "你们门店在哪里可以买到？多少钱？": "inquiry",
    "客服小姐姐服务太贴心了，给你们点赞！": "praise",
    "东西很好用，包装也精致，五星好评": "praise",
    "建议你们的App增加夜间模式，晚上看太刺眼了": "suggestion",
    "能不能增加一个按时间排序的功能？": "suggestion",
    "加微信 abc12345 代购正品，一件代发，包邮": "spam",
    "转发抽奖！关注并@三位好友，送iPhone一台": "spam",
    "今天天气不错，下午去公园散步了": "other",
}


def test_categories_are_the_six_of_the_inbox() -> None:
    assert CATEGORIES == ("complaint", "inquiry", "praise", "suggestion", "spam", "other")


@pytest.mark.parametrize(("text", "expected"), CLEAR.items())
def test_clear_items_get_their_obvious_category(text: str, expected: str) -> None:
    category, reasons = categorize(text)
    assert category == expected
    if expected != "other":
        assert reasons, "a category other than 'other' always says why"


def test_reasons_name_the_cues_that_decided() -> None:
    assert "kw:我要投诉" in categorize("太过分了，我要投诉你们")[1]
    assert "kw:请问" in categorize("请问周末营业吗？")[1]
    assert "links+money" in categorize("新款上市只要99元 http://t.cn/abc123")[1]


def test_a_rhetorical_question_is_not_an_inquiry() -> None:
    assert categorize("这种人怎么能当老师？难道没有王法了吗？")[0] != "inquiry"


def test_a_complaint_phrased_as_a_question_stays_a_complaint() -> None:
    assert categorize("为什么一直不发货？退款也不给退，客服也不理人？")[0] == "complaint"


def test_negative_sentiment_tips_a_service_complaint_but_not_chatter() -> None:
    text = "快递又把我的包裹放错了地方，无语"  # a weak cue (1) + a named service
    assert categorize(text, sentiment="neutral")[0] == "other"
    assert categorize(text, sentiment="negative") == ("complaint", ("kw:不满", "negative"))
    assert categorize("今天又加班，无语", sentiment="negative")[0] == "other"


def test_only_the_authors_own_words_count_not_the_repost_chain() -> None:
    assert categorize("哈哈哈//@某人:我要投诉这家店，退款退了一个月")[0] == "other"


def test_traditional_and_full_width_text_folds_the_same() -> None:
    assert categorize("請問這款耳機什麼時候到貨？") == categorize("请问这款耳机什么时候到货？")
    assert categorize("加微信ＡＢＣ１２３４５ 代購正品，包郵")[0] == "spam"
    assert categorize("ＷＯ要投訴，質量太差！")[0] == "complaint"


@pytest.mark.parametrize("text", ["", " ", "\x00", "\x00" * 1000, "[哈哈][哈哈]", "//@a:投诉"])
def test_empty_input_is_other(text: str) -> None:
    assert categorize(text)[0] == "other"


def test_huge_and_nul_ridden_input_does_not_crash() -> None:
    huge = ("我要投诉\x00" + "啊" * 997) * 300
    category, _ = categorize(huge)
    assert category in CATEGORIES
    assert triage(huge, sentiment="negative").urgent
    assert categorize("请问\x00什么时候\x00到货？")[0] == "inquiry"


def test_a_plain_item_is_not_urgent() -> None:
    assert triage("请问周末营业吗？", sentiment="neutral") == Triage(
        category="inquiry", urgent=False, reasons=("kw:请问", "question", "question:吗")
    )


def test_an_urgent_keyword_makes_an_item_urgent() -> None:
    result = triage("再不处理我就打12315", sentiment="neutral")
    assert result.urgent
    assert "urgent:12315" in result.reasons
    assert triage("已经联系律师准备起诉", sentiment=None).urgent


def test_315_inside_a_longer_number_is_not_a_keyword() -> None:
    assert not triage("订单号 2023151234 已签收", sentiment="neutral").urgent


def test_negative_from_a_verified_or_big_account_is_urgent() -> None:
    text = "这次体验太失望了"
    assert not triage(text, sentiment="negative").urgent
    assert "negative+verified" in triage(text, sentiment="negative", verified=True).reasons
    big = triage(text, sentiment="negative", followers=10000)
    assert big.urgent and "negative+followers" in big.reasons
    assert not triage(text, sentiment="negative", followers=9999).urgent
    assert triage(text, sentiment="negative", followers=500, urgent_followers=500).urgent
    assert not triage(text, sentiment="positive", verified=True, followers=10**6).urgent


def test_a_negative_complaint_from_a_verified_author_says_so() -> None:
    result = triage("客服态度太差，还不给退款", sentiment="negative", verified=True)
    assert result.category == "complaint"
    assert result.urgent
    assert "complaint+negative+verified" in result.reasons


def test_keywords_can_be_replaced_and_fold_like_the_text() -> None:
    assert "媒体" in DEFAULT_URGENT
    assert not triage("我要找媒体曝光", sentiment="neutral", keywords=("召回",)).urgent
    assert triage("請儘快召回", sentiment="neutral", keywords=("召回",)).urgent
    assert triage("產品召回", sentiment="neutral", keywords=("産品召回", "召回")).urgent
    assert not triage("我要投诉", sentiment="neutral", keywords=()).urgent


def _data_dir() -> Path | None:
    root = Path(os.environ.get("GUANWEI_DATA_DIR") or "/work/shared/data")
    return root if root.is_dir() else None


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("triage_eval", REPO / "bench" / "triage_eval.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("triage_eval", module)
    spec.loader.exec_module(module)
    return module


@pytest.mark.needs_data
def test_labelled_set_is_well_formed_resolves_and_scores_above_the_floor() -> None:
    root = _data_dir()
    if root is None:
        pytest.skip("GUANWEI_DATA_DIR not set and /work/shared/data absent")
    lines = (REPO / "bench" / "data" / "triage_labels.jsonl").read_text("utf-8").splitlines()
    labels = [json.loads(line) for line in lines]
    assert len(labels) >= 600
    for item in labels:
        assert set(item) == {"file", "key", "category", "split"}
        assert item["category"] in CATEGORIES
        assert item["split"] in ("dev", "test")
        assert isinstance(item["key"]["line"], int)
        assert "text" not in item and "text" not in item["key"], "no dataset text in the repo"
    keys = [(item["file"], json.dumps(item["key"], sort_keys=True)) for item in labels]
    assert len(set(keys)) == len(keys), "each item is labelled once"

    result = _bench().evaluate(root)  # raises LabelError when a key does not resolve
    assert len(result["texts"]) == len(labels)
    assert sum(1 for t in result["texts"] if t.strip()) == len(labels)
    assert result["test"]["macro_f1"] >= TEST_MACRO_F1_FLOOR
