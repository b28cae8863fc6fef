"""Exactly-once dispatch: due targets go out once, however many workers run and whatever the
platform does.

1. **Claim.** A due target moves scheduled → publishing by a conditional update (core.states):
   of N workers that see it, one wins; the others move on. One target per account at a time:
   an account with a send in flight or unsettled waits (claim_due), so that a post that may
   have landed stays within the 5 newest posts Weibo shows on the account's own timeline.
2. **Check again** at send time: the account still has a live token, the text still fits, no
   blocked word, the approval stands, the author may still publish. A target due longer ago than
   the enterprise's late cutoff (PublishingSettings, default LATE_CUTOFF) is `missed` instead.
3. **Send.** Mastodon gets the target's Idempotency-Key (the same on every attempt). Weibo has
   none, so before any second attempt the account's own timeline is read first (`reconcile`).
4. **Settle.** Success → published (Publication with id and URL). `timeout` (the write may have
   landed: a lost response, a gateway's 502/504) → unconfirmed, then reconciled: found on the
   timeline → published; not found after RECONCILE_AFTER → scheduled again. Transient errors
   (rate limit, unavailable) → scheduled again with backoff (the platform's retry-after when it
   gives one). Permanent errors → failed. Each outcome is told through the channels
   (`post.published`, `post.failed`, `post.unconfirmed`), failures to the author personally.
5. **Many workers.** The periodic job claims what is due and hands the claimed targets, in
   batches of FAN_OUT_BATCH, to the `publishing.send_targets` task, so every worker sends; a send
   whose claim is no longer the target's (it was settled and claimed again meanwhile) does nothing.
6. **A worker killed mid-send** leaves a target in publishing; STALE_SEND after its send began
   (or STALE_CLAIM after a claim no worker took up) it is treated as unconfirmed — it may have
   been sent — and reconciled like any other.
"""

from __future__ import annotations

import logging
import re
from contextlib import closing
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q
from django_tasks import task

from guanwei.core import channels, clock
from guanwei.core.errors import ActionError
from guanwei.core.links import absolute_url
from guanwei.core.permissions import can
from guanwei.core.states import transition
from guanwei.matrix import connectors
from guanwei.matrix.health import record_platform_error, record_platform_ok
from guanwei.publishing.checks import check_account, check_text, check_words
from guanwei.publishing.models import Publication, PublishingSettings, Target, TargetState
from guanwei.textkit.normalize import fold

log = logging.getLogger("guanwei.publishing")
S = TargetState

LATE_CUTOFF = timedelta(hours=1)  # the default: due longer ago than this, missed (PublishingSettings)
STALE_SEND = timedelta(minutes=2)  # a send begun this long ago and not settled: its worker is gone
STALE_CLAIM = timedelta(minutes=30)  # claimed, never taken up by a send task (the task was lost)
RECONCILE_AFTER = timedelta(seconds=60)  # unconfirmed and not on the timeline after this: resend
RECONCILE_EVERY = timedelta(seconds=10)  # between timeline reads for one target (rate limits)
FAN_OUT_BATCH = 8  # targets per send task
MAX_ATTEMPTS = 6
BACKOFF_S = (15, 60, 300, 900, 1800)
TIMELINE_COUNT = 20


def _publication(target: Target) -> Publication:
    publication, _ = Publication.objects.get_or_create(target=target, defaults={"enterprise_id": target.enterprise_id})
    return publication


def _record_error(target: Target, error: Any) -> None:
    publication = _publication(target)
    publication.errors = [*publication.errors, {
        "at": clock.now().isoformat(timespec="seconds"), "kind": getattr(error, "kind", "error"),
        "code": str(getattr(error, "code", "") or ""), "message": str(error)[:300],
    }][-20:]  # fmt: skip
    publication.save(update_fields=["errors"])


def _tell(target: Target, event: str, title: str, level: str, author_too: bool) -> None:
    post = target.post
    url = absolute_url(f"/api/v1/posts/{post.pk}")
    message = channels.Message(
        title=title, text=target.body[:200], url=url, level=level,
        data={"post_id": post.pk, "target_id": target.pk, "account_id": target.account_id,
              "state": target.state},
    )  # fmt: skip
    channels.send(target.enterprise, event, message, member=post.author if author_too else None)


