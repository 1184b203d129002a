"""Prometheus metrics every service exposes on /metrics."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

REQUEST_LATENCY = Histogram(
    "crm_http_request_duration_seconds",
    "HTTP request latency by route template, method and status class.",
    ["service", "method", "route", "status"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
OUTBOX_BACKLOG = Gauge("crm_outbox_backlog", "Outbox rows not yet published.", ["service"])
OUTBOX_OLDEST_AGE = Gauge(
    "crm_outbox_oldest_age_seconds", "Age of the oldest unpublished outbox row.", ["service"]
)
OUTBOX_PUBLISHED = Counter("crm_outbox_published_total", "Outbox rows published.", ["topic"])
CONSUMER_PROCESSED = Counter(
    "crm_consumer_events_total", "Events consumed, by outcome.", ["group", "topic", "outcome"]
)
CONSUMER_LAG = Gauge(
    "crm_consumer_lag", "Messages behind the partition end.", ["group", "topic", "partition"]
)
DLQ_MESSAGES = Counter("crm_dlq_messages_total", "Messages sent to a DLQ.", ["group", "topic"])
