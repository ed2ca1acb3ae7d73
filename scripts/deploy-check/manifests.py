"""Checks on rendered manifests that no off-the-shelf validator makes (used by check-deploy).

split RENDERED OUT_DIR     core kinds to OUT_DIR/core.yaml, KEDA's to OUT_DIR/keda.yaml; checks
                           the Prometheus operator's kinds (ServiceMonitor, PrometheusRule) here
grace RENDERED...          every worker pod: terminationGracePeriodSeconds > its drain timeout
same-keda CHART PLAIN      keda/ manifests match the chart's (names, selector labels, spec)
promql RULES DASHBOARD METRICS_RS...
                           every alert and panel query parses as PromQL and names only metrics
                           the binary registers (Registry::with_prefix + register in METRICS_RS)
"""

import json
import re
import sys
from pathlib import Path

import yaml

KEDA = "keda.sh/v1alpha1"
MONITORING = "monitoring.coreos.com/v1"
# The binary's default (worker/src/settings/worker.rs, --drain-timeout-secs).
DEFAULT_DRAIN_SECS = 30
RULE_KEYS = {"alert", "record", "expr", "for", "keep_firing_for", "labels", "annotations"}
SELECTOR_LABELS = ("app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/component")


def docs(path):
    return [d for d in yaml.safe_load_all(Path(path).read_text()) if d]


def check_monitoring(doc):
    """The fields the Prometheus operator needs; its CRD schemas are not available offline."""
    kind, spec = doc["kind"], doc.get("spec") or {}
    if doc.get("apiVersion") != MONITORING:
        return [f"{kind}: apiVersion {doc.get('apiVersion')}, expected {MONITORING}"]
    if kind == "ServiceMonitor":
        ok = spec.get("selector") and spec.get("endpoints") and all(e.get("port") for e in spec["endpoints"])
        return [] if ok else ["ServiceMonitor: needs spec.selector and endpoints with a port"]
    if kind == "PrometheusRule":
        problems = []
        for group in spec.get("groups") or [{}]:
            rules = group.get("rules") or []
            if not group.get("name") or not rules:
                problems.append("PrometheusRule: a group needs a name and rules")
            for rule in rules:
                name = rule.get("alert") or rule.get("record")
                if not rule.get("expr") or not name:
                    problems.append(f"PrometheusRule: rule {rule}: needs expr and alert or record")
                if set(rule) - RULE_KEYS:
                    problems.append(f"PrometheusRule: rule {name}: unknown fields {sorted(set(rule) - RULE_KEYS)}")
        return problems
    return [f"{kind}: not a kind this check knows"]


def split(rendered, out_dir):
    core, keda, problems = [], [], []
    for doc in docs(rendered):
        api = doc.get("apiVersion", "")
        if api == KEDA:
            keda.append(doc)
        elif api.startswith("monitoring.coreos.com/"):
            problems += check_monitoring(doc)
        else:
            core.append(doc)
    out = Path(out_dir)
    (out / "core.yaml").write_text(yaml.safe_dump_all(core, sort_keys=False))
    (out / "keda.yaml").write_text(yaml.safe_dump_all(keda, sort_keys=False))
    for p in problems:
        print(p)
    return not problems


def worker_pods(doc):
    """(name, pod spec) of the pods that run `docfleet worker`."""
    spec = doc.get("spec") or {}
    template = {
        "Deployment": lambda: spec["template"],
        "Job": lambda: spec["template"],
        "ScaledJob": lambda: spec["jobTargetRef"]["template"],
    }.get(doc.get("kind"))
    if template is None:
        return []
    pod = template()["spec"]
    if not any("worker" in (c.get("args") or []) for c in pod["containers"]):
        return []
    return [(f"{doc['kind']}/{doc['metadata']['name']}", pod)]


def grace(paths):
    ok, seen = True, 0
    for path in paths:
        for doc in docs(path):
            for name, pod in worker_pods(doc):
                seen += 1
                grace_secs = pod.get("terminationGracePeriodSeconds", 30)
                for c in pod["containers"]:
                    env = {e["name"]: e.get("value") for e in c.get("env") or []}
                    drain = int(env.get("DOCFLEET_DRAIN_TIMEOUT_SECS") or DEFAULT_DRAIN_SECS)
                    if not grace_secs > drain:
                        ok = False
                        print(f"{path}: {name}: terminationGracePeriodSeconds {grace_secs} <= drain timeout {drain}")
    print(f"{seen} worker pod specs checked")
    return ok and seen > 0


def same_keda(chart, plain):
    def index(path):
        return {(d["kind"], d["metadata"]["name"]): d for d in docs(path) if d.get("apiVersion") == KEDA}

    mine, theirs = index(chart), index(plain)
    problems = []
    if set(mine) != set(theirs):
        problems.append(f"objects differ: chart {sorted(mine)}, {plain} {sorted(theirs)}")
    for key in set(mine) & set(theirs):
        a, b = mine[key], theirs[key]
        for label in SELECTOR_LABELS:
            if a["metadata"]["labels"].get(label) != (b["metadata"].get("labels") or {}).get(label):
                problems.append(f"{key}: label {label} differs")
        if a["spec"] != b["spec"]:
            problems.append(f"{key}: spec differs\n  chart: {a['spec']}\n  plain: {b['spec']}")
    for p in problems:
        print(p)
    return not problems


def exported_metrics(sources):
    """Names the binary can expose: each registered name with the suffixes its type may add."""
    names = set()
    for src in sources:
        text = Path(src).read_text()
        prefix = re.search(r'with_prefix\("([a-z_]+)"\)', text).group(1)
        for base in re.findall(r'register\(\s*"([a-z_]+)"', text):
            names |= {f"{prefix}_{base}{suffix}" for suffix in ("", "_total", "_bucket", "_sum", "_count")}
    return names


def promql(rules, dashboard, *sources):
    import promql_parser

    exprs = [(f"alert {r.get('alert') or r.get('record')}", r["expr"])
             for g in yaml.safe_load(Path(rules).read_text())["groups"] for r in g["rules"]]
    panels = json.loads(Path(dashboard).read_text())["panels"]
    exprs += [(f"panel {p['title']!r}", t["expr"]) for p in panels for t in p.get("targets", [])]
    known, problems = exported_metrics(sources), []
    for where, expr in exprs:
        # Grafana's interval variables are not PromQL; any duration stands in for them.
        text = re.sub(r"\$__(rate_)?interval", "5m", expr)
        try:
            promql_parser.parse(text)
        except ValueError as e:
            problems.append(f"{where}: {e}: {expr}")
        for name in set(re.findall(r"\b(docfleet_[a-z_]+)\b", text)) - known:
            problems.append(f"{where}: {name} is not a metric the binary exports")
    for p in problems:
        print(p)
    print(f"{len(exprs)} PromQL expressions checked against {len(known) // 5} registered metrics")
    return not problems


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    result = {"split": lambda: split(*args), "grace": lambda: grace(args), "same-keda": lambda: same_keda(*args),
              "promql": lambda: promql(*args)}[cmd]()
    sys.exit(0 if result else 1)
