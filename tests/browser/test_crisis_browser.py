"""The whole crisis path, in the browser, on the seeded demo: the sandbox's `crisis` scenario
plays live; listening reads it, monitoring counts it and raises an alert, which reaches a webhook
receiver signed; the analyst opens an incident from the alert; the admin drafts a statement in
the incident's room (the emergency path), the reviewer approves it, it is published to the
sandbox; the crowd reacts to it, and the room shows the sentiment of the replies under it.

Time is simulated: the scenario is played at speed 1 against a frozen clock that the test moves
one second at a time (`runs.execute` takes a fake `sleep`/`clock` pair), and every 15 simulated
seconds the test does what the worker does (listening polls, the consumers, the detector,
publishing's dispatch, deliveries). The monitor has a week of usual counters, written directly:
the test cannot wait a week for a baseline."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db.models import Sum

from guanwei.core import channels, clock
from guanwei.core.models import Channel, Delivery
from guanwei.listening import consumers, polling
from guanwei.monitoring import incidents, spikes
from guanwei.monitoring.models import Alert, AlertRule, Incident, MinuteCount, Monitor
from guanwei.ops.seed import DEMO_PASSWORD, seed_demo
from guanwei.publishing import dispatch
from guanwei.sandbox import runs
from tests.browser.conftest import login
from tests.core.test_channels import Receiver

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

STEP_S = 15  # the worker's rhythm: listening polls and the consumers every 15 s


def test_an_alert_an_incident_a_statement_and_how_the_replies_felt(live_server, new_page, page, settings, screenshots):
    import time_machine
    from standardwebhooks.webhooks import Webhook

    receiver = Receiver()
    settings.BASE_URL = live_server.url
    settings.OUTBOUND_ALLOW = ["127.0.0.1"]
    try:
        with time_machine.travel(clock.now().replace(second=0, microsecond=0), tick=False) as traveller:
            report = seed_demo(live_server.url, with_history=False)
            enterprise = report.enterprise
            secret = channels.new_webhook_secret()
            Channel.objects.create(enterprise=enterprise, name="公关值班", kind=Channel.Kind.WEBHOOK,
                                   url=receiver.base + "/hooks/pr", secret=secret, events=["alert.raised"])  # fmt: skip
            monitor = Monitor.objects.get(enterprise=enterprise, name="危机词")
            Monitor.objects.exclude(pk=monitor.pk).update(is_active=False)
            week_ago = clock.now() - timedelta(days=8)
            Monitor.objects.filter(pk=monitor.pk).update(rule_since=week_ago, created_at=week_ago)
            MinuteCount.objects.bulk_create([
                MinuteCount(monitor=monitor, minute=week_ago + timedelta(hours=h), volume=2, neutral=2)
                for h in range(8 * 24)
            ])  # fmt: skip
            AlertRule.objects.get_or_create(monitor=monitor)  # the defaults: 10 minutes of a storm, 3× the usual
            polling.poll_due()  # the streams start from what is there

            verified: list[dict] = []

            def worker_round() -> None:
                polling.poll_due()
                consumers.dispatch_all()
                spikes.detect.call()
                dispatch.run()
                channels.retry_due()
                while len(verified) < len(receiver.requests):  # checked as it arrives (its timestamp is now)
                    request = receiver.requests[len(verified)]
                    verified.append(Webhook(secret).verify(request["body"], request["headers"]))

            crowd = runs.scenario_run("crisis", minutes=60, speed=1, seed=7, intensity=1.5)
            simulated, next_round = [0.0], [float(STEP_S)]
            done: dict[str, object] = {}

            def sleep(seconds: float) -> None:
                simulated[0] += seconds
                traveller.shift(seconds)
                if simulated[0] >= next_round[0]:
                    next_round[0] += STEP_S
                    worker_round()
                if "statement" not in done and Alert.objects.filter(monitor=monitor).exists():
                    done["statement"] = respond(page, new_page, live_server.url, report)
                    worker_round()  # publishing's dispatch sends the approved statement

            runs.execute(crowd, sleep=sleep, clock=lambda: simulated[0])
            crowd.refresh_from_db()
            assert crowd.state == "done", crowd.error
            for _ in range(4):  # what the last minute wrote, read and counted
                traveller.shift(STEP_S)
                worker_round()

            # the alert reached the webhook, signed
            alert = Alert.objects.filter(monitor=monitor).earliest("created_at")
            assert Delivery.objects.filter(event="alert.raised", state="delivered").exists()
            assert any(v["type"] == "alert.raised" and alert.reason in v["data"]["text"] for v in verified)

            # the statement went out and the crowd answered it, calmer than the storm
            incident = Incident.objects.get(enterprise=enterprise)
            assert incident.alert_id == alert.pk
            (said,) = [s for s in incidents.statements(incident) if s.drafted_here]
            assert said.at is not None and said.emergency
            assert sum(said.replies.values()) >= 5, said.replies
            storm = MinuteCount.objects.filter(monitor=monitor, minute__gte=alert.window_end - timedelta(minutes=30),
                                               minute__lt=said.at).aggregate(v=Sum("volume"), n=Sum("negative"))  # fmt: skip
            assert said.negative_share < storm["n"] / storm["v"] - 0.1, (said.replies, storm)

            analyst = new_page()
            login(analyst, live_server.url, "zhaolei", DEMO_PASSWORD)
            analyst.goto(f"{live_server.url}/monitoring/incidents/{incident.pk}/")
            replies = analyst.inner_text("li.statement .replies")
            assert f"正面 {said.replies.get('positive', 0)}" in replies and "负面占比" in replies
            analyst.screenshot(path=screenshots / "incident-statement-1280-zh.png", full_page=True)
            analyst.context.close()
    finally:
        receiver.close()


def respond(page, new_page, base: str, report) -> bool:  # type: ignore[no-untyped-def]
    """The people: the analyst opens an incident from the alert; the admin drafts the statement
    in its room; the reviewer approves it."""
    login(page, base, "zhaolei", DEMO_PASSWORD)  # 舆情分析
    page.goto(base + "/monitoring/alerts/")
    page.click("main button:has-text('开启事件')")
    page.wait_for_url(base + "/monitoring/incidents/*/")
    assert "来自预警" in page.inner_text("main")
    room = page.url

    admin = new_page()
    login(admin, base, "lina", DEMO_PASSWORD)  # 管理员: the emergency path
    admin.goto(room)
    admin.fill("#s-text", "【情况说明】关于网友反映的产品问题，我们已封存相关批次并送第三方检测，结果第一时间公布。给大家带来困扰，深表歉意。检测进展：https://demo.guanwei.local/notice")
    admin.click("main button:has-text('送审并发布')")
    admin.wait_for_url(base + "/publishing/posts/*/")  # (the link: the demo's app posts through Weibo's share API)
    post_url = admin.url
    admin.context.close()

    reviewer = new_page()
    login(reviewer, base, "liuyang", DEMO_PASSWORD)  # 审核
    reviewer.goto(post_url)
    reviewer.click("main button:has-text('批准')")
    assert "已批准并排期" in reviewer.inner_text("main")
    reviewer.context.close()
    return True
