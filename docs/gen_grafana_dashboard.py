#!/usr/bin/python3
"""Writes docs/grafana-dashboard.json from the metric names in docs/metrics.md's families (run from the repository
root: python3 docs/gen_grafana_dashboard.py). The dashboard imports into Grafana 9+ with a Prometheus data source;
the `instance` variable picks brokers. tests/e2e/0031_observability.py checks every metric it references is exposed
by a running broker."""
import json
import os

RATE = "[$__rate_interval]"
SEL = '{instance=~"$instance"}'


def sel(extra=""):
    return '{instance=~"$instance"%s}' % ("," + extra if extra else "")


def rate(metric, by=None, extra=""):
    inner = "rate(%s%s%s)" % (metric, sel(extra), RATE)
    return "sum by (%s) (%s)" % (by, inner) if by else "sum(%s)" % inner


def quantile(q, metric, by=None, extra=""):
    group = "le" + ("," + by if by else "")
    return "histogram_quantile(%s, sum by (%s) (rate(%s_bucket%s%s)))" % (q, group, metric, sel(extra), RATE)


# (row title, [(panel title, unit, [(expr, legend)])])
ROWS = [
    ("Traffic", [
        ("Produced bytes/s by topic", "Bps", [(rate("floe_topic_bytes_in_total", "topic"), "{{topic}}")]),
        ("Consumed bytes/s by topic", "Bps", [(rate("floe_topic_bytes_out_total", "topic"), "{{topic}}")]),
        ("Records/s in and out", "short", [(rate("floe_topic_records_in_total"), "in"),
                                           (rate("floe_topic_records_out_total"), "out")]),
        ("Partitions led", "short", [("sum by (instance) (floe_partitions_led%s)" % SEL, "{{instance}}")]),
        ("Consumer group lag (records)", "short", [
            ("max by (group) (floe_group_lag_total_records%s)" % SEL, "{{group}}"),
            ("max(floe_group_lag_series_dropped%s)" % SEL, "partitions not listed")]),
        ("Lag by partition (top 10)", "short", [
            ("topk(10, max by (group, topic, partition) (floe_group_lag_records%s))" % SEL,
             "{{group}} {{topic}}/{{partition}}")]),
    ]),
    ("Kafka requests", [
        ("Requests/s by API", "reqps", [(rate("floe_kafka_requests_total", "api"), "{{api}}")]),
        ("Errors/s by API and error", "reqps", [(rate("floe_kafka_request_errors_total", "api,error"),
                                                 "{{api}} {{error}}")]),
        ("Request latency p99 by API", "s", [(quantile(0.99, "floe_kafka_request_duration_seconds", "api"),
                                              "{{api}}")]),
        ("Request and response bytes/s", "Bps", [(rate("floe_kafka_request_bytes_total"), "requests"),
                                                 (rate("floe_kafka_response_bytes_total"), "responses")]),
        ("In flight and connections", "short", [("sum(floe_kafka_requests_in_flight%s)" % SEL, "in flight"),
                                                ("sum(floe_net_connections_open%s)" % SEL, "connections"),
                                                (rate("floe_net_connections_accepted_total"), "accepted/s"),
                                                (rate("floe_net_requests_total"), "frames/s")]),
    ]),
    ("File WAL", [
        ("Append latency (append to durable)", "s", [
            (quantile(0.5, "floe_wal_append_duration_seconds"), "p50"),
            (quantile(0.99, "floe_wal_append_duration_seconds"), "p99")]),
        ("fsync latency", "s", [(quantile(0.5, "floe_wal_sync_duration_seconds"), "p50"),
                                (quantile(0.99, "floe_wal_sync_duration_seconds"), "p99")]),
        ("Group commit size", "short", [
            ("%s / %s" % (rate("floe_wal_group_commit_appends_sum"), rate("floe_wal_group_commit_appends_count")),
             "appends per sync"),
            (quantile(0.99, "floe_wal_group_commit_appends"), "p99 appends per sync")]),
        ("Bytes per group commit", "bytes", [
            ("%s / %s" % (rate("floe_wal_group_commit_bytes_sum"), rate("floe_wal_group_commit_bytes_count")),
             "mean")]),
        ("Appends, syncs and refusals/s", "ops", [(rate("floe_wal_appends_total"), "appends"),
                                                  (rate("floe_wal_syncs_total"), "syncs"),
                                                  (rate("floe_wal_appends_refused_total"), "refused")]),
        ("WAL throughput and pending bytes", "bytes", [(rate("floe_wal_append_bytes_total"), "appended/s"),
                                                       ("sum(floe_wal_pending_bytes%s)" % SEL, "pending")]),
    ]),
    ("Object store", [
        ("Requests/s by operation", "reqps", [(rate("floe_objstore_requests_total", "op"), "{{op}}")]),
        ("Errors and retries/s by operation", "reqps", [
            (rate("floe_objstore_errors_total", "op"), "errors {{op}}"),
            (rate("floe_objstore_retries_total", "op"), "retries {{op}}")]),
        ("Request latency p99 by operation", "s", [(quantile(0.99, "floe_objstore_request_duration_seconds", "op"),
                                                    "{{op}}")]),
        ("Bytes/s sent and received", "Bps", [(rate("floe_objstore_sent_bytes_total", "op"), "sent {{op}}"),
                                              (rate("floe_objstore_received_bytes_total", "op"), "received {{op}}")]),
        ("Stored (committed objects)", "bytes", [("max(floe_objstore_stored_bytes%s)" % SEL, "bytes"),
                                                 ("max(floe_objstore_stored_objects%s)" % SEL, "objects")]),
    ]),
    ("Caches and compaction", [
        ("Block cache hit ratio", "percentunit", [
            ("%s / %s" % (rate("floe_block_cache_lookups_total", extra='result="hit"'),
                          rate("floe_block_cache_lookups_total")), "hits")]),
        ("Block cache bytes and evictions", "bytes", [
            ("sum(floe_block_cache_bytes%s)" % SEL, "cached"),
            ("sum(floe_block_cache_limit_bytes%s)" % SEL, "bound"),
            (rate("floe_block_cache_evictions_total"), "evictions/s")]),
        ("Read-ahead", "Bps", [(rate("floe_read_ahead_bytes_total"), "fetched ahead/s"),
                               ("sum(floe_read_ahead_inflight_bytes%s)" % SEL, "in flight"),
                               (rate("floe_read_ahead_gets_total", "outcome"), "GETs/s {{outcome}}")]),
        ("Compaction backlog", "short", [("max(floe_compaction_backlog_objects%s)" % SEL, "small objects"),
                                         ("max(floe_compaction_committed_objects%s)" % SEL, "committed objects")]),
        ("Compaction objects/s", "ops", [(rate("floe_compaction_objects_merged_total"), "merged"),
                                         (rate("floe_compaction_objects_written_total"), "written"),
                                         (rate("floe_compaction_gc_deleted_objects_total"), "deleted after grace"),
                                         (rate("floe_compaction_rounds_total", "result"), "rounds {{result}}")]),
        ("Compaction bytes/s", "Bps", [(rate("floe_compaction_read_bytes_total"), "read"),
                                       (rate("floe_compaction_rewritten_bytes_total"), "rewritten"),
                                       (rate("floe_compaction_stale_reads_total"), "stale-map re-reads/s")]),
    ]),
    ("Metadata store", [
        ("Txn latency", "s", [(quantile(0.5, "floe_meta_request_duration_seconds", extra='op="txn"'), "p50"),
                              (quantile(0.99, "floe_meta_request_duration_seconds", extra='op="txn"'), "p99")]),
        ("Requests/s by operation", "reqps", [(rate("floe_meta_requests_total", "op"), "{{op}}")]),
    ]),
    ("Cluster", [
        ("Partitions per broker", "short", [("sum by (instance) (floe_partitions_led%s)" % SEL, "{{instance}}"),
                                            ("max(floe_cluster_partitions_unavailable%s)" % SEL, "without a leader")]),
        ("Failovers", "short", [("max(increase(floe_cluster_failovers_total%s%s))" % (SEL, RATE), "failovers"),
                                ("max(floe_cluster_failovers_in_progress%s)" % SEL, "in progress"),
                                ("sum(increase(floe_controller_epochs_sealed_total%s%s))" % (SEL, RATE),
                                 "epochs sealed")]),
        ("Failover duration", "s", [("max(floe_cluster_last_failover_seconds%s)" % SEL, "last"),
                                    (quantile(0.99, "floe_cluster_failover_duration_seconds"), "p99"),
                                    (quantile(0.99, "floe_controller_recovery_seconds"),
                                     "controller: detected -> reassigned p99")]),
        ("Handoff: change of owner -> serving on the new owner", "s", [
            (quantile(0.5, "floe_cluster_partition_handoff_seconds", "cause"), "p50 {{cause}}"),
            (quantile(0.99, "floe_cluster_partition_handoff_seconds", "cause"), "p99 {{cause}}")]),
        ("Metadata watch lag", "s", [
            ("max by (instance) (floe_cluster_image_watch_lag_seconds%s)" % SEL, "last {{instance}}"),
            (quantile(0.99, "floe_cluster_image_watch_lag_probe_seconds"), "p99"),
            ("sum(increase(floe_cluster_image_watch_probe_timeouts_total%s%s))" % (SEL, RATE), "probe timeouts")]),
        ("Metadata watch lag (revisions behind)", "short", [
            ("max by (instance) (floe_cluster_image_watch_lag_revisions%s)" % SEL, "{{instance}}")]),
        ("Partition opens, releases, drops/s", "ops", [
            (rate("floe_cluster_partitions_opened_total"), "opened"),
            (rate("floe_cluster_partitions_released_total"), "released"),
            (rate("floe_cluster_partitions_dropped_total"), "dropped"),
            (rate("floe_cluster_partition_open_failures_total"), "open failures")]),
        ("Controller", "short", [
            ("max by (instance) (floe_controller_elected%s)" % SEL, "elected {{instance}}"),
            (rate("floe_controller_assignments_written_total"), "assignments/s"),
            (rate("floe_controller_moves_requested_total"), "moves/s"),
            (rate("floe_controller_failed_txns_total"), "failed txns/s"),
            (rate("floe_controller_assignment_txns_total"), "assignment txns/s")]),
        ("Requests waiting for a partition being opened", "short", [
            ("sum by (instance) (floe_cluster_partition_open_waiters%s)" % SEL, "waiting {{instance}}"),
            (rate("floe_cluster_partition_open_waits_total"), "waits/s"),
            (rate("floe_cluster_partition_open_wait_failures_total", "reason"), "failed waits/s {{reason}}")]),
        ("Membership and image", "short", [
            ("max(floe_cluster_brokers_live%s)" % SEL, "live brokers"),
            ("min by (instance) (floe_cluster_registered%s)" % SEL, "registered {{instance}}"),
            ("sum(increase(floe_cluster_image_reloads_total%s%s))" % (SEL, RATE), "image reloads")]),
        ("Object WAL objects and PUT retries/s", "ops", [
            (rate("floe_wal_object_objects_total", "reason"), "objects {{reason}}"),
            (rate("floe_wal_object_put_retries_total"), "PUT retries"),
            (rate("floe_wal_object_commit_txns_total"), "commit txns"),
            (rate("floe_wal_object_committed_objects_total"), "objects committed")]),
        ("Last partition open batch", "s", [
            ("max by (instance) (floe_cluster_partition_open_batch_seconds%s)" % SEL, "{{instance}}")]),
    ]),
    ("Process and admin", [
        ("CPU", "percentunit", [("sum by (instance) (rate(floe_process_cpu_seconds_total%s%s))" % (SEL, RATE),
                                 "{{instance}}")]),
        ("Resident memory", "bytes", [("floe_process_resident_memory_bytes%s" % SEL, "{{instance}}")]),
        ("Uptime", "s", [("time() - floe_process_start_time_seconds%s" % SEL, "{{instance}}")]),
        ("io thread stalls (io.stall.warn.ms)", "short", [
            ("sum by (instance, kind) (increase(floe_io_stalls_total%s%s))" % (SEL, RATE), "{{instance}} {{kind}}"),
            (quantile(0.999, "floe_io_stall_seconds", "instance"), "p99.9 lateness (s) {{instance}}")]),
        ("Brokers", "short", [("floe_broker_info%s" % SEL, "node {{node_id}} zone {{zone}}")]),
        ("Admin HTTP requests/s", "reqps", [(rate("floe_http_requests_total", "path,code"), "{{path}} {{code}}"),
                                            (rate("floe_http_bad_requests_total"), "bad"),
                                            (rate("floe_http_connections_refused_total"), "refused")]),
        ("Admin HTTP connections", "short", [("sum(floe_http_connections_open%s)" % SEL, "open"),
                                             (rate("floe_http_connections_accepted_total"), "accepted/s")]),
        ("Metric series dropped (cardinality bound)", "short", [
            ("sum by (family) (floe_metrics_series_dropped_total%s)" % SEL, "{{family}}")]),
    ]),
]


