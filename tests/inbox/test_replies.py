"""Replies go out exactly once, against the built-in sandbox over real HTTP (live_server), under
every fault kind the sandbox injects: what lands on the platform is one comment per reply."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine

from guanwei.core import clock
from guanwei.inbox import actions, intake, replies
from guanwei.inbox.models import Item, Reply
from guanwei.listening.models import Mention
from guanwei.listening.store import Incoming, store
from guanwei.matrix.models import Account, Connection
from guanwei.sandbox import faults
from guanwei.sandbox import store as sandbox
from guanwei.sandbox.models import App, Comment
from guanwei.sandbox.world import ensure_demo_world

pytestmark = pytest.mark.django_db(transaction=True)
ANSWER = "您好，已为您登记，客服会在今天内联系您处理退换。"


@pytest.fixture
def world(personas, live_server, settings):  # type: ignore[no-untyped-def]
    demo = ensure_demo_world("http://testserver")
    settings.BASE_URL = live_server.url
    Connection.objects.filter(pk=personas.connection.pk).update(
        base_url=f"{live_server.url}/sandbox", app_key=demo.app_key, app_secret=demo.app_secret, app_level="partner",
        safe_domain="demo.guanwei.local",
    )  # fmt: skip
    remote = demo.account("service")
    Account.objects.filter(pk=personas.accounts["service"].pk).update(platform_uid=remote.uid, token=remote.token,
                                                                      token_expires_at=None)  # fmt: skip
    return demo


def _complaint(personas, world) -> Item:  # type: ignore[no-untyped-def]
    """A customer's comment on the service account's post, on the sandbox and as listening stores it."""
    from guanwei.sandbox.models import SandboxUser

    service = SandboxUser.objects.get(pk=int(world.account("service").uid))
    (fan,) = sandbox.bulk_create_users([{"screen_name": "着急的顾客"}])
    status = sandbox.post_status(service, "今天的客服值班时间 9:00–18:00")
    comment = sandbox.comment(fan, status, "酸奶过期了还在卖，怎么退？")
    store(personas.enterprise, [Incoming(
        platform="sandbox:builtin", remote_id=str(comment.pk), kind="comment", text=comment.text, created_at=clock.now(),
        author_id=str(fan.pk), author_name=fan.screen_name, in_reply_to_id=str(status.pk),
        account_id=personas.accounts["service"].pk)])  # fmt: skip
    intake.handle(list(Mention.objects.select_related("author", "account__connection")))
    return Item.objects.get()


def _on_platform(world, text: str = ANSWER) -> int:  # type: ignore[no-untyped-def]
    return Comment.objects.filter(user_id=int(world.account("service").uid), text__endswith=text).count()


def _app(world):  # type: ignore[no-untyped-def]
    return App.objects.get(app_key=world.app_key)


def test_a_reply_lands_once_under_the_comment_and_stamps_the_first_response(personas, world):
    item = _complaint(personas, world)
    reply = actions.do_reply(personas.members["erin"], item, ANSWER)
    assert replies.send(reply.pk) == "sent"
    assert replies.send(reply.pk) == "skipped"  # sent: never again
    assert _on_platform(world) == 1
    landed = Comment.objects.get(user_id=int(world.account("service").uid))
    assert landed.reply_to_id == int(item.mention.remote_id)
    reply.refresh_from_db()
    item.refresh_from_db()
    assert reply.platform_id == str(landed.pk) and item.first_responded_at is not None


def test_a_lost_response_is_found_not_sent_twice(personas, world):
    item = _complaint(personas, world)
    faults.add_fault("response_lost", "comments/reply", app=_app(world), times=1, delay_s=0)
    reply = actions.do_reply(personas.members["erin"], item, ANSWER)
    assert replies.send(reply.pk) == "unconfirmed"
    assert _on_platform(world) == 1  # it did land
    with time_machine.travel(clock.now() + timedelta(seconds=31)):
        assert replies.run.call() == {"sent": 1}
    reply.refresh_from_db()
    assert reply.state == "sent" and _on_platform(world) == 1


def test_a_timeout_that_did_not_land_is_sent_again_after_looking(personas, world):
    item = _complaint(personas, world)
    faults.add_fault("timeout", "comments/reply", app=_app(world), times=1, delay_s=0)
    reply = actions.do_reply(personas.members["erin"], item, ANSWER)
    assert replies.send(reply.pk) == "unconfirmed"
    assert _on_platform(world) == 0
    with time_machine.travel(clock.now() + timedelta(seconds=31)):
        assert replies.run.call() == {"queued": 1}  # looked: not there
        assert replies.run.call() == {"sent": 1}  # so sent
    assert _on_platform(world) == 1


@pytest.mark.parametrize(("kind", "extra"), [("http_5xx", {"http_status": 503}), ("rate_limit", {})])
def test_transient_errors_wait_then_send_once(personas, world, kind, extra):
    item = _complaint(personas, world)
    faults.add_fault(kind, "comments/reply", app=_app(world), times=1, **extra)
    reply = actions.do_reply(personas.members["erin"], item, ANSWER)
    assert replies.send(reply.pk) == "queued"
    reply.refresh_from_db()
    with time_machine.travel(reply.next_attempt_at + timedelta(seconds=1)):
        assert replies.run.call() == {"sent": 1}
    assert _on_platform(world) == 1


def test_a_revoked_token_fails_the_reply_and_keeps_the_text(personas, world):
    item = _complaint(personas, world)
    faults.add_fault("expired_token", "comments/reply", app=_app(world), times=1)
    reply = actions.do_reply(personas.members["erin"], item, ANSWER)
    assert replies.send(reply.pk) == "failed"
    reply.refresh_from_db()
    assert reply.text == ANSWER and reply.error and _on_platform(world) == 0


def test_a_deleted_comment_fails_with_the_platforms_reason(personas, world):
    item = _complaint(personas, world)
    Comment.objects.filter(pk=int(item.mention.remote_id)).delete()
    reply = actions.do_reply(personas.members["erin"], item, ANSWER)
    assert replies.send(reply.pk) == "failed"
    reply.refresh_from_db()
    assert reply.error and _on_platform(world) == 0


def test_what_may_not_be_sent_is_refused_before_anything_goes(personas, world):
    from django.core.exceptions import PermissionDenied

    from guanwei.core.errors import ActionError

    item = _complaint(personas, world)
    with pytest.raises(ActionError):
        actions.do_reply(personas.members["erin"], item, "长" * 200)  # over 140 characters
    with pytest.raises(PermissionDenied):
        actions.do_reply(personas.members["ivan"], item, ANSWER)  # ivan is an editor: no inbox right
    assert Reply.objects.count() == 0


def test_a_reply_the_enterprise_wants_approved_waits_for_a_reviewer(personas, world):
    from guanwei.core.errors import ActionError
    from guanwei.inbox.models import ReplyApproval

    item = _complaint(personas, world)
    ReplyApproval.objects.create(enterprise=personas.enterprise, account=item.account)  # any category
    erin, dave = personas.members["erin"], personas.members["bob"]  # bob: an admin approves
    reply = actions.do_reply(erin, item, ANSWER)
    assert reply.state == "in_review" and replies.send(reply.pk) == "skipped" and _on_platform(world) == 0
    actions.do_review_reply(dave, reply, approve=True)
    assert replies.send(reply.pk) == "sent" and _on_platform(world) == 1
    second = actions.do_reply(erin, item, "补充：退款已原路退回。")
    with pytest.raises(ActionError):
        actions.do_review_reply(dave, Reply.objects.get(pk=reply.pk), approve=True)  # not in review any more
    actions.do_review_reply(dave, second, approve=False, comment="先别承诺退款")
    second.refresh_from_db()
    assert second.state == "draft" and second.error == "先别承诺退款"


def test_a_spam_comment_is_marked_solved_and_audited_its_removal_left_to_a_person(personas, world):
    """Weibo's API deletes only the app user's own comments (PLATFORM_APIS §2): guanwei marks the
    item and audits; nothing is deleted on the platform behind the person's back."""
    from guanwei.core.models import AuditEntry

    item = _complaint(personas, world)
    actions.do_hide_spam(personas.members["erin"], item)
    assert Comment.objects.filter(pk=int(item.mention.remote_id)).exists()
    item.refresh_from_db()
    assert item.category == "spam" and item.status == "solved"
    assert AuditEntry.objects.filter(action="item.hidden").count() == 1
