//! Writing families out in the text or the OpenMetrics format: descriptors, escapes, quoted
//! names where a name is not a plain one, and what one format has and the other does not.
//!
//! Text has no units, exemplars or `_created` samples (they are left out), and no info,
//! stateset or gauge-histogram types (written as `untyped`, one family per sample name).
//! OpenMetrics wants a counter's samples to end in `_total`; a counter read from text whose
//! name does not is written as `unknown` rather than renamed.

use super::family::{MetricFamily, OwnedSample, format_float};
use super::{Format, MetricType, is_label_name, is_metric_name};
use std::fmt::Write;

/// Appends `families` to `out`; OpenMetrics output ends with `# EOF` only when `finish` is
/// called.
pub fn render(families: &[MetricFamily], format: Format, out: &mut String) {
    let names: std::collections::HashSet<&str> = families.iter().map(|f| f.name.as_str()).collect();
    for family in families {
        match format {
            Format::Text => render_text(family, out),
            Format::OpenMetrics => render_openmetrics(family, &names, out),
        }
    }
}

pub fn finish(format: Format, out: &mut String) {
    if format == Format::OpenMetrics {
        out.push_str("# EOF\n");
    }
}

fn render_text(family: &MetricFamily, out: &mut String) {
    match family.kind {
        MetricType::Counter | MetricType::Gauge | MetricType::Histogram | MetricType::Summary => {
            let name = match family.kind {
                // A counter's text name is its samples' name.
                MetricType::Counter => family
                    .samples
                    .iter()
                    .map(|s| s.name.as_ref())
                    .find(|n| !n.ends_with("_created"))
                    .unwrap_or(&family.name)
                    .to_owned(),
                _ => family.name.clone(),
            };
            descriptors(
                out,
                &name,
                family.kind.name(Format::Text),
                family.help.as_deref(),
                None,
                Format::Text,
            );
            for sample in family
                .samples
                .iter()
                .filter(|s| !s.name.ends_with("_created"))
            {
                sample_line(out, sample, Format::Text);
            }
        }
        _ => one_family_per_sample_name(family, "untyped", Format::Text, out),
    }
}

/// `names`: every family's name, so that a text counter `x_total` is not written as a family
/// `x` when a family `x` exists (node_exporter's `go_memstats_alloc_bytes` and
/// `go_memstats_alloc_bytes_total`).
fn render_openmetrics(
    family: &MetricFamily,
    names: &std::collections::HashSet<&str>,
    out: &mut String,
) {
    let mut name = family.name.as_str();
    let mut kind = family.kind;
    if kind == MetricType::Counter {
        let bare = family.samples.iter().all(|s| {
            s.name
                .strip_prefix(name)
                .is_some_and(|rest| rest == "_total" || rest == "_created")
        });
        if !bare {
            // Read from text as `errors` (no `_total`), or as `requests_total`.
            match name.strip_suffix("_total") {
                Some(stripped)
                    if !names.contains(stripped)
                        && family.samples.iter().all(|s| s.name.as_ref() == name) =>
                {
                    name = stripped;
                }
                _ => kind = MetricType::Unknown,
            }
        }
    }
    if kind == MetricType::Unknown {
        // An unknown family's samples carry its name alone.
        one_family_per_sample_name(family, "unknown", Format::OpenMetrics, out);
        return;
    }
    let unit = family
        .unit
        .as_deref()
        .filter(|u| !u.is_empty() && name.ends_with(&format!("_{u}")));
    descriptors(
        out,
        name,
        kind.name(Format::OpenMetrics),
        family.help.as_deref(),
        unit,
        Format::OpenMetrics,
    );
    for sample in &family.samples {
        sample_line(out, sample, Format::OpenMetrics);
    }
}

/// `family` written as one family of type `kind` per distinct sample name, in order of first
/// appearance: for types the format does not have, and unknown families (whose samples carry
/// the family's name alone).
fn one_family_per_sample_name(family: &MetricFamily, kind: &str, format: Format, out: &mut String) {
    let mut names: Vec<&str> = Vec::new();
    for sample in &family.samples {
        if !names.contains(&sample.name.as_ref()) {
            names.push(&sample.name);
        }
    }
    for name in names {
        descriptors(out, name, kind, family.help.as_deref(), None, format);
        for sample in family.samples.iter().filter(|s| s.name.as_ref() == name) {
            sample_line(out, sample, format);
        }
    }
}

fn descriptors(
    out: &mut String,
    name: &str,
    kind: &str,
    help: Option<&str>,
    unit: Option<&str>,
    format: Format,
) {
    let name = quoted_if_needed(name, is_metric_name);
    if let Some(help) = help {
        let _ = write!(out, "# HELP {name} ");
        for c in help.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '"' if format == Format::OpenMetrics => out.push_str("\\\""),
                c => out.push(c),
            }
        }
        out.push('\n');
    }
    let _ = writeln!(out, "# TYPE {name} {kind}");
    if let Some(unit) = unit {
        let _ = writeln!(out, "# UNIT {name} {unit}");
    }
}

