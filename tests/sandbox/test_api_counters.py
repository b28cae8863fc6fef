"""Property tests: whatever sequence of writes happens, the counters equal the rows they count,
and walking a timeline by cursor visits every item exactly once."""

from __future__ import annotations

import pytest
from django.db.models import Count, Q
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guanwei.sandbox import store
from guanwei.sandbox.models import Comment, Follow, Like, SandboxUser, Status
from guanwei.sandbox.world import make_app_and_user
from tests.sandbox.api_helpers import call

pytestmark = pytest.mark.django_db

USERS = 4
op = st.one_of(
    st.tuples(st.just("post"), st.integers(0, USERS - 1)),
    st.tuples(st.just("repost"), st.integers(0, USERS - 1), st.integers(0, 50)),
    st.tuples(st.just("comment"), st.integers(0, USERS - 1), st.integers(0, 50)),
    st.tuples(st.just("destroy"), st.integers(0, 50)),
    st.tuples(st.just("uncomment"), st.integers(0, 50)),
    st.tuples(st.just("like"), st.integers(0, USERS - 1), st.integers(0, 50)),
    st.tuples(st.just("unlike"), st.integers(0, USERS - 1), st.integers(0, 50)),
    st.tuples(st.just("follow"), st.integers(0, USERS - 1), st.integers(0, USERS - 1)),
    st.tuples(st.just("unfollow"), st.integers(0, USERS - 1), st.integers(0, USERS - 1)),
    st.tuples(
        st.just("bulk_follow"),
        st.lists(st.tuples(st.integers(0, USERS - 1), st.integers(0, USERS - 1)), max_size=6),
    ),
)


def _pick(items, i):
    return items[i % len(items)] if items else None


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=st.lists(op, max_size=25))
def test_counters_always_equal_the_rows(ops):
    users = store.bulk_create_users(
        [{"screen_name": f"u{SandboxUser.objects.count()}_{i}"} for i in range(USERS)]
    )
    for o in ops:
        live = list(Status.objects.filter(user__in=users, deleted_at=None).order_by("pk"))
        kind = o[0]
        if kind == "post":
            store.post_status(users[o[1]], "text")
        elif kind == "repost" and live:
            store.repost(users[o[1]], _pick(live, o[2]), "转")
        elif kind == "comment" and live:
            store.comment(users[o[1]], _pick(live, o[2]), "评")
        elif kind == "destroy" and live:
            store.destroy_status(_pick(live, o[1]))
        elif kind == "uncomment":
            comments = list(Comment.objects.filter(user__in=users, deleted_at=None).order_by("pk"))
            if comments:
                store.destroy_comment(_pick(comments, o[1]))
        elif kind == "like" and live:
            store.like(users[o[1]], _pick(live, o[2]))
        elif kind == "unlike" and live:
            store.unlike(users[o[1]], _pick(live, o[2]))
        elif kind == "follow":
            store.follow(users[o[1]], users[o[2]])
        elif kind == "unfollow":
            store.unfollow(users[o[1]], users[o[2]])
        elif kind == "bulk_follow":
            store.bulk_follow([(users[a], users[b]) for a, b in o[1]])

    for u in SandboxUser.objects.filter(pk__in=[u.pk for u in users]):
        assert u.statuses_count == Status.objects.filter(user=u, deleted_at=None).count()
        assert u.followers_count == Follow.objects.filter(followee=u).count()
        assert u.friends_count == Follow.objects.filter(follower=u).count()
        mutual = Follow.objects.filter(follower=u, followee__following__followee=u).count()
        assert u.bi_followers_count == mutual
    statuses = Status.objects.filter(user__in=users).annotate(
        live_comments=Count("comments", filter=Q(comments__deleted_at=None), distinct=True),
    )
    for s in statuses:
        assert s.comments_count == s.live_comments
        assert s.attitudes_count == Like.objects.filter(status=s).count()
        reposts = Status.objects.filter(
            Q(repost_parent=s) | Q(retweeted_status=s), deleted_at=None
        ).count()
        assert s.reposts_count == reposts


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(n=st.integers(0, 30), count=st.integers(1, 12))
def test_walking_by_next_cursor_visits_each_status_once(client, n, count):
    _, official, token = make_app_and_user()
    made = store.bulk_create_statuses(
        [
            {
                "user": store.create_user(f"提及者{official.pk}_{i}"),
                "text": f"@{official.screen_name} {i}",
            }
            for i in range(n)
        ]
    )
    seen, max_id = [], 0
    for _ in range(n + 2):
        body = call(client, "GET", "statuses/mentions", token, count=count, max_id=max_id).json()
        seen += [s["id"] for s in body["statuses"]]
        assert len(body["statuses"]) <= count
        if not body["next_cursor"]:
            break
        max_id = body["next_cursor"]
    assert seen == [s.pk for s in reversed(made)]
