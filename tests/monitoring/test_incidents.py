"""The incident room: opened from an alert or by hand, moved through its states (race-safe, an
event and an audit entry each), notes and tasks, our statements during it with the sentiment of
their replies, the review export, webhook events, the API — and outsiders see nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from guanwei.core import clock
from guanwei.core.errors import ActionError
from guanwei.core.models import Channel, Delivery, StateEvent
from guanwei.listening.store import Incoming, store
from guanwei.monitoring import incidents
from guanwei.monitoring.models import Alert, Incident, Monitor


@pytest.fixture
def channel(personas):  # type: ignore[no-untyped-def]
    return Channel.objects.create(enterprise=personas.enterprise, name="PR", kind=Channel.Kind.WEBHOOK,
                                  url="https://hooks.example.com/pr")  # fmt: skip


def _statement(personas, text: str, platform_id: str):  # type: ignore[no-untyped-def]
    """A statement our parent account published (as publishing records it)."""
    from guanwei.publishing.models import Post, Publication, Target

    post = Post.objects.create(enterprise=personas.enterprise, author=personas.alice, text=text, emergency=True)
    target = Target.objects.create(enterprise=personas.enterprise, post=post, account=personas.parent_account,
                                   state="published")  # fmt: skip
    Publication.objects.create(enterprise=personas.enterprise, target=target, platform_id=platform_id,
                               url=f"https://weibo.example/{platform_id}", published_at=clock.now())  # fmt: skip


def test_an_alert_opens_an_incident_that_moves_through_its_states(personas, channel, client_for):
    monitor = Monitor.objects.create(enterprise=personas.enterprise, name="危机词", rule="变质")
    alert = Alert.objects.create(enterprise=personas.enterprise, monitor=monitor, kind="negative", severity=7,
                                 reason="负面提及是平时周六 20:00 的 20 倍", volume=40, baseline=2, window_end=clock.now())  # fmt: skip
    frank = client_for("frank")
    response = frank.post("/monitoring/incidents/", {"alert": alert.pk, "title": "危机词：负面激增"})
    incident = Incident.objects.get()
    assert response.status_code == 302 and incident.severity == 7 and incident.monitor == monitor
    assert Delivery.objects.filter(channel=channel, event="incident.opened").count() == 1
    frank.post(f"/monitoring/incidents/{incident.pk}/", {"action": "move", "state": "responding"})
    frank.post(f"/monitoring/incidents/{incident.pk}/", {"action": "note", "text": "联系质检出具报告", "is_task": "1"})
    _statement(personas, "关于网传产品变质的说明", "9001")
    store(personas.enterprise, [
        Incoming(platform="sandbox:builtin", remote_id=f"c{i}", kind="comment", text=text, created_at=clock.now(),
                 in_reply_to_id="9001", account_id=personas.parent_account.pk)
        for i, text in enumerate(["支持，说明很及时", "还是不放心，太差了", "感谢回应"])
    ])  # fmt: skip
    page = frank.get(f"/monitoring/incidents/{incident.pk}/").content.decode()
    assert "关于网传产品变质的说明" in page and "联系质检出具报告" in page and "紧急发布" in page
    (said,) = incidents.statements(incident)
    assert sum(said.replies.values()) == 3
    frank.post(f"/monitoring/incidents/{incident.pk}/", {"action": "move", "state": "closed"})
    incident.refresh_from_db()
    assert incident.state == "closed" and incident.closed_at is not None
    assert Delivery.objects.filter(channel=channel, event="incident.closed").count() == 1
    events = StateEvent.objects.filter(object_type="monitoring.incident", object_id=str(incident.pk))
    assert [e.to_state for e in events.order_by("pk")] == ["responding", "closed"]
    with pytest.raises(ActionError):
        incidents.do_move_incident(personas.frank, incident, "monitoring")  # closed → monitoring is not a move
    review = frank.get(f"/monitoring/incidents/{incident.pk}/review")
    assert "attachment" in review["Content-Disposition"] and "关于网传产品变质的说明" in review.content.decode()


def test_the_incident_api_and_outsiders(personas, client_for):
    frank = client_for("frank")
    created = frank.post("/api/v1/incidents", {"title": "门店食安传闻", "severity": 6}, content_type="application/json")
    assert created.status_code == 201 and created.json()["state"] == "open"
    pk = created.json()["id"]
    moved = frank.patch(f"/api/v1/incidents/{pk}", {"state": "monitoring", "severity": 4}, content_type="application/json")
    assert moved.json()["state"] == "monitoring" and moved.json()["severity"] == 4
    assert frank.post(f"/api/v1/incidents/{pk}/close").json()["state"] == "closed"
    assert frank.post("/api/v1/incidents", {"title": "x", "severity": 11}, content_type="application/json").status_code == 422
    assert frank.post("/api/v1/incidents", '"ABC"', content_type="application/json").status_code == 422  # not str.title()
    assert frank.post("/api/v1/incidents", {"title": "x", "monitor": 999999}, content_type="application/json").status_code == 422
    mallory = client_for("mallory")
    assert mallory.get(f"/api/v1/incidents/{pk}").status_code == 404
    assert mallory.get(f"/monitoring/incidents/{pk}/").status_code == 404
    assert mallory.post(f"/monitoring/incidents/{pk}/", {"action": "move", "state": "responding"}).status_code == 404
    assert client_for("carol").get("/monitoring/incidents/").status_code == 403
    assert frank.post(f"/monitoring/incidents/{pk}/", {"action": "nope"}).status_code == 404
    assert frank.post(f"/monitoring/incidents/{pk}/", {"action": "done", "note": "x"}).status_code == 404
    assert Incident.objects.get(pk=pk).opened_at <= clock.now() + timedelta(seconds=1)


def test_a_statement_drafted_in_the_room_goes_through_the_emergency_path_and_is_linked(personas, client_for):
    """bob (admin) drafts in the room: a 危机声明 post on the emergency path, submitted, linked;
    dave's one approval schedules it; until it is out the room shows its state."""
    from guanwei.publishing.models import Post

    monitor = Monitor.objects.create(enterprise=personas.enterprise, name="危机词", rule="变质")
    incident = Incident.objects.create(enterprise=personas.enterprise, title="变质传闻", severity=6, opened_by=personas.bob,
                                       monitor=monitor)  # fmt: skip
    bob = client_for("bob")
    response = bob.post(f"/monitoring/incidents/{incident.pk}/", {
        "action": "statement", "text": "关于网传产品变质的情况说明：已封存批次，送第三方检测。",
        "accounts": [str(personas.parent_account.pk)]})  # fmt: skip
    post = Post.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/publishing/posts/{post.pk}/"
    assert post.content_type == "crisis" and post.emergency and post.targets.get().state == "in_review"
    (said,) = incidents.statements(incident)
    assert said.at is None and said.drafted_here and said.post_id == post.pk
    assert bob.get(f"/monitoring/incidents/{incident.pk}/").status_code == 200  # its timeline, before it is out
    client_for("dave").post(f"/publishing/posts/{post.pk}/approve")
    assert post.targets.get().state == "scheduled"
    assert f"/publishing/posts/{post.pk}/" in bob.get(f"/monitoring/incidents/{incident.pk}/").content.decode()