fn sample_line(out: &mut String, sample: &OwnedSample, format: Format) {
    let bare = is_metric_name(&sample.name);
    if bare {
        out.push_str(&sample.name);
    }
    if !bare || !sample.labels.is_empty() {
        out.push('{');
        let mut first = true;
        if !bare {
            quoted(out, &sample.name);
            first = false;
        }
        for (name, value) in &sample.labels {
            if !first {
                out.push(',');
            }
            first = false;
            if is_label_name(name) {
                out.push_str(name);
            } else {
                quoted(out, name);
            }
            out.push('=');
            quoted(out, value);
        }
        out.push('}');
    }
    out.push(' ');
    out.push_str(&format_float(sample.value));
    if let Some(ms) = sample.timestamp_ms {
        match format {
            Format::Text => {
                let _ = write!(out, " {ms}");
            }
            Format::OpenMetrics => {
                let _ = write!(out, " {}", format_float(ms as f64 / 1000.0));
            }
        }
    }
    if format == Format::OpenMetrics
        && let Some(exemplar) = &sample.exemplar
    {
        out.push_str(" # {");
        for (i, (name, value)) in exemplar.labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(name);
            out.push('=');
            quoted(out, value);
        }
        out.push_str("} ");
        out.push_str(&format_float(exemplar.value));
        if let Some(ts) = exemplar.timestamp {
            out.push(' ');
            out.push_str(&format_float(ts));
        }
    }
    out.push('\n');
}

fn quoted_if_needed(name: &str, plain: fn(&str) -> bool) -> String {
    if plain(name) {
        name.to_owned()
    } else {
        let mut out = String::new();
        quoted(&mut out, name);
        out
    }
}

fn quoted(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::super::family::families_of;
    use super::super::parser::parse_body;
    use super::*;

    const OPENMETRICS: &str = "# HELP foo A counter.\n# TYPE foo counter\nfoo_total{path=\"/a\\\"b\"} 17 1520879607.789 # {trace_id=\"abc\"} 5\nfoo_created 1520872607.123\n# TYPE temperature_celsius gauge\n# UNIT temperature_celsius celsius\ntemperature_celsius 21.5\n# TYPE build info\nbuild_info{version=\"1.2\"} 1\n# TYPE lat_seconds histogram\nlat_seconds_bucket{le=\"0.1\"} 1\nlat_seconds_bucket{le=\"+Inf\"} 2\nlat_seconds_count 2\nlat_seconds_sum 0.3\n# TYPE \"my.metric\" gauge\n{\"my.metric\",\"a.b\"=\"c\"} 1\n# EOF\n";

    const TEXT: &str = "# HELP http_requests_total Requests.\n# TYPE http_requests_total counter\nhttp_requests_total{code=\"200\"} 3 1395066363000\n# TYPE errors counter\nerrors 1\n# TYPE rpc_seconds summary\nrpc_seconds{quantile=\"0.5\"} 0.2\nrpc_seconds_sum 1\nrpc_seconds_count 5\nlegacy 7\n";

    fn round_trip(input: &str, from: Format, to: Format) -> String {
        let families = families_of(input, from).unwrap();
        let mut out = String::new();
        render(&families, to, &mut out);
        finish(to, &mut out);
        parse_body(&out, to, |_, _, _| {}).unwrap_or_else(|e| panic!("{e}\n{out}"));
        out
    }

    #[test]
    fn openmetrics_written_as_openmetrics_keeps_everything() {
        let out = round_trip(OPENMETRICS, Format::OpenMetrics, Format::OpenMetrics);
        assert_eq!(out, OPENMETRICS);
    }

    #[test]
    fn openmetrics_written_as_text_drops_what_text_lacks() {
        let out = round_trip(OPENMETRICS, Format::OpenMetrics, Format::Text);
        assert!(
            out.contains(
                "# TYPE foo_total counter\nfoo_total{path=\"/a\\\"b\"} 17 1520879607789\n"
            ),
            "{out}"
        );
        assert!(!out.contains("_created") && !out.contains("trace_id") && !out.contains("UNIT"));
        assert!(
            out.contains("# TYPE build_info untyped\nbuild_info{version=\"1.2\"} 1\n"),
            "{out}"
        );
        assert!(out.contains("{\"my.metric\",\"a.b\"=\"c\"} 1\n"), "{out}");
    }

    #[test]
    fn text_written_as_openmetrics_is_valid_openmetrics() {
        let out = round_trip(TEXT, Format::Text, Format::OpenMetrics);
        assert!(
            out.contains(
                "# TYPE http_requests counter\nhttp_requests_total{code=\"200\"} 3 1395066363\n"
            ),
            "{out}"
        );
        assert!(out.contains("# TYPE errors unknown\nerrors 1\n"), "{out}");
        assert!(out.contains("# TYPE legacy unknown\nlegacy 7\n"), "{out}");
        assert_eq!(
            round_trip(TEXT, Format::Text, Format::Text),
            TEXT.replace("legacy 7", "# TYPE legacy untyped\nlegacy 7")
        );
    }
}
