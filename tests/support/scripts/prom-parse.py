#!/usr/bin/python3
"""Reads a Prometheus text exposition on stdin and prints it as JSON, parsed by the official
Python client's parser (Debian's python3-prometheus-client):
  {"families": {"NAME": "TYPE", ...},
   "samples": [{"name": ..., "labels": {...}, "value": ...}, ...]}
Exit status 1 (reason on stderr) when the text does not parse."""
import json
import sys

from prometheus_client.parser import text_string_to_metric_families

families = {}
samples = []
try:
    for family in text_string_to_metric_families(sys.stdin.read()):
        families[family.name] = family.type
        for sample in family.samples:
            samples.append({"name": sample.name, "labels": sample.labels, "value": sample.value})
except Exception as error:  # the parser raises ValueError and others on bad input
    print(f"prom-parse: {error}", file=sys.stderr)
    sys.exit(1)
json.dump({"families": families, "samples": samples}, sys.stdout)