def build():
    panels = []
    y = 0
    next_id = 1
    for row_title, row_panels in ROWS:
        panels.append({"type": "row", "title": row_title, "id": next_id, "collapsed": False,
                       "gridPos": {"h": 1, "w": 24, "x": 0, "y": y}, "panels": []})
        next_id += 1
        y += 1
        for i, (title, unit, targets) in enumerate(row_panels):
            panels.append({
                "type": "timeseries", "title": title, "id": next_id,
                "datasource": {"type": "prometheus", "uid": "${DS_PROMETHEUS}"},
                "gridPos": {"h": 8, "w": 8, "x": (i % 3) * 8, "y": y + (i // 3) * 8},
                "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
                "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
                "targets": [{"refId": chr(ord("A") + k), "expr": expr, "legendFormat": legend,
                             "datasource": {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}}
                            for k, (expr, legend) in enumerate(targets)],
            })
            next_id += 1
        y += ((len(row_panels) + 2) // 3) * 8
    return {
        "__inputs": [{"name": "DS_PROMETHEUS", "label": "Prometheus", "type": "datasource",
                      "pluginId": "prometheus", "pluginName": "Prometheus"}],
        "title": "Floe broker",
        "uid": "floe-broker",
        "description": "Generated by docs/gen_grafana_dashboard.py from the metrics in docs/metrics.md",
        "tags": ["floe", "kafka"],
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "time": {"from": "now-1h", "to": "now"},
        "refresh": "30s",
        "templating": {"list": [{
            "name": "instance", "label": "broker", "type": "query",
            "datasource": {"type": "prometheus", "uid": "${DS_PROMETHEUS}"},
            "query": "label_values(floe_process_start_time_seconds, instance)",
            "definition": "label_values(floe_process_start_time_seconds, instance)",
            "includeAll": True, "multi": True, "current": {"text": "All", "value": "$__all"}, "refresh": 2,
        }]},
        "panels": panels,
    }


if __name__ == "__main__":
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "grafana-dashboard.json")
    with open(out, "w") as f:
        json.dump(build(), f, indent=1, sort_keys=True)
        f.write("\n")
    print("wrote", out)
