"""Near-duplicate voices: reposts, copy-paste armies and @mention variants are one voice; different
complaints are not; short and broken texts have defined results."""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import pytest

from guanwei.textkit.fingerprint import (
    _components,
    _signature_matrix,
    fingerprint,
    fingerprint_and_group,
    group_voices,
    hamming,
    voice_text,
)
from guanwei.textkit.voices import build, evaluate, jaccard, pair_scores

COMPLAINT = "买的这款手机电池太不耐用了，一天要充三次电，打客服电话也没人理，太失望了！"
OTHER_COMPLAINTS = [
    "这款手机屏幕一碰就碎，售后说不在保修范围，要我自己花八百块换屏，太坑了",
    "这款手机用了一个月就开始发烫，玩游戏十分钟就烫手，门店说是正常现象",
    "这款手机的系统更新以后天天卡顿闪退，微信都打不开，客服只会让我恢复出厂设置",
    "这款手机拍照发灰，跟宣传图差太远了，感觉被骗了，申请退货还被拒",
    "这款手机信号太差，地铁里完全没网，家里也经常掉线，换了卡也一样",
]


def same(ids: list[int], i: int, j: int) -> bool:
    return ids[i] == ids[j]


def test_repost_that_only_adds_zhuanfa_weibo_is_the_same_voice() -> None:
    ids = group_voices([COMPLAINT, f"转发微博//@小王同学:{COMPLAINT}", "转发微博"])
    assert same(ids, 0, 1)
    assert not same(ids, 0, 2)


def test_repost_speaks_with_the_nearest_comment_in_its_chain() -> None:
    assert voice_text(f"//@甲: //@乙:{COMPLAINT}") == voice_text(COMPLAINT)
    assert voice_text("说得对//@甲:这款手机真差") == "说得对"


def test_same_text_with_different_mentions_and_links_is_one_voice() -> None:
    texts = [
        COMPLAINT,
        f"@客服小美 @品牌官方微博 {COMPLAINT}",
        f"{COMPLAINT} @消费者协会 http://t.cn/A6abcDE",
    ]
    ids = group_voices(texts)
    assert ids[0] == ids[1] == ids[2]


def test_copy_paste_army_with_a_few_characters_changed_is_one_voice() -> None:
    army = [
        COMPLAINT,
        COMPLAINT.replace("太失望了", "太失望啦"),
        COMPLAINT.replace("三次", "3次").replace("！", "!!!"),
        COMPLAINT.replace("买的", "刚买的"),
        COMPLAINT.replace("也没人理", "没人理"),
    ]
    assert len(set(group_voices(army))) == 1


def test_different_complaints_about_the_same_product_stay_different() -> None:
    texts = [COMPLAINT, *OTHER_COMPLAINTS]
    ids = group_voices(texts)
    assert len(set(ids)) == len(texts)


def test_voice_ids_count_from_zero_in_order_of_first_appearance() -> None:
    texts = [OTHER_COMPLAINTS[0], COMPLAINT, OTHER_COMPLAINTS[0], f"@甲 {COMPLAINT}"]
    assert group_voices(texts) == [0, 1, 0, 1]


def test_short_texts_are_one_voice_only_when_equal() -> None:
    # fewer than 8 voice characters: too few bigrams for a similarity, so exact equality decides
    ids = group_voices(["支持!", "支持！！", "支持", "顶", "[蜡烛]", "[蜡烛]", "蜡烛蜡烛"])
    assert ids[0] == ids[1] == ids[2]
    assert ids[4] == ids[5]
    assert len({ids[0], ids[3], ids[4], ids[6]}) == 4


def test_posts_with_nothing_of_their_own_are_each_a_voice() -> None:
    ids = group_voices(["", "转发微博", "   ", "http://t.cn/abc", "@某人", "\x00\x00", "\x00\x00"])
    assert len(set(ids)) == 7
    assert fingerprint(["", "转发微博"]) == [0, 0]


def test_fingerprint_is_64_bits_and_stable() -> None:
    texts = [COMPLAINT, *OTHER_COMPLAINTS, "支持", ""]
    first = fingerprint(texts)
    assert first == fingerprint(list(reversed(texts)))[::-1]
    assert all(0 <= f < 2**64 for f in first)
    assert fingerprint([f"转发微博//@乙:{COMPLAINT}"]) == [first[0]]