def test_who_may_not_draft_a_statement_and_bad_input(personas, client_for):
    from guanwei.publishing.models import Post

    incident = Incident.objects.create(enterprise=personas.enterprise, title="变质传闻", severity=6, opened_by=personas.bob)
    url = f"/monitoring/incidents/{incident.pk}/"
    parent = str(personas.parent_account.pk)
    # frank (analyst) runs the room but may not write posts: no form, and a POST is refused
    frank = client_for("frank")
    assert 'value="statement"' not in frank.get(url).content.decode()
    assert frank.post(url, {"action": "statement", "text": "说明", "accounts": [parent]}).status_code == 403
    assert Post.objects.count() == 0
    bob = client_for("bob")
    for data in ({"text": "说明", "accounts": ["99999999"]}, {"text": "", "accounts": [parent]},
                 {"text": "说明\x00", "accounts": [parent]}, {"text": "长" * 5000, "accounts": [parent]},
                 {"text": "说明", "accounts": [str(personas.outsider_account.pk)]}):  # fmt: skip
        response = bob.post(url, {"action": "statement", **data})
        assert response.status_code in (302, 400), data
    assert Post.objects.count() == 0
    incident.state = "closed"
    incident.save()
    bob.post(url, {"action": "statement", "text": "说明", "accounts": [parent]})
    assert Post.objects.count() == 0
    assert client_for("mallory").post(url, {"action": "statement", "text": "说明", "accounts": [parent]}).status_code == 404
