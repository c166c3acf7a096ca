"""Validates Kubernetes manifests offline against the schemas kubernetes-validate bundles.

Usage: kube_validate.py VERSION FILE... ; prints one line per object, exits 1 on any error.
Items of a `kind: List` are validated one by one (the schemas have no List). Prometheus
Operator objects (PodMonitor, PrometheusRule, ServiceMonitor) have no bundled schema: their
required fields are checked here instead.
"""
import sys

import kubernetes_validate
import yaml

OPERATOR_REQUIRED = {
    "PodMonitor": ["selector", "podMetricsEndpoints"],
    "ServiceMonitor": ["selector", "endpoints"],
    "PrometheusRule": ["groups"],
}


def objects(path):
    with open(path, encoding="utf-8") as handle:
        for document in yaml.safe_load_all(handle):
            if document is None:
                continue
            if document.get("kind") == "List":
                yield from document.get("items") or []
            else:
                yield document


def check_operator(obj):
    if obj.get("apiVersion") != "monitoring.coreos.com/v1":
        return "apiVersion must be monitoring.coreos.com/v1"
    spec = obj.get("spec") or {}
    missing = [k for k in OPERATOR_REQUIRED[obj["kind"]] if not spec.get(k)]
    if missing:
        return "spec lacks " + ", ".join(missing)
    if not (obj.get("metadata") or {}).get("name"):
        return "metadata.name is missing"
    return None


def main():
    version, files = sys.argv[1], sys.argv[2:]
    failures = 0
    count = 0
    for path in files:
        for obj in objects(path):
            count += 1
            name = f"{path}: {obj.get('kind')}/{(obj.get('metadata') or {}).get('name')}"
            if obj.get("kind") in OPERATOR_REQUIRED:
                error = check_operator(obj)
            else:
                try:
                    kubernetes_validate.validate(obj, version, strict=True)
                    error = None
                except Exception as exc:  # ValidationError, SchemaNotFoundError, ...
                    error = f"{type(exc).__name__}: {exc}"
            if error:
                failures += 1
                print(f"INVALID {name}: {error}")
            else:
                print(f"ok {name}")
    if count == 0:
        print("no object found")
        return 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
