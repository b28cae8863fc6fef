"""Fans-service pushes (Weibo 粉丝服务, PLATFORM_APIS §6): the receiver URL per connection,
`/listening/push/<connection id>/`, which the account's fans-service developer mode points at.

GET is the echostr handshake; POST is a push. Both must carry Weibo's signature (sha1 of the
sorted app secret, timestamp and nonce) or get 403. A push is stored as it came (Push) and
answered at once — Weibo waits at most 5 s — and `process()` (the job listening.process_pushes,
and a task enqueued after each push) turns stored pushes into Mentions through the one store
stage: a message is a `dm` Mention of the account it was sent to; events are kept and ignored,
as the platform's guide says.
"""

from __future__ import annotations

import json
import logging

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django_tasks import task

from guanwei.core import clock
from guanwei.listening.models import Mention, Push
from guanwei.listening.store import Incoming, store
from guanwei.matrix.models import Account, Connection

log = logging.getLogger("guanwei.listening.pushes")

MAX_BODY = 64 * 1024


def _signed(request: HttpRequest, connection: Connection) -> bool:
    from guanwei.platforms.weibo import verify_push_signature

    q = request.GET
    return verify_push_signature(
        connection.app_secret, q.get("signature", ""), q.get("timestamp", ""), q.get("nonce", "")
    )


def receive(request: HttpRequest, connection: Connection) -> HttpResponse:
    """The receiver's answer (see the module's docstring)."""
    if not _signed(request, connection):
        log.warning("listening.push_refused connection=%s reason=signature", connection.pk)
        return HttpResponse("bad signature", status=403, content_type="text/plain")
    if request.method == "GET":
        return HttpResponse(request.GET.get("echostr", "")[:200], content_type="text/plain")
    if len(request.body) > MAX_BODY:
        return HttpResponse("too large", status=413, content_type="text/plain")
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return HttpResponse("not JSON", status=400, content_type="text/plain")
    if not isinstance(body, dict):
        return HttpResponse("not a JSON object", status=400, content_type="text/plain")
    with transaction.atomic():
        push = Push.objects.create(enterprise_id=connection.enterprise_id, connection=connection, body=body)
        transaction.on_commit(process_pushes.enqueue)
    log.info("listening.push_received enterprise=%s connection=%s push=%s type=%s",
             connection.enterprise_id, connection.pk, push.pk, str(body.get("type"))[:20])  # fmt: skip
    return HttpResponse("", content_type="text/plain")


def process(limit: int = 500) -> int:
    """Turn stored pushes into Mentions. Returns how many pushes were processed."""
    from guanwei.listening.polling import platform_of
    from guanwei.platforms.weibo import parse_push_message

    done = 0
    pending = list(
        Push.objects.filter(processed_at__isnull=True).select_related("connection__enterprise")
        .order_by("pk")[:limit]
    )  # fmt: skip
    for push in pending:
        with transaction.atomic():
            # Claimed by a conditional update: two workers process a push once.
            if not Push.objects.filter(pk=push.pk, processed_at__isnull=True).update(processed_at=clock.now()):
                continue
            outcome = "event (ignored)"
            post = parse_push_message(push.body)
            receiver = str(push.body.get("receiver_id") or "")
            account = Account.objects.filter(connection=push.connection, platform_uid=receiver).first()
            if post is not None and account is None:
                outcome = "no such account"
            elif post is not None:
                item = Incoming.from_remote(platform_of(account), post, account_id=account.pk,
                                            source=Mention.Source.PUSH)  # fmt: skip
                # Weibo retries a push it thinks was lost: the (sender, time) id makes it a no-op.
                result = store(push.connection.enterprise, [item])
                outcome = "stored" if result.stored else "duplicate"
            Push.objects.filter(pk=push.pk).update(outcome=outcome)
        done += 1
    return done


@task()
def process_pushes() -> int:
    """listening.process_pushes — turn stored fans-service pushes into Mentions."""
    return process()
