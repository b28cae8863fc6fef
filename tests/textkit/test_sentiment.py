"""Sentiment and emotion: the shipped model on clear hand-written posts, bad input, the judge CLI."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from guanwei.textkit import sentiment
from guanwei.textkit.sentiment import EMOTIONS, SENTIMENTS, classify, emotions, hashed_ngrams
from guanwei.textkit.train import strip_emoticons

REPO = Path(__file__).resolve().parents[2]

CLEAR = {
    "今天收到了男朋友送的花，太开心了，谢谢亲爱的！": ("positive", "happy"),
    "这家店的服务太棒了，非常满意，下次还来！": ("positive", "happy"),
    "恭喜我们队夺冠！太激动了，大家辛苦了！": ("positive", "happy"),
    "气死我了，客服态度恶劣，打了十几个电话都没人管，再也不买了！": ("negative", "angry"),
    "快递寄丢了还不赔，什么垃圾公司，太恶心了": ("negative", "angry"),
    "外婆今天走了，心里好难受，再也见不到她了。": ("negative", "sad"),
    "好害怕，晚上一个人走夜路总感觉有人跟着，吓得我不敢回头。": ("negative", "fear"),
    "明天上午九点在三楼会议室召开季度工作会议。": ("neutral", "neutral"),
    "本店营业时间为每天上午十点至晚上十点。": ("neutral", "neutral"),
}


def test_package_imports_without_django_settings() -> None:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    code = (
        "import sys, guanwei.textkit.sentiment as s, guanwei.textkit.fingerprint;"
        "assert not any(m == 'django' or m.startswith('django.') for m in sys.modules), 'django';"
        "assert s.classify(['太好了']) in (['positive'], ['neutral'], ['negative'])"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, check=True)


def test_clear_posts_get_their_obvious_sentiment() -> None:
    texts = list(CLEAR)
    assert classify(texts) == [CLEAR[t][0] for t in texts]


def test_clear_posts_get_their_obvious_emotion() -> None:
    texts = list(CLEAR)
    assert emotions(texts) == [CLEAR[t][1] for t in texts]


def test_traditional_and_full_width_text_reads_like_simplified() -> None:
    assert classify(["氣死我了，客服態度惡劣，再也不買了！！"]) == ["negative"]


def test_a_batch_gives_the_same_labels_as_one_text_at_a_time() -> None:
    # n-grams must never run across the boundary between two texts of a batch
    texts = [*CLEAR, "", "好", "哈哈哈哈", "垃圾"] * 3
    assert classify(texts) == [classify([t])[0] for t in texts]
    assert emotions(texts) == [emotions([t])[0] for t in texts]


def test_ngrams_stay_inside_their_text() -> None:
    feats = hashed_ngrams(["ab", "cde", "", "f"], bits=16)
    # per text: unigrams + bigrams + trigrams
    assert feats.per_text.tolist() == [2 + 1, 3 + 2 + 1, 0, 1]


def test_empty_and_punctuation_only_texts_are_neutral() -> None:
    assert classify(["", "   ", "。。。!!!", "\u200b"]) == ["neutral"] * 4
    assert emotions(["", "？？"]) == ["neutral", "neutral"]
    assert classify([]) == [] and emotions([]) == []


@pytest.mark.parametrize(
    "text",
    [
        "\ud800坏\udfff了",  # lone surrogates
        "控制\x00字符\x07\x1b[31m很烦",
        "mixed 中文 English русский العربية 日本語のテキスト 😀🔥",
        "差" * 100_000,  # 100 KB of one character
        "這個產品真的很好用" * 12_000,
        "长" * 3_000_000,
        "\u202e\u2066反转\u2069",
    ],
)
def test_bad_input_gets_a_defined_label(text: str) -> None:
    assert classify([text])[0] in SENTIMENTS
    assert emotions([text])[0] in EMOTIONS


def test_non_text_is_a_clear_error() -> None:
    with pytest.raises(TypeError, match="expected str"):
        classify([None])  # type: ignore[list-item]


def test_senti_100k_emoticons_and_emoji_are_stripped_before_training() -> None:
    assert strip_emoticons("新玩具[鼓掌][哈哈]😀👍🏻真好") == "新玩具真好"
    assert strip_emoticons("[微笑]") == ""


def test_evaluate_prints_the_judges_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "mini.jsonl.gz"
    rows = [
        {"text": "今天收到了男朋友送的花，太开心了！", "label": "happy"},
        {"text": "气死我了，客服态度恶劣，再也不买了！", "label": "angry"},
        {"text": "明天上午九点在三楼会议室开会。", "label": "surprise"},
    ]
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n")
    assert sentiment.main(["evaluate", str(path)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) == {"n", "acc3", "macro_f1_3", "macro_f1_6", "texts_per_s"}
    assert result["n"] == 3
    # the surprise row is left out of the 3-class scores; the other two are right
    assert result["acc3"] == 1.0
    assert 0 < result["macro_f1_6"] < 1  # surprise is never found, so not perfect


def test_evaluate_rejects_unknown_labels(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"text": "好", "label": "joy"}) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match="unknown label 'joy'"):
        sentiment.main(["evaluate", str(path)])


def test_macro_f1_matches_a_hand_computation() -> None:
    truth = ["positive", "positive", "negative", "neutral"]
    predicted = ["positive", "negative", "negative", "negative"]
    # positive: tp1 fn1 → 2/3; negative: tp1 fp2 → 2/4; neutral: 0
    assert sentiment.macro_f1(truth, predicted, SENTIMENTS) == pytest.approx((2 / 3 + 0.5) / 3)


@pytest.mark.needs_data
def test_shipped_model_scores_on_the_usual_eval_split() -> None:
    root = os.environ.get("GUANWEI_DATA_DIR")
    if not root:
        pytest.skip("GUANWEI_DATA_DIR not set")
    path = Path(root) / "smp2020_ewect" / "usual_eval.jsonl.gz"
    texts, labels = sentiment._read_labelled([path])
    result = sentiment.evaluate(texts, labels)
    # the figures in MODEL_CARD.md (0.838 / 0.678); a retrained model must not fall far below
    assert result["acc3"] >= 0.82
    assert result["macro_f1_6"] >= 0.66


def test_analyse_is_classify_and_emotions_in_one_pass() -> None:
    texts = ["太好喝了，爱了爱了", "客服一直不回复，气死我了", "", "今天下雨", "😭😭😭", "http://t.cn/abc"]
    assert sentiment.analyse(texts) == (sentiment.classify(texts), sentiment.emotions(texts))
    assert sentiment.analyse([]) == ([], [])
