#!/usr/bin/env python3
"""deploy/grafana: the dashboard queries only metrics that exist.

The documented metric list is the table in deploy/grafana/README.md (the one source of truth;
metrics_cluster_test checks the same table against live endpoints). Every PromQL expression in
deploy/grafana/wisp-dashboard.json (panel targets and template variable queries) is parsed for
the metric names it selects; each one, without a histogram's _bucket/_sum/_count suffix, must be
in the table, and histogram suffixes only on histograms. The dashboard's panels must use the
datasource variable. A self-check first proves the checker rejects an unknown name.
"""
import argparse
import json
import re
import sys

FUNCTIONS_AND_KEYWORDS = {
    "and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left",
    "group_right", "inf", "nan", "le",
}
HIST_SUFFIXES = ("_bucket", "_sum", "_count")


def documented_metrics(readme_text):
    """{name: type} from the README table rows "| `name` | type | ..."."""
    metrics = {}
    for line in readme_text.splitlines():
        m = re.match(r"^\|\s*`([a-zA-Z_:][a-zA-Z0-9_:]*)`\s*\|\s*(counter|gauge|histogram)\s*\|",
                     line)
        if m:
            metrics[m.group(1)] = m.group(2)
    return metrics


def metric_names(expr):
    """The metric names a PromQL expression selects."""
    s = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)          # string literals
    s = re.sub(r"\{[^}]*\}", " ", s)                        # label matchers
    s = re.sub(r"\[[^\]]*\]", " ", s)                       # range selectors
    s = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", s)
    s = re.sub(r"\$\{?[a-zA-Z_][a-zA-Z0-9_]*\}?", " ", s)  # Grafana variables
    names = set()
    for m in re.finditer(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)\b(\s*\()?", s):
        token, call = m.group(1), m.group(2)
        if call or token.lower() in FUNCTIONS_AND_KEYWORDS:
            continue
        names.add(token)
    return names


def label_values_metric(query):
    m = re.match(r"\s*label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)", query)
    return {m.group(1)} if m else set()


def check_name(name, metrics):
    if name in metrics:
        return None
    for suffix in HIST_SUFFIXES:
        base = name[: -len(suffix)] if name.endswith(suffix) else None
        if base and base in metrics:
            if metrics[base] != "histogram":
                return f"{name}: {base} is a {metrics[base]}, not a histogram"
            return None
    return f"{name}: not a documented metric (deploy/grafana/README.md)"


def check_dashboard(dashboard, metrics):
    problems = []
    variables = {v.get("name"): v for v in dashboard.get("templating", {}).get("list", [])}
    ds = variables.get("datasource")
    if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
        problems.append("no `datasource` variable of type datasource (prometheus)")
    for v in variables.values():
        if v.get("type") != "query":
            continue
        query = v.get("query")
        query = query.get("query", "") if isinstance(query, dict) else (query or "")
        for name in label_values_metric(query) or metric_names(query):
            if (p := check_name(name, metrics)):
                problems.append(f"variable {v.get('name')}: {p}")
    queried = 0
    for panel in dashboard.get("panels", []):
        if panel.get("type") == "row":
            continue
        title = panel.get("title", "?")
        targets = panel.get("targets", [])
        if not targets:
            problems.append(f"panel {title!r}: no query")
        if (panel.get("datasource") or {}).get("uid") != "${datasource}":
            problems.append(f"panel {title!r}: datasource is not ${{datasource}}")
        for t in targets:
            expr = t.get("expr", "")
            names = metric_names(expr)
            if not names:
                problems.append(f"panel {title!r}: {expr!r} names no metric")
            for name in names:
                if (p := check_name(name, metrics)):
                    problems.append(f"panel {title!r}: {p}")
            queried += 1
    return problems, queried


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--source-dir", required=True)
    args = ap.parse_args()
    with open(f"{args.source_dir}/deploy/grafana/README.md") as f:
        metrics = documented_metrics(f.read())
    with open(f"{args.source_dir}/deploy/grafana/wisp-dashboard.json") as f:
        dashboard = json.load(f)
    failures = []
    if len(metrics) < 10:
        failures.append(f"the README table lists only {len(metrics)} metrics: is it parsed?")

    # Self-check: the parser finds the names, and an unknown one fails.
    assert metric_names('histogram_quantile(0.9, sum by (le) (rate(a_b_bucket{x="y"}[5m])))') == \
        {"a_b_bucket"}, metric_names('histogram_quantile(0.9, sum by (le) (rate(a_b_bucket[5m])))')
    assert metric_names('sum(rate(x_total[$__rate_interval])) / sum(y) > 0') == {"x_total", "y"}
    bogus = json.loads(json.dumps(dashboard))
    bogus["panels"].append({"type": "timeseries", "title": "bogus",
                            "datasource": {"type": "prometheus", "uid": "${datasource}"},
                            "targets": [{"expr": "sum(rate(wisp_no_such_metric_total[5m]))"},
                                        {"expr": "rate(wisp_activations_total_bucket[5m])"}]})
    bogus_problems, _ = check_dashboard(bogus, metrics)
    if not any("wisp_no_such_metric_total" in p for p in bogus_problems) or \
       not any("wisp_activations_total_bucket" in p for p in bogus_problems):
        failures.append(f"self-check: an unknown metric was not rejected: {bogus_problems}")

    problems, queried = check_dashboard(dashboard, metrics)
    failures += problems
    if queried < 20:
        failures.append(f"only {queried} queries in the dashboard")
    # Every documented metric family the issue names has a panel.
    used = set()
    for panel in dashboard.get("panels", []):
        for t in panel.get("targets", []):
            for n in metric_names(t.get("expr", "")):
                used.add(re.sub(r"_(bucket|sum|count)$", "", n) if n not in metrics else n)
    for must in ["wisp_activations_total", "wisp_invoke_latency_seconds",
                 "wisp_invoker_container_starts_total", "wisp_invoker_containers",
                 "wisp_invoker_pool_memory_used_bytes", "wisp_loadbalancer_invoker_state",
                 "wisp_invoker_consumer_lag", "wisp_invoker_init_seconds"]:
        if must not in used:
            failures.append(f"no panel queries {must}")
    for f in failures:
        print("FAIL:", f)
    print(f"{len(metrics)} documented metrics, {queried} dashboard queries checked")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