def test_fingerprint_distance_follows_similarity() -> None:
    base, *others = fingerprint([COMPLAINT, *OTHER_COMPLAINTS])
    (edited,) = fingerprint([COMPLAINT.replace("太失望了", "太失望啦")])
    assert hamming(base, edited) < min(hamming(base, o) for o in others)


def test_many_distinct_texts_stay_distinct_and_their_copies_join_them() -> None:
    rng = random.Random(7)
    alphabet = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]
    texts = ["".join(rng.choice(alphabet) for _ in range(30)) for _ in range(5000)]
    ids = group_voices(texts + [f"@某人 {t}" for t in texts])
    assert len(set(ids[:5000])) == 5000
    assert ids[5000:] == ids[:5000]


@pytest.mark.parametrize(
    "text",
    [
        "\ud800坏\udfff了这款手机电池太不耐用",
        "控制\x00字符\x07\x1b[31m很烦很烦很烦很烦",
        "mixed 中文 English русский العربية 日本語 😀🔥",
        "差" * 100_000,
        "這個產品真的很好用，" * 10_000,
        "长" * 3_000_000,  # beyond the voice-length cap
    ],
)
def test_bad_input_gets_a_defined_fingerprint_and_voice(text: str) -> None:
    (fp,) = fingerprint([text])
    assert 0 <= fp < 2**64
    assert group_voices([text, text]) == [0, 0]


def test_a_signature_does_not_depend_on_the_rest_of_the_batch() -> None:
    rng = random.Random(3)
    alphabet = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]
    # about 150,000 bigrams in all, so the batch is processed in several runs
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 9000))) for _ in range(30)]
    together = _signature_matrix(texts)
    for i in (0, 7, 29):
        assert (together[i] == _signature_matrix([texts[i]])[0]).all()


def test_components_join_chains_and_keep_the_rest_apart() -> None:
    a = np.array([0, 1, 5], dtype=np.int64)
    b = np.array([1, 2, 6], dtype=np.int64)
    assert _components(8, a, b).tolist() == [0, 0, 0, 3, 4, 5, 5, 7]


def test_pair_scores_count_pairs() -> None:
    # truth {0,1,2} {3}; predicted {0,1} {2,3}: 1 true pair found of 3; 1 of 2 predicted is right
    scores = pair_scores([0, 0, 0, 1], [0, 0, 1, 1])
    assert scores["recall"] == pytest.approx(1 / 3, abs=1e-4)
    assert scores["precision"] == pytest.approx(0.5)


def test_jaccard_of_bigram_sets() -> None:
    assert jaccard("abcd", "abcd") == 1.0
    assert jaccard("abc", "bcd") == pytest.approx(1 / 3)


@pytest.mark.needs_data
def test_ced_voice_set_meets_the_goals() -> None:
    root = os.environ.get("GUANWEI_DATA_DIR")
    if not root:
        pytest.skip("GUANWEI_DATA_DIR not set")
    path = Path(root) / "ced" / "cascades.jsonl.gz"
    voice_set = build(path, 60)
    assert build(path, 60).texts == voice_set.texts  # deterministic
    assert {"base", "copy", "repost", "mentions", "edited"} == set(voice_set.kinds)
    result = evaluate(voice_set)
    assert result["precision"] >= 0.99
    assert result["recall"] >= 0.95


def test_fingerprint_and_group_is_both_at_once() -> None:
    texts = ["这款手机真差，屏幕一周就坏了", "转发微博//@甲:这款手机真差，屏幕一周就坏了", "这款手机真差！屏幕一周就坏了！！",
             "", "转发微博", "顶", "顶", "完全不同的一条评论，说的是物流太慢了", "[蜡烛]"]  # fmt: skip
    prints, groups = fingerprint_and_group(texts)
    assert prints == fingerprint(texts)
    assert groups == group_voices(texts)
    assert groups[0] == groups[1] == groups[2] and groups[3] != groups[4] and groups[5] == groups[6]
    assert fingerprint_and_group([]) == ([], [])