def _same_text(a: str, b: str) -> bool:
    """Is a post on the timeline the text we sent? Weibo strips #话题# from shared text and
    shortens links (t.cn); compare what is left, folded. Known limit: two posts of one account
    that differ only in their links look alike here (Weibo refuses truly identical posts)."""

    def core(s: str) -> str:
        s = re.sub(r"#[^#\s]{1,40}#", "", s)
        s = re.sub(r"https?://\S+", "", s)
        return re.sub(r"\s+", "", fold(s))

    return bool(core(a)) and core(a) == core(b)


def _published(target: Target, remote: Any, *, found: bool = False, expected: str = S.PUBLISHING,
               reason: str = "") -> bool:  # fmt: skip
    now = clock.now()
    with transaction.atomic():
        if not transition(target, S.PUBLISHED, expected=expected, reason=reason or ("found on timeline" if found else "")):
            return False
        Publication.objects.update_or_create(
            target=target,
            defaults={"enterprise_id": target.enterprise_id, "platform_id": str(remote.id)[:64],
                      "url": (remote.url or "")[:300], "published_at": now, "found_by_reconciliation": found},
        )  # fmt: skip
        _tell(target, "post.published", f"已发布到 @{target.account.screen_name}", "info", author_too=False)
    log.info("publishing.published enterprise=%s target=%s account=%s platform_id=%s found=%s",
             target.enterprise_id, target.pk, target.account_id, remote.id, found)  # fmt: skip
    return True


def _find_on_timeline(connector: Any, target: Target) -> Any | None:
    since = (target.first_sent_at or target.claimed_at or clock.now()) - timedelta(minutes=2)
    original = target.post.repost_of
    for post in connector.own_timeline(count=TIMELINE_COUNT):
        if post.created_at < since:
            continue
        if original:  # a repost: the same original, and the same comment when there is one
            if post.in_reply_to_id == original and (not target.body.strip() or _same_text(post.text, target.body)):
                return post
        elif _same_text(post.text, target.body):
            return post
    return None


def late_cutoffs(enterprise_ids: set[int]) -> dict[int, timedelta]:
    """Each enterprise's late cutoff (PublishingSettings; LATE_CUTOFF where none is set)."""
    rows = PublishingSettings.objects.filter(enterprise_id__in=enterprise_ids).values_list(
        "enterprise_id", "late_cutoff_minutes"
    )  # fmt: skip
    return {eid: timedelta(minutes=m) for eid, m in rows}


def claim_due(limit: int = 100) -> list[Target]:
    """Targets due now, each claimed by this worker (scheduled → publishing), the earliest due
    first — and at most one per account at a time. Weibo shows an account's own timeline only 5
    posts deep (PLATFORM_APIS §2): while a send may have landed unseen (publishing, unconfirmed),
    nothing else goes out on that account, so reconciliation still finds the post there; a
    second post would push it out of sight and the target would be sent twice."""
    now = clock.now()
    in_flight = Target.objects.filter(state__in=[S.PUBLISHING, S.UNCONFIRMED], account__isnull=False)
    busy: set[int] = set()
    candidates = list(
        # manual tasks are people's: the dispatcher leaves them (publishing.manual); the busy
        # accounts are left out in the same statement (one snapshot, not two reads)
        Target.objects.filter(state=S.SCHEDULED, due_at__lte=now, manual_reason="")
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .exclude(account_id__in=in_flight.values("account_id"))
        .select_related("account__connection", "post__author", "enterprise")
        .order_by("due_at", "pk")[: limit * 4]
    )
    claimed = []
    cutoffs = late_cutoffs({t.enterprise_id for t in candidates})
    for target in candidates:
        if len(claimed) >= limit:
            break
        if target.account_id is not None and target.account_id in busy:
            continue  # this round already claimed one for the account
        if now - target.due_at > cutoffs.get(target.enterprise_id, LATE_CUTOFF) and target.attempts == 0:
            if transition(target, S.MISSED, expected=S.SCHEDULED, reason="past the late cutoff"):
                name = target.account.screen_name if target.account else "—"
                _tell(target, "post.missed", f"错过发布时间：@{name}", "warning", author_too=True)
            continue
        won = transition(
            target, S.PUBLISHING, expected=S.SCHEDULED,
            updates={"claimed_at": now, "attempts": target.attempts + 1,
                     "first_sent_at": target.first_sent_at or now, "send_started_at": None},
        )  # fmt: skip
        if won:
            claimed.append(target)
        if target.account_id is not None:
            busy.add(target.account_id)  # ours now — or another worker's, which won it
    return claimed


