#!/usr/bin/python3
"""Prints, as JSON, every herald_ metric name that the PromQL expressions of a Grafana dashboard
and of Prometheus rule files use:
  metric-names.py DASHBOARD.json RULES.yml... -> {"dashboard": [...], "rules": [...]}
Histogram series (_bucket, _sum, _count) are named by their family. Exit status 1 when a file
does not load (invalid JSON or YAML, or no expression in it)."""
import json
import re
import sys

import yaml

NAME = re.compile(r"\bherald_[a-zA-Z0-9_]+")


def family(name):
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def dashboard_exprs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "expr" and isinstance(value, str):
                yield value
            else:
                yield from dashboard_exprs(value)
    elif isinstance(node, list):
        for item in node:
            yield from dashboard_exprs(item)


def names(exprs):
    found = set()
    for expr in exprs:
        found.update(family(name) for name in NAME.findall(expr))
    return sorted(found)


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        dashboard = json.load(f)
    rule_exprs = []
    for path in sys.argv[2:]:
        with open(path, encoding="utf-8") as f:
            rules = yaml.safe_load(f)
        for group in rules["groups"]:
            rule_exprs.extend(rule["expr"] for rule in group["rules"])
    panel_exprs = list(dashboard_exprs(dashboard))
    if not panel_exprs or not rule_exprs:
        print("metric-names: no expressions found", file=sys.stderr)
        sys.exit(1)
    json.dump({"dashboard": names(panel_exprs), "rules": names(rule_exprs)}, sys.stdout)


main()
