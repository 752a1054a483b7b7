"""Pipeline health on Prometheus: lag, throughput, dead letters, latency, per service.

Only metric names declared in ``services/*/metric_defs.py`` appear here (a
test checks it). There is no dedicated scoring-delay metric yet; the scoring
row shows the scoring consumer's lag and batch latency, which bound it.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders.dashboard import Dashboard as DashboardBuilder
from grafana_foundation_sdk.models.dashboard import Dashboard

from services.grafana.panels import prom

UID = "packwatch-pipeline"

R = "[$__rate_interval]"
STEP = "[$__interval]"  # a gauge's highest value within each point's step


def _rate(metric: str, by: str) -> str:
    return f"sum by ({by}) (rate({metric}{R}))"


def _quantile(q: float, metric: str, by: str, where: str = "") -> str:
    sel = f"{metric}_bucket{{{where}}}" if where else f"{metric}_bucket"
    return f"histogram_quantile({q}, sum by (le, {by}) (rate({sel}{R})))"


PANELS: dict[str, tuple[dict[str, str], str]] = {
    "Consumer lag by service": (
        {"{{service}}": "sum by (service) (packwatch_consumer_lag)"},
        "short",
    ),
    "Rows written per second": (
        {"{{service}} → {{table}}": _rate("packwatch_rows_written_total", "service, table")},
        "rowsps",
    ),
    "Messages consumed per second": (
        {"{{service}} ← {{topic}}": _rate("packwatch_messages_in_total", "service, topic")},
        "short",
    ),
    "Dead letters per second": (
        {"{{service}}: {{reason}}": _rate("packwatch_dlq_messages_total", "service, reason")},
        "short",
    ),
    "Batch latency (first message to commit)": (
        {
            "p50 {{service}}": _quantile(0.5, "packwatch_batch_latency_seconds", "service"),
            "p95 {{service}}": _quantile(0.95, "packwatch_batch_latency_seconds", "service"),
        },
        "s",
    ),
    "Scoring delay (lag and batch latency of scoring)": (
        {
            "messages behind": 'sum(packwatch_consumer_lag{service="scoring"})',
            "p95 batch s": _quantile(
                0.95, "packwatch_batch_latency_seconds", "service", 'service="scoring"'
            ),
        },
        "short",
    ),
    "Paused for backpressure": (
        {"{{service}}": "max by (service) (packwatch_consumer_paused)"},
        "bool",
    ),
    "Warm-up replay after a restart or takeover (results not published)": (
        {"{{service}}": _rate("packwatch_warm_samples_total", "service")},
        "short",
    ),
    "Partitions warming up (waiting for their rewind or replaying)": (
        {"{{service}}": f"sum by (service) (max_over_time(packwatch_warming_partitions{STEP}))"},
        "short",
    ),
    "Decoder output and decode time": (
        {
            "samples/s": f"sum(rate(packwatch_decoder_samples_out_total{R}))",
            "p95 decode s": _quantile(0.95, "packwatch_decoder_decode_seconds", "job"),
            "failed produce rounds/s": f"sum(rate(packwatch_decoder_produce_failures_total{R}))",
        },
        "short",
    ),
    "API requests and latency": (
        {
            "{{status}} req/s": f"sum by (status) (rate(packwatch_api_requests_total{R}))",
            "p95 {{route}}": _quantile(0.95, "packwatch_api_request_seconds", "route"),
        },
        "short",
    ),
}


def build() -> Dashboard:
    board = (
        DashboardBuilder("Pipeline health")
        .uid(UID)
        .tags(["packwatch", "pipeline"])
        .description("Kafka consumer lag, throughput, dead letters and latency per service.")
        .time("now-3h", "now")
        .refresh("30s")
        .timezone("browser")
    )
    for title, (exprs, unit) in PANELS.items():
        board = board.with_panel(prom(title, exprs, unit))
    return board.build()