def _retry_later(target: Target, error: Any, expected: str) -> None:
    """Try again after a backoff (or the platform's retry-after). A rate limit — the shared
    hourly budget or the platform's own — only delays: it never uses up the attempts."""
    if error.kind != "rate_limited" and target.attempts >= MAX_ATTEMPTS:
        _fail(target, error, expected)
        return
    wait = BACKOFF_S[min(target.attempts, len(BACKOFF_S)) - 1]
    if getattr(error, "retry_after_s", None):
        wait = max(wait, int(error.retry_after_s))
    transition(target, S.SCHEDULED, expected=expected, reason=f"{error.kind}: retry in {wait}s",
               updates={"next_attempt_at": clock.now() + timedelta(seconds=wait)})  # fmt: skip


def _fail(target: Target, error: Any, expected: str) -> None:
    with transaction.atomic():
        if transition(target, S.FAILED, expected=expected, reason=str(error)[:300]):
            name = target.account.screen_name if target.account else "—"
            _tell(target, "post.failed", f"发布失败：@{name}（{str(error)[:80]}）", "error", author_too=True)


def send_claimed(target_id: int, claimed_at: str) -> str:
    """The send task's work: send the target if this claim is still its own."""
    from datetime import datetime

    at = datetime.fromisoformat(claimed_at)
    started = clock.now()
    if not Target.objects.filter(pk=target_id, state=S.PUBLISHING, claimed_at=at, send_started_at__isnull=True).update(
        send_started_at=started
    ):
        return "skipped"
    target = Target.objects.select_related("account__connection", "post__author", "enterprise").get(pk=target_id)
    return send(target)


def send(target: Target) -> str:
    """One attempt at a claimed target (state publishing). Returns the state it ends in."""
    from guanwei.platforms.base import PlatformError

    account = target.account
    post = target.post
    try:
        if account is None:
            raise ActionError("the account was removed from the matrix")
        check_account(account)
        check_text(target.body, account, repost=bool(post.repost_of))
        check_words(target.enterprise_id, target.body)
        if not can(post.author, "post.edit"):
            raise ActionError("the author may no longer publish")
        if post.approved_by_id is None:
            raise ActionError("the approval was withdrawn (the post changed)")
    except ActionError as exc:
        error = PlatformError("forbidden", exc.message, code="precheck", permanent=True)
        _record_error(target, error)
        _fail(target, error, S.PUBLISHING)
        return S.FAILED
    try:
        with closing(connectors.for_account(account)) as connector:
            if target.attempts > 1 and not connector.capabilities.idempotent_writes:
                # An earlier attempt may have landed: look before sending again.
                found = _find_on_timeline(connector, target)
                if found is not None:
                    _published(target, found, found=True)
                    return S.PUBLISHED
            # Weibo wants the real IP of the person who acted: the author's when they wrote it;
            # a post made without a request (a script on the server) says loopback.
            rip = post.rip or "127.0.0.1"
            if post.repost_of:
                remote = connector.repost(post.repost_of, target.body, rip=rip)
            else:
                image = post.images.first()
                data = image.file.open("rb").read() if image else None
                if image:
                    image.file.close()
                remote = connector.publish(
                    target.body, idempotency_key=str(target.idempotency_key), rip=rip,
                    image=data, image_name=image.name if image else "",
                )  # fmt: skip
    except PlatformError as error:
        record_platform_error(account, error)
        _record_error(target, error)
        if error.kind == "timeout":
            with transaction.atomic():
                if transition(target, S.UNCONFIRMED, expected=S.PUBLISHING, reason=str(error)[:300],
                              updates={"next_attempt_at": clock.now() + RECONCILE_EVERY}):  # fmt: skip
                    _tell(target, "post.unconfirmed", f"待确认：@{account.screen_name}", "warning", author_too=False)
            return S.UNCONFIRMED
        if error.kind == "duplicate" and _may_have_landed(target):
            # "Repeat content" (Weibo 20019) after an attempt that may have landed: it did,
            # where the timeline did not show it. Published — its id is not known.
            from types import SimpleNamespace

            _published(target, SimpleNamespace(id="", url=""), found=True,
                       reason="the platform refused a repeat: an earlier attempt landed")
            return S.PUBLISHED
        if error.permanent:
            _fail(target, error, S.PUBLISHING)
            return S.FAILED
        _retry_later(target, error, S.PUBLISHING)
        return S.SCHEDULED
    record_platform_ok(account)
    _published(target, remote)
    return S.PUBLISHED


