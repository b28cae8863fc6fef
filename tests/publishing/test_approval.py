"""Approval chains (工作流程): tiers in order, any-of and all-of, per account and content type,
no self-approval, approval void when the content changes, the emergency path; the policy page
and the reviewers' queue."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied

from guanwei.core.errors import ActionError
from guanwei.core.models import AuditEntry
from guanwei.publishing import actions, approval, rules
from guanwei.publishing.models import Post, Review

LINK = "https://demo.guanwei.local/p/1"


@pytest.fixture(autouse=True)
def _safe_domain(personas):  # type: ignore[no-untyped-def]
    personas.connection.safe_domain = "demo.guanwei.local"
    personas.connection.save()


def _states(post: Post) -> set[str]:
    return {t.state for t in Post.objects.get(pk=post.pk).targets.all()}


def _submitted(personas, roles=("product",), content_type="general", text=f"新品 {LINK}"):  # type: ignore[no-untyped-def]
    post = actions.do_create_post(personas.carol, text=text, accounts=[personas.accounts[r].pk for r in roles],
                                  content_type=content_type)  # fmt: skip
    return actions.do_submit(personas.carol, post)


def _legal_chain(personas, **where):  # type: ignore[no-untyped-def]
    """Tier 1: Dave (any of); tier 2: Bob and Alice (all of)."""
    return rules.do_save_policy(personas.alice, None, name="产品宣称需法务", position=1, tiers=[
        {"name": "审核", "mode": "any", "reviewers": [personas.dave]},
        {"name": "法务", "mode": "all", "reviewers": [personas.bob, personas.alice]},
    ], **{"content_type": "", "accounts": [], **where})  # fmt: skip


def test_tiers_go_in_order_and_all_of_needs_everyone(personas):
    _legal_chain(personas, content_type="product")
    post = _submitted(personas, content_type="product")
    with pytest.raises(ActionError, match="当前审批层级"):
        actions.do_approve(personas.bob, post)  # tier 2 before tier 1
    actions.do_approve(personas.dave, post)
    assert _states(post) == {"in_review"}
    with pytest.raises(ActionError):
        actions.do_approve(personas.dave, post)  # once per tier
    actions.do_approve(personas.bob, post)
    assert _states(post) == {"in_review"}  # all of: Alice too
    actions.do_approve(personas.alice, post)
    assert _states(post) == {"scheduled"}
    assert Post.objects.get(pk=post.pk).approved_by == personas.alice
    assert AuditEntry.objects.filter(action="post.approval_recorded").count() == 2


def test_the_chain_depends_on_content_type_and_account(personas):
    _legal_chain(personas, content_type="product", accounts=[personas.accounts["product"]])
    general = _submitted(personas)
    actions.do_approve(personas.dave, general)
    assert _states(general) == {"scheduled"}  # not a product claim: the default chain
    both = _submitted(personas, roles=("parent", "product"), content_type="product", text=f"宣称 {LINK}")
    chains = approval.progress(both)
    assert sorted(len(c.tiers) for c in chains) == [1, 2]  # the parent's default, the product's legal chain
    actions.do_approve(personas.dave, both)
    assert _states(both) == {"in_review"}  # the default chain is done, the legal one is not
    actions.do_approve(personas.bob, both)
    actions.do_approve(personas.alice, both)
    assert _states(both) == {"scheduled"}


def test_any_of_a_tier_without_named_reviewers_is_anyone_who_may_review(personas):
    rules.do_save_policy(personas.alice, None, name="两级", position=1, content_type="", accounts=[], tiers=[
        {"name": "初审", "mode": "any", "reviewers": []}, {"name": "终审", "mode": "any", "reviewers": []},
    ])  # fmt: skip
    post = _submitted(personas)
    actions.do_approve(personas.dave, post)
    with pytest.raises(ActionError):
        actions.do_approve(personas.dave, post)  # one person does not pass two tiers of one chain
    actions.do_approve(personas.bob, post)
    assert _states(post) == {"scheduled"}


def test_nobody_approves_their_own_post_and_an_edit_voids_approvals(personas):
    _legal_chain(personas)
    own = actions.do_create_post(personas.bob, text=f"自己的 {LINK}", accounts=[personas.accounts["product"].pk])
    actions.do_submit(personas.bob, own)
    actions.do_approve(personas.dave, own)
    with pytest.raises(ActionError, match="自己"):
        actions.do_approve(personas.bob, own)
    post = _submitted(personas)
    actions.do_approve(personas.dave, post)
    actions.do_edit_post(personas.carol, post, text=f"改过的 {LINK}")
    post.refresh_from_db()
    assert _states(post) == {"draft"} and post.revision == 2
    actions.do_submit(personas.carol, post)
    assert approval.progress(post)[0].current.name == "审核"  # Dave's approval was for revision 1
    assert Review.objects.filter(post=post, revision=1, member=personas.dave).exists()


def test_the_emergency_path_needs_one_approval_and_says_so_in_the_audit_log(personas):
    _legal_chain(personas)
    everyday = _submitted(personas, text=f"日常内容 {LINK}")
    with pytest.raises(ActionError, match="危机声明"):
        actions.do_mark_emergency(personas.alice, everyday)  # the path is for crisis statements only
    post = _submitted(personas, content_type="crisis", text=f"关于网传问题的声明 {LINK}")
    with pytest.raises(PermissionDenied):
        actions.do_mark_emergency(personas.carol, post)
    post = actions.do_mark_emergency(personas.alice, post)
    assert [len(c.tiers) for c in approval.progress(post)] == [1]
    actions.do_approve(personas.dave, post)
    assert _states(post) == {"scheduled"}
    assert AuditEntry.objects.filter(action="post.emergency", actor=personas.alice).exists()
    approved = AuditEntry.objects.get(action="post.approved")
    assert approved.detail["emergency"] is True
    assert Review.objects.get(post=post, verdict="approve").emergency


def test_request_changes_keeps_the_comment(personas):
    post = _submitted(personas)
    with pytest.raises(ActionError, match="修改什么"):
        actions.do_request_changes(personas.dave, post, "  ")  # a send-back says why
    actions.do_request_changes(personas.dave, post, "请补充活动规则链接")
    assert _states(post) == {"draft"}
    assert Review.objects.get(post=post).comment == "请补充活动规则链接"


def test_policy_page_edits_chains_and_reviewers_only_read_them(personas, client_for):
    alice, dave = client_for("alice"), client_for("dave")
    form = {"name": "法务审核", "position": "5", "content_type": "product", "accounts": [personas.accounts["product"].pk],
            "tier1_name": "法务", "tier1_mode": "all", "tier1_reviewers": [], "tier2_mode": ""}  # fmt: skip
    refused = alice.post("/publishing/approvals/new", form)
    assert refused.status_code == 422 and "全部批准" in refused.content.decode()
    response = alice.post("/publishing/approvals/new", {**form, "tier1_reviewers": [personas.dave.pk, personas.bob.pk]})
    assert response.status_code == 302
    page = dave.get("/publishing/approvals/").content.decode()
    assert "法务审核" in page and "Dave 审核" in page and "Bob 管理员" in page
    assert dave.get("/publishing/approvals/new").status_code == 403
    assert 'name="late_cutoff_minutes"' in alice.get("/publishing/approvals/").content.decode()
    assert 'name="late_cutoff_minutes"' not in page  # a reviewer reads the setting, does not edit it
    assert client_for("mallory").get("/publishing/approvals/").content.decode().count("法务审核") == 0


def test_the_queue_shows_what_changed_since_the_reviewer_last_looked(personas, client_for):
    post = _submitted(personas, text=f"第一版文案 {LINK}")
    dave = client_for("dave")
    queue = dave.get("/publishing/review/").content.decode()
    assert "第一版文案" in queue and "你还没看过这条" in queue
    dave.get(f"/publishing/posts/{post.pk}/")  # Dave reads revision 1
    actions.do_edit_post(personas.carol, post, text=f"第二版文案 {LINK}")
    actions.do_submit(personas.carol, post)
    queue = dave.get("/publishing/review/").content.decode()
    assert "自你看过的第 1 版以来的改动" in queue
    assert "<ins>二</ins>" in queue and "<del>一</del>" in queue
    diff = dave.get(f"/publishing/posts/{post.pk}/diff?from=1&to=2").content.decode()
    assert "<ins>二</ins>" in diff
    assert dave.get(f"/publishing/posts/{post.pk}/diff?to=99").status_code == 404
