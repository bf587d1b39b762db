"""GET /metrics: counters move after a scripted conversation; closed to all but loopback and the bearer token."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from bot.types import EventKind, Incoming
from handlers import metrics
from tests.helpers_registration import link_path, post_password, provisional, seed_customer
from tests.line_driver import drain_jobs
from tests.servers import Mailbox

TOKEN = "metrics-token-" + "y" * 24


def scrape(client, **kwargs) -> dict[tuple[str, tuple], float]:
    """Every sample of /metrics as {(name, sorted labels): value}."""
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200, response.status_code
    assert response.content_type.startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_counters_move_after_a_registration_through_the_chat_and_the_page(app, client, line_user, mailbox):
    before = scrape(client)
    seed_customer(app)
    provisional(line_user)
    drain_jobs(app)
    path = link_path(Mailbox.body(mailbox.wait(1)[0]))
    assert post_password(client, path).status_code == 200
    drain_jobs(app)
    after = scrape(client)
    assert value(after, "aicom_registrations_total", stage="completed") == \
        value(before, "aicom_registrations_total", stage="completed") + 1
    assert value(after, "aicom_mails_total", outcome="sent") >= value(before, "aicom_mails_total", outcome="sent") + 1
    assert value(after, "aicom_jobs_total", job="send_mail_job", outcome="succeeded") >= \
        value(before, "aicom_jobs_total", job="send_mail_job", outcome="succeeded") + 1
    assert value(after, "aicom_jobs_total", job="push_effect_job", outcome="succeeded") >= \
        value(before, "aicom_jobs_total", job="push_effect_job", outcome="succeeded") + 1
    # The live gauges are there, read from Redis at scrape time.
    assert ("aicom_queue_depth", (("partition", "default"), ("queue", "rq"))) in after


def test_chat_signals_reach_metrics(app, client, line_user, mailbox):
    before = scrape(client)
    seed_customer(app)
    provisional(line_user)
    after = scrape(client)
    for stage in ("started", "provisional"):
        assert value(after, "aicom_registrations_total", stage=stage) == \
            value(before, "aicom_registrations_total", stage=stage) + 1
    assert value(after, "aicom_line_replies_total", outcome="sent") >= 1
    assert value(after, "aicom_line_events_total", type="message:text") >= 1
    assert any(name == "aicom_queue_depth" and ("queue", "line_events") in labels for name, labels in after)


def test_the_conversation_signals_what_metrics_counts(app, line_user):
    """The registration flow names its moments (verification failures, lockouts, stages) as turn signals."""
    seed_customer(app)
    engine = app.extensions["engine"]

    def says(text: str):
        return engine.handle(Incoming(line_user.user_id, EventKind.TEXT, text=text)).signals

    assert says("登録") == ["registration_started"]
    says("12345678")
    says("0748621234")
    assert says("ベツジン タロウ") == ["verification_failed"]
    signals = []
    for _ in range(4):
        says("12345678")
        says("0748621234")
        signals = says("ベツジン タロウ")
    assert signals == ["verification_failed", "lockout_user"]
    assert set(signals) <= metrics.SIGNAL_NAMES


def test_count_signals_moves_the_named_metrics(client):
    before = scrape(client)
    metrics.count_signals(["verification_failed", "lockout_number", "registration_provisional", "handoff_opened",
                           "something_new"])
    after = scrape(client)
    assert value(after, "aicom_verification_failures_total") == value(before, "aicom_verification_failures_total") + 1
    assert value(after, "aicom_verification_lockouts_total", scope="number") == \
        value(before, "aicom_verification_lockouts_total", scope="number") + 1
    assert value(after, "aicom_handoffs_total", event="opened") == \
        value(before, "aicom_handoffs_total", event="opened") + 1
    assert value(after, "aicom_conversation_signals_total", signal="something_new") == \
        value(before, "aicom_conversation_signals_total", signal="something_new") + 1


def test_queue_probe_registered_by_an_edge_shows_up(app, client):
    metrics.register_queue_probe(app, "line_events", lambda detail: [
        metrics.QueueStat("line_events", "3", depth=7, pending=2, oldest_age_seconds=1.5)])
    samples = scrape(client)
    labels = (("partition", "3"), ("queue", "line_events"))
    assert samples[("aicom_queue_depth", labels)] == 7
    assert samples[("aicom_queue_pending", labels)] == 2
    assert samples[("aicom_queue_oldest_age_seconds", labels)] == 1.5


def test_a_failing_probe_does_not_break_the_scrape(app, client):
    def broken(detail):
        raise ConnectionError("down")

    metrics.register_queue_probe(app, "broken", broken)
    scrape(client)
    samples = scrape(client)  # the failure is counted while the first scrape is rendered: seen on the next
    assert value(samples, "aicom_queue_probe_errors_total", probe="broken") >= 1


# -- who may scrape --------------------------------------------------------------------------------
def test_loopback_is_answered(client):
    assert client.get("/metrics").status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200


def test_other_addresses_and_proxied_requests_are_refused(client):
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.9"}).status_code == 403
    # Through a proxy on this host: the socket is loopback, but the request is not.
    assert client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 403
    assert client.get("/metrics", headers={"X-Forwarded-For": "127.0.0.1"}).status_code == 403


def test_no_token_configured_means_loopback_only(client):
    headers = {"Authorization": "Bearer anything", "X-Forwarded-For": "203.0.113.9"}
    assert client.get("/metrics", headers=headers).status_code == 403


def test_bearer_token_opens_it_from_anywhere(make_app):
    app = make_app(METRICS_TOKEN=TOKEN)
    client = app.test_client()
    remote = {"REMOTE_ADDR": "203.0.113.9"}
    assert client.get("/metrics", environ_base=remote,
                      headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert client.get("/metrics", environ_base=remote, headers={"Authorization": f"Bearer {TOKEN}",
                                                                "X-Forwarded-For": "198.51.100.1"}).status_code == 200
    assert client.get("/metrics", environ_base=remote, headers={"Authorization": f"Bearer {TOKEN}x"}).status_code == 403
    assert client.get("/metrics", environ_base=remote, headers={"Authorization": TOKEN}).status_code == 403
    assert client.get("/metrics", environ_base=remote).status_code == 403


def test_behind_a_trusted_proxy_the_forwarded_address_does_not_make_it_loopback(make_app):
    client = make_app(TRUSTED_PROXY_HOPS=1).test_client()
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.0.0.2"},
                      headers={"X-Forwarded-For": "127.0.0.1"}).status_code == 403



def test_stream_stats_reads_a_consumer_groups_lag_pending_and_age(app):
    """The helper the LINE edge's probe can use for its ``bot:events:<partition>`` streams."""
    redis = app.extensions["redis"]
    key = "bot:events:test0"
    assert metrics.stream_stats(redis, key, "workers", "line_events", "0").depth == 0  # no stream yet
    first_id = redis.xadd(key, {"event": "1"}, id="1000000000000-0")
    redis.xadd(key, {"event": "2"}, id="1000000001000-0")
    redis.xadd(key, {"event": "3"}, id="1000000002000-0")
    redis.xgroup_create(key, "workers", id="0")
    redis.xreadgroup("workers", "w1", {key: ">"}, count=1)  # one delivered, not acknowledged
    stat = metrics.stream_stats(redis, key, "workers", "line_events", "0", now=1000000010.0)
    assert (stat.depth, stat.pending) == (2, 1)
    assert stat.oldest_age_seconds == 10.0  # the pending one, from its id
    redis.xack(key, "workers", first_id)
    stat = metrics.stream_stats(redis, key, "workers", "line_events", "0", now=1000000010.0)
    assert (stat.depth, stat.pending, stat.oldest_age_seconds) == (2, 0, 9.0)


def test_event_and_push_helpers_keep_labels_bounded(client):
    before = scrape(client)
    metrics.count_event("message", "text")
    metrics.count_event("message", "somethingNew")
    metrics.count_event("brandNewEvent")
    metrics.count_push("sent", messages=3)
    metrics.count_reply("refused")
    metrics.observe_turn("text", event_timestamp_ms=1, now=2.0)
    after = scrape(client)
    for labels in ({"type": "message:text"}, {"type": "message:other"}, {"type": "other"}):
        assert value(after, "aicom_line_events_total", **labels) == value(before, "aicom_line_events_total",
                                                                          **labels) + 1
    assert value(after, "aicom_line_push_messages_total") == value(before, "aicom_line_push_messages_total") + 3
    assert value(after, "aicom_line_replies_total", outcome="refused") == \
        value(before, "aicom_line_replies_total", outcome="refused") + 1
    assert value(after, "aicom_turn_seconds_count", kind="text") == value(before, "aicom_turn_seconds_count",
                                                                          kind="text") + 1