def _may_have_landed(target: Target) -> bool:
    """Was this target ever unconfirmed (a lost answer, a worker lost mid-send)? Only then does
    a "repeat content" refusal mean our own earlier attempt is on the platform."""
    from guanwei.core.models import StateEvent

    return target.attempts > 1 and StateEvent.objects.filter(
        object_type="publishing.target", object_id=str(target.pk), to_state=S.UNCONFIRMED
    ).exists()  # fmt: skip


def reconcile(target: Target) -> str:
    """Settle an unconfirmed target: on the timeline → published; else after RECONCILE_AFTER,
    scheduled again (the next attempt looks once more before it sends)."""
    from guanwei.platforms.base import PlatformError

    try:
        with closing(connectors.for_account(target.account)) as connector:
            found = _find_on_timeline(connector, target)
    except PlatformError as error:
        record_platform_error(target.account, error)
        return S.UNCONFIRMED  # try again at the next run
    if found is not None:
        _published(target, found, found=True, expected=S.UNCONFIRMED)
        return S.PUBLISHED
    if clock.now() - (target.claimed_at or clock.now()) >= RECONCILE_AFTER:
        transition(target, S.SCHEDULED, expected=S.UNCONFIRMED, reason="not on the timeline: send again",
                   updates={"next_attempt_at": clock.now()})  # fmt: skip
        return S.SCHEDULED
    Target.objects.filter(pk=target.pk, state=S.UNCONFIRMED).update(next_attempt_at=clock.now() + RECONCILE_EVERY)
    return S.UNCONFIRMED


def recover_stale() -> int:
    """Targets left in publishing by a worker that died: unconfirmed (they may have gone out)."""
    now = clock.now()
    stale = Target.objects.filter(state=S.PUBLISHING).filter(
        Q(send_started_at__lt=now - STALE_SEND)
        | Q(send_started_at__isnull=True, claimed_at__lt=now - STALE_CLAIM)
    )
    moved = 0
    for target in stale.select_related("account"):
        moved += transition(target, S.UNCONFIRMED, expected=S.PUBLISHING, reason="worker lost mid-send")
    return moved


def run(limit: int = 100, *, fan_out: bool = False) -> dict[str, int]:
    """One round (the job publishing.dispatch): recover, reconcile, claim — then send each claimed
    target here, or (`fan_out`) hand each to the send task so that every worker sends."""
    outcomes: dict[str, int] = {}

    def count(state: str) -> None:
        outcomes[str(state)] = outcomes.get(str(state), 0) + 1

    recover_stale()
    due = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=clock.now())
    for target in Target.objects.filter(due, state=S.UNCONFIRMED, account__isnull=False).select_related("account__connection", "post")[:limit]:
        count(reconcile(target))
    while True:
        claimed = claim_due(limit)
        if fan_out:
            # In batches of one enterprise's targets: every worker takes a batch, and a task's
            # own cost (its row, its result) is paid once per batch rather than per post.
            by_enterprise: dict[int, list[tuple[int, str]]] = {}
            for target in claimed:
                by_enterprise.setdefault(target.enterprise_id, []).append((target.pk, target.claimed_at.isoformat()))
            for enterprise_id, claims in by_enterprise.items():
                for i in range(0, len(claims), FAN_OUT_BATCH):
                    send_targets.enqueue(claims[i : i + FAN_OUT_BATCH], enterprise_id=enterprise_id)
                    count("handed_out")
        else:
            for outcome in _send_all([(t.pk, t.claimed_at.isoformat()) for t in claimed]):
                count(outcome)
        if len(claimed) < limit:
            break
    return outcomes


def _send_all(claims: list[tuple[int, str]]) -> list[str]:
    outcomes = []
    for target_id, claim in claims:
        try:
            outcomes.append(send_claimed(target_id, claim))
        except Exception:  # isolation: one target's bug must not stop the others (logged);
            # it stays in publishing and is recovered as unconfirmed after STALE_SEND
            log.exception("publishing.send_crashed target=%s", target_id)
            outcomes.append("crashed")
    return outcomes


@task(queue_name="publish")
def send_targets(claims: list[list], enterprise_id: int | None = None) -> list[str]:
    """publishing.send_targets — send claimed targets [(id, claimed_at)], each only while its
    claim is still its own."""
    return _send_all([(int(target_id), str(claim)) for target_id, claim in claims])


@task(queue_name="publish")
def send_target(target_id: int, claimed_at: str, enterprise_id: int | None = None) -> str:
    """publishing.send_target — send one claimed target (nothing if its claim has moved on).
    Kept for tasks queued by an earlier version; new rounds hand out `send_targets`."""
    return send_claimed(target_id, claimed_at)
