"""/ops/status for admins and /healthz for machines: workers, queues, overdue jobs, failures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.test import Client
from django_tasks_db.models import DBTaskResult

from guanwei.core import clock
from guanwei.ops import tasks
from guanwei.ops.models import PeriodicJobState, WorkerHeartbeat
from guanwei.ops.schedule import JOBS

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
NO_WORKER = 'data-testid="no-worker"'


def beat(worker_id: str = "w1", at: datetime | None = None, **kw) -> WorkerHeartbeat:  # type: ignore[no-untyped-def]
    at = at or clock.now()
    return WorkerHeartbeat.objects.create(
        worker_id=worker_id, host="ops-host-1", pid=4242, queues="*",
        started_at=at, last_beat_at=at, **kw,
    )


def test_status_page_is_for_admins_only(client_for) -> None:  # type: ignore[no-untyped-def]
    assert client_for("bob").get("/ops/status").status_code == 200
    assert client_for("alice").get("/ops/status").status_code == 200
    assert client_for("carol").get("/ops/status").status_code == 403  # editor
    assert client_for("heidi").get("/ops/status").status_code == 403  # viewer
    response = Client().get("/ops/status")
    assert response.status_code == 302 and "login" in response["Location"]


def test_status_page_warns_when_no_worker_has_beaten_for_two_minutes(operator_client, personas) -> None:  # type: ignore[no-untyped-def]
    admin = operator_client
    local_t0 = T0.astimezone(ZoneInfo(settings.DEFAULT_ENTERPRISE_TIME_ZONE))
    with time_machine.travel(T0, tick=False):
        beat(at=T0)
    with time_machine.travel(T0 + timedelta(seconds=110), tick=False):
        page = admin.get("/ops/status").content.decode()
        assert NO_WORKER not in page
        assert "ops-host-1" in page and "4242" in page
    with time_machine.travel(T0 + timedelta(seconds=121), tick=False):
        page = admin.get("/ops/status").content.decode()
        assert NO_WORKER in page
        # the last beat, in the enterprise's time zone, so one knows since when
        assert local_t0.strftime("%Y-%m-%d %H:%M:%S") in page


def test_status_page_warns_when_no_worker_ever_beat(operator_client) -> None:  # type: ignore[no-untyped-def]
    page = operator_client.get("/ops/status").content.decode()
    assert NO_WORKER in page


def test_a_stopped_worker_does_not_count_as_running(operator_client) -> None:  # type: ignore[no-untyped-def]
    beat(stopped_at=clock.now())
    assert NO_WORKER in operator_client.get("/ops/status").content.decode()


def test_status_page_shows_queue_depth_overdue_jobs_and_failed_tasks(operator_client) -> None:  # type: ignore[no-untyped-def]
    beat()
    for _ in range(3):
        tasks.prune_heartbeats.using(queue_name="publish").enqueue()
    overdue = JOBS[0]
    PeriodicJobState.objects.create(name=overdue.name, next_run_at=clock.now() - timedelta(minutes=5))
    failed = tasks.prune_heartbeats.enqueue()
    DBTaskResult.objects.filter(id=failed.id).update(
        status="FAILED", finished_at=clock.now(), exception_class_path="httpx.ConnectTimeout",
        traceback="secret-looking traceback",
    )
    page = operator_client.get("/ops/status").content.decode()
    assert 'data-queue="publish">3<' in page
    assert 'data-queue="default">0<' in page
    assert 'class="overdue"' in page and overdue.name in page
    assert "httpx.ConnectTimeout" in page
    assert "secret-looking traceback" not in page  # operators see what failed, not tenants' data


def test_status_fragment_for_htmx_refresh_has_no_page_shell(operator_client) -> None:  # type: ignore[no-untyped-def]
    response = operator_client.get("/ops/status", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert b"<html" not in response.content and NO_WORKER.encode() in response.content


@pytest.mark.django_db
def test_healthz_is_503_without_a_fresh_worker_and_200_with_one() -> None:
    client = Client()
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["db"] == "ok" and body["worker"]["fresh"] is False and body["status"] == "fail"
    assert body["queue_depth"] == {"default": 0, "publish": 0, "ingest": 0, "sandbox": 0}

    tasks.prune_heartbeats.using(queue_name="ingest").enqueue()
    beat()
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["worker"]["fresh"] is True and body["worker"]["fresh_count"] == 1
    assert body["queue_depth"]["ingest"] == 1


@pytest.mark.django_db
def test_healthz_turns_503_when_the_last_beat_is_older_than_two_minutes() -> None:
    with time_machine.travel(T0, tick=False):
        beat(at=T0)
        assert Client().get("/healthz").status_code == 200
    with time_machine.travel(T0 + timedelta(minutes=2, seconds=1), tick=False):
        response = Client().get("/healthz")
        assert response.status_code == 503
        assert response.json()["worker"]["last_beat_at"] == T0.isoformat()


@pytest.mark.django_db
def test_healthz_check_db_ignores_the_worker_for_load_balancers() -> None:
    response = Client().get("/healthz?check=db")
    assert response.status_code == 200 and response.json()["worker"]["fresh"] is False


def test_status_page_speaks_english_when_switched(operator_client) -> None:  # type: ignore[no-untyped-def]
    client = operator_client
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = client.get("/ops/status").content.decode()
    assert "No worker is running: no heartbeat for 120 seconds." in page
    assert "Periodic jobs" in page and "定时任务" not in page


@pytest.mark.django_db
def test_healthz_needs_no_worker_when_tasks_run_inside_requests(settings) -> None:  # type: ignore[no-untyped-def]
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend",
                                  "QUEUES": ["default"]}}
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json()["worker"] == {"needed": False, "fresh": False, "fresh_count": 0, "last_beat_at": None}


def test_status_page_does_not_cry_wolf_when_tasks_run_inside_requests(operator_client, settings) -> None:  # type: ignore[no-untyped-def]
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend",
                                  "QUEUES": ["default"]}}
    page = operator_client.get("/ops/status").content.decode()
    assert NO_WORKER not in page and "GUANWEI_TASKS_IMMEDIATE" in page


def test_a_tenant_admin_sees_only_their_enterprises_slice(client_for, personas) -> None:  # type: ignore[no-untyped-def]
    """Host names, PIDs and every tenant's task failures were shown to any tenant's admin."""
    beat()
    ours = tasks.prune_heartbeats.enqueue()
    theirs = tasks.prune_heartbeats.enqueue()
    server = tasks.prune_heartbeats.enqueue()
    for result, eid, exc in (
        (ours, personas.enterprise.pk, "ours.OurError"),
        (theirs, personas.outsider_enterprise.pk, "theirs.TheirError"),
        (server, None, "server.ServerError"),
    ):
        kwargs = {} if eid is None else {"enterprise_id": eid}
        DBTaskResult.objects.filter(id=result.id).update(
            status="FAILED", finished_at=clock.now(), exception_class_path=exc,
            args_kwargs={"args": [], "kwargs": kwargs},
        )  # fmt: skip
    for who in ("alice", "bob"):
        page = client_for(who).get("/ops/status").content.decode()
        assert "ops-host-1" not in page and "4242" not in page  # no hosts, no PIDs
        assert "ours.OurError" in page
        assert "theirs.TheirError" not in page and "server.ServerError" not in page
    mallory = client_for("mallory").get("/ops/status").content.decode()
    assert "theirs.TheirError" in mallory and "ours.OurError" not in mallory


def test_the_operator_sees_the_whole_server(operator_client, personas) -> None:  # type: ignore[no-untyped-def]
    beat()
    page = operator_client.get("/ops/status").content.decode()
    assert "ops-host-1" in page and "4242" in page


def test_the_operator_is_in_no_enterprise_and_lands_on_the_status_page(operator_client) -> None:  # type: ignore[no-untyped-def]
    response = operator_client.get("/")
    assert response.status_code == 302 and response["Location"] == "/ops/status"
    assert operator_client.get("/members/").status_code == 302  # no tenant page for the operator
    page = operator_client.get("/ops/status").content.decode()
    assert 'data-testid="operator-menu"' in page and "/sandbox/faults/" in page


def test_tenants_get_no_sandbox_tools_in_their_navigation(client_for) -> None:  # type: ignore[no-untyped-def]
    for who in ("alice", "frank"):
        page = client_for(who).get("/").content.decode()
        assert "/sandbox/runs/" not in page and "/sandbox/faults/" not in page
        assert 'data-testid="operator-menu"' not in page
        assert "/api/v1/docs" in page  # the API docs are linked from the user menu
