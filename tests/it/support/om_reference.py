"""The OpenMetrics reference parser (prometheus_client's) on each case of a JSON list read
from stdin ([{"name", "text"}]): prints [{"name", "ok", "error"}] as JSON."""
import json
import sys

from prometheus_client.openmetrics.parser import text_string_to_metric_families

results = []
for case in json.load(sys.stdin):
    try:
        list(text_string_to_metric_families(case["text"]))
        results.append({"name": case["name"], "ok": True, "error": None})
    except Exception as error:  # the parser raises ValueError and others
        results.append({"name": case["name"], "ok": False, "error": f"{type(error).__name__}: {error}"})
json.dump(results, sys.stdout)
