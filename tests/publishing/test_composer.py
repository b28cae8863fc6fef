"""The composer's checks and helpers: sensitive words (folded, block or warn, imported from a
file), near-duplicates, manual tasks, images, autosave and revisions, previews and suggestions."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from PIL import Image

from guanwei.core import clock
from guanwei.core.errors import ActionError
from guanwei.publishing import actions, checks, rules
from guanwei.publishing.models import (
    Post,
    PostImage,
    PostRevision,
    Publication,
    SensitiveWord,
    Target,
)

LINK = "https://demo.guanwei.local/p/1"


@pytest.fixture(autouse=True)
def _safe_domain(personas):  # type: ignore[no-untyped-def]
    personas.connection.safe_domain = "demo.guanwei.local"
    personas.connection.save()


def _png(width: int = 60, height: int = 40, mode: str = "RGB", fmt: str = "PNG") -> bytes:
    out = io.BytesIO()
    Image.new(mode, (width, height)).save(out, fmt)
    return out.getvalue()


def _create(personas, text=f"新品 {LINK}", roles=("product",), **extra):  # type: ignore[no-untyped-def]
    return actions.do_create_post(personas.carol, text=text, accounts=[personas.accounts[r].pk for r in roles], **extra)


# ---------------------------------------------------------------- sensitive words


def test_a_blocked_word_is_found_in_traditional_and_full_width_and_names_the_field(personas):
    rules.do_add_word(personas.alice, "虚假宣传", "block")
    rules.do_add_word(personas.alice, "最好", "warn")
    with pytest.raises(ActionError) as caught:
        _create(personas, text=f"絕無虛假宣傳 {LINK}")  # traditional
    assert caught.value.field == "text" and "虚假宣传" in caught.value.message
    with pytest.raises(ActionError) as caught:
        _create(personas, roles=("product", "parent"), variants={personas.accounts["parent"].pk: f"ＡＢ虚假宣传 {LINK}"})
    assert caught.value.field == f"variants.{personas.accounts['parent'].pk}"
    post = _create(personas, text=f"这是最好的酸奶 {LINK}")  # a warning does not stop it
    hits = checks.word_hits(personas.enterprise.pk, post.text)
    assert [(h.word, h.action) for h in hits] == [("最好", "warn")]
    assert post.text[hits[0].spans[0][0]:hits[0].spans[0][1]] == "最好"
    assert not Post.objects.filter(text__contains="虚假").exists()


def test_a_word_added_later_stops_the_post_at_submit_and_the_list_is_rebuilt(personas):
    post = _create(personas, text=f"限时秒杀 {LINK}")
    rules.do_add_word(personas.alice, "秒杀")
    with pytest.raises(ActionError, match="秒杀"):
        actions.do_submit(personas.carol, post)
    word = SensitiveWord.objects.get(word="秒杀")
    rules.do_set_word_action(personas.alice, word, "warn")
    actions.do_submit(personas.carol, post)  # the matcher saw the change


def test_word_import_checks_the_whole_file_first(personas, client_for):
    alice = client_for("alice")
    bad = "# 词表\n绝对化用语\n国家级,block\n ,warn\n第一,delete\n".encode()
    page = alice.post("/publishing/words/import", {"file": io.BytesIO(bad), "action": "block"}, follow=True)
    html = page.content.decode()
    assert "第 4 行" in html and "第 5 行" in html and not SensitiveWord.objects.exists()  # every bad line
    unknown = "第一,maybe\n".encode()
    assert "maybe" in alice.post("/publishing/words/import", {"file": io.BytesIO(unknown), "action": "block"},
                                 follow=True).content.decode()  # fmt: skip
    good = "\ufeff绝对化用语\n國家級,warn,广告法\n第一\n".encode()
    page = alice.post("/publishing/words/import", {"file": io.BytesIO(good), "action": "block"}, follow=True)
    assert "新增 3 个" in page.content.decode()
    assert SensitiveWord.objects.get(folded="国家级").action == "warn"
    again = "国家级,block\n".encode()
    alice.post("/publishing/words/import", {"file": io.BytesIO(again), "action": "block"})
    assert SensitiveWord.objects.count() == 3 and SensitiveWord.objects.get(folded="国家级").action == "block"
    assert client_for("carol").get("/publishing/words/").status_code == 403
    assert client_for("alice").post("/publishing/words/", {"word": "國家級", "action": "block"}).status_code == 422


# ---------------------------------------------------------------- near-duplicates and the live panel


def _published(personas, text: str, days_ago: int) -> None:  # type: ignore[no-untyped-def]
    post = _create(personas, text=text)
    target = post.targets.get()
    Target.objects.filter(pk=target.pk).update(state="published")
    Publication.objects.create(enterprise=personas.enterprise, target=target, platform_id="1",
                               published_at=clock.now() - timedelta(days=days_ago))  # fmt: skip


def test_a_near_duplicate_of_the_last_30_days_is_shown(personas):
    _published(personas, f"示例乳业低糖酸奶今日全国上市，欢迎大家品尝 {LINK}", days_ago=3)
    _published(personas, f"完全不同的一条：周末门店活动开始报名 {LINK}", days_ago=3)
    _published(personas, f"冬季限定的热饮系列回归啦，快来门店尝鲜 {LINK}", days_ago=40)
    account = personas.accounts["product"]
    found = checks.near_duplicates(account, f"示例乳业低糖酸奶今日全国上市！欢迎大家品尝 {LINK}")
    assert [d.text[:6] for d in found] == ["示例乳业低糖"]
    assert checks.near_duplicates(account, f"冬季限定的热饮系列回归啦，快来门店尝鲜 {LINK}") == []  # 40 days ago
    assert checks.near_duplicates(personas.accounts["parent"], f"示例乳业低糖酸奶今日全国上市，欢迎大家品尝 {LINK}") == []


def test_the_live_panel_checks_previews_and_suggests(personas, client_for):
    _create(personas, text=f"#新品上市# 来了 @示例乳业客服 {LINK}")
    rules.do_add_word(personas.alice, "最好", "warn")
    carol = client_for("carol")
    product = personas.accounts["product"].pk
    html = carol.post("/publishing/check", {"text": f"最好的 #新品上市# {LINK}", "accounts": [product]}).content.decode()
    assert "需留意的词" in html and "最好" in html
    assert '<span class="wb-topic">#新品上市#</span>' in html and "weibo-card" in html
    html = carol.post("/publishing/check", {"text": "今天 #新", "accounts": [product]}).content.decode()
    assert 'data-insert="#新品上市#"' in html
    html = carol.post("/publishing/check", {"text": "找 @示例", "accounts": [product]}).content.decode()
    assert 'data-insert="@示例乳业客服 "' in html
    long_own = carol.post("/publishing/check", {"text": f"短 {LINK}", "accounts": [product],
                                                f"variant_{product}": "长" * 150}).content.decode()  # fmt: skip
    assert "分账号文案" in long_own and "140" in long_own  # the account's own text is what is checked
    html = carol.post("/publishing/check", {"text": "没有链接的正文", "accounts": [product]}).content.decode()
    assert "人工发布任务" in html and "10017" in html
    html = carol.post("/publishing/check", {"text": f"图 {LINK}", "accounts": [product], "image_count": "3"}).content.decode()
    assert "人工发布任务" in html
    # hostile input: another tenant's account ids are ignored, junk ids too
    html = carol.post("/publishing/check", {"text": "x\x00", "accounts": [personas.outsider_account.pk, "9" * 30]}).content.decode()
    assert "别家" not in html


# ---------------------------------------------------------------- manual tasks


def test_what_the_api_cannot_carry_becomes_a_manual_task_confirmed_by_url(personas, client_for):
    post = _create(personas, text="没有安全域名链接的长文预告")
    target = post.targets.get()
    assert "10017" in target.manual_reason
    actions.do_submit(personas.carol, post)
    actions.do_approve(personas.dave, post)
    from guanwei.publishing import dispatch

    assert dispatch.claim_due() == []  # people's work, not the dispatcher's
    page = client_for("carol").get(f"/publishing/posts/{post.pk}/").content.decode()
    assert "人工发布任务" in page and "没有安全域名链接的长文预告" in page
    carol = client_for("carol")
    carol.post(f"/publishing/targets/{target.pk}/confirm", {"url": "not a url"})
    assert Target.objects.get(pk=target.pk).state == "scheduled"
    carol.post(f"/publishing/targets/{target.pk}/confirm", {"url": "https://weibo.com/1234567/NzWxHxLqB"})
    target.refresh_from_db()
    assert target.state == "published"
    assert target.publication.url == "https://weibo.com/1234567/NzWxHxLqB" and target.publication.platform_id.isdigit()
    assert client_for("mallory").post(f"/publishing/targets/{target.pk}/confirm", {"url": "https://x.y/1"}).status_code == 404


def test_weibo_short_codes_and_urls_give_the_numeric_id():
    assert actions.repost_id("4567890123456789") == "4567890123456789"
    assert actions.repost_id("https://m.weibo.cn/status/4567890123456789") == "4567890123456789"
    assert actions.repost_id("https://weibo.com/1642634100/z9Y0hF1Ja") == actions._base62_mid("z9Y0hF1Ja")
    assert actions._base62_mid("z0JH2lOMb") == "3501756485200075"  # a code and id from Weibo's own pages
    with pytest.raises(ActionError):
        actions.repost_id("这不是链接!")


# ---------------------------------------------------------------- images


def test_images_are_checked_by_content_and_stored_with_thumbnails(personas, client_for):
    post = _create(personas, image_files=[(_png(), "a.png"), (_png(fmt="JPEG"), "b.jpg")])
    images = list(post.images.all())
    assert [i.mime for i in images] == ["image/png", "image/jpeg"] and images[0].width == 60
    assert "2 张" in post.targets.get().manual_reason  # the API takes one
    response = client_for("heidi").get(f"/publishing/images/{images[0].pk}")
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    thumb = client_for("heidi").get(f"/publishing/images/{images[0].pk}/thumb")
    assert b"".join(thumb.streaming_content)[:2] == b"\xff\xd8"  # a JPEG thumbnail
    assert client_for("mallory").get(f"/publishing/images/{images[0].pk}").status_code == 404
    for files, words in [
        ([(b"GIF89a not really", "fake.gif")], "无法读取"),
        ([(b"plain text", "x.png")], "无法读取"),
        ([(_png(fmt="BMP"), "x.bmp")], "JPEG"),
        ([(_png(4, 4), "tiny.png")], "太小"),
        ([(_png(8000, 6000, mode="1"), "huge.png")], "像素"),
        ([(b"\x89PNG" + b"0" * (5 * 1024 * 1024), "big.png")], "5 MB"),
        ([(_png(), f"{i}.png") for i in range(10)], "9"),
    ]:
        with pytest.raises(ActionError, match=words) as caught:
            _create(personas, image_files=files)
        assert caught.value.field == "images"
    assert Post.objects.count() == 1 and PostImage.objects.count() == 2


# ---------------------------------------------------------------- autosave and revisions


def test_autosave_keeps_a_draft_and_refines_one_revision_while_typing(personas, client_for):
    carol = client_for("carol")
    product = personas.accounts["product"].pk
    first = carol.post("/publishing/autosave", {"text": "半截的草", "accounts": [product]})
    post = Post.objects.get()
    assert f'name="post" id="id_post" value="{post.pk}"' in first.content.decode()
    carol.post("/publishing/autosave", {"post": post.pk, "text": "半截的草稿，继续写", "accounts": [product]})
    post.refresh_from_db()
    assert post.text == "半截的草稿，继续写" and post.revision == 1 and PostRevision.objects.count() == 1
    assert carol.post("/publishing/autosave", {"post": post.pk, "text": "长" * 200}).status_code == 200  # drafts may be long
    with pytest.raises(ActionError):
        actions.do_submit(personas.carol, post)  # ...but not go for review
    # another member's draft is not autosaved over; another tenant's is not found
    assert client_for("ivan").post("/publishing/autosave", {"post": post.pk, "text": "x"}).status_code == 422
    assert client_for("mallory").post("/publishing/autosave", {"post": post.pk, "text": "x"}).status_code == 404
    # the composer finishes the autosaved draft instead of making a second post
    carol.post("/publishing/compose/", {"post": post.pk, "text": f"写完了 {LINK}", "accounts": [product]})
    assert Post.objects.count() == 1 and Post.objects.get().text == f"写完了 {LINK}"


def test_every_edit_is_a_revision_with_a_diff(personas, client_for):
    post = _create(personas, text=f"第一版 {LINK}")
    actions.do_edit_post(personas.carol, post, text=f"第二版 {LINK}", variants={personas.accounts["product"].pk: f"产品号专用 {LINK}"})
    numbers = list(post.revisions.order_by("number").values_list("number", "text"))
    assert numbers == [(1, f"第一版 {LINK}"), (2, f"第二版 {LINK}")]
    html = client_for("heidi").get(f"/publishing/posts/{post.pk}/diff").content.decode()
    assert "<del>一</del>" in html and "<ins>二</ins>" in html and "@示例乳业产品" in html
    assert re.search(r"第 2 版", client_for("heidi").get(f"/publishing/posts/{post.pk}/").content.decode())
