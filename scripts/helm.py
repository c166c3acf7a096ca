#!/usr/bin/env python3
"""Renders and lints the Helm chart offline with real Helm (v4, as a library: the PyPI
package helm-python-sdk), for machines without a helm binary or a cluster.

  scripts/helm.py render CHART [-f VALUES]... [--set K=V]... [--name N] [--namespace NS]
      prints the manifests as `helm template` does (one `# Source:` document per file)
  scripts/helm.py lint CHART [-f VALUES]...
      `helm lint --strict`: exits 1 on any warning or error
"""
import argparse
import sys

import helm_python as helm
import yaml


def merge(base, override):
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            merge(base[key], value)
        else:
            base[key] = value
    return base


def values(args):
    merged = {}
    for path in args.values or []:
        with open(path, encoding="utf-8") as handle:
            merge(merged, yaml.safe_load(handle) or {})
    for assignment in args.set or []:
        merge(merged, helm.parse_set_string(assignment))
    return merged


def render(args):
    chart = helm.Chart.load(args.chart)
    manifests = chart.render(
        values(args), name=args.name, namespace=args.namespace, is_install=True
    )
    out = []
    for path in sorted(manifests):
        text = manifests[path].strip()
        if not text or path.endswith("NOTES.txt"):
            continue
        out.append(f"---\n# Source: {path}\n{text}\n")
    sys.stdout.write("".join(out))
    return 0


def lint(args):
    report = helm.lint(args.chart, values(args), strict=True, kube_version="v1.33.0")
    problems = [m for m in report.get("messages") or [] if m.get("severity", 0) >= 2]
    for message in report.get("messages") or []:
        print(f"[{message.get('severity')}] {message.get('path')}: {message.get('error')}")
    for error in report.get("errors") or []:
        print(f"error: {error}")
    return 1 if problems or report.get("errors") else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["render", "lint"])
    parser.add_argument("chart")
    parser.add_argument("-f", "--values", action="append")
    parser.add_argument("--set", action="append")
    parser.add_argument("--name", default="vigia")
    parser.add_argument("--namespace", default="monitoring")
    args = parser.parse_args()
    try:
        return render(args) if args.command == "render" else lint(args)
    except helm.HelmError as error:
        print(f"helm: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
