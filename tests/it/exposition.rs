//! The exposition conformance suite: inputs from the OpenMetrics 1.0 specification and the
//! Prometheus text-format documentation (and the mistakes real exporters make), each with the
//! verdict and, for invalid ones, the line:column and reason the parser must give.

use vigia::metrics::exposition::Format::{self, OpenMetrics, Text};
use vigia::metrics::exposition::parser::parse_body;

enum Verdict {
    Valid,
    /// `line:column`, and a piece of the message.
    Invalid(&'static str, &'static str),
}
use Verdict::{Invalid, Valid};

const CASES: &[(&str, Format, &str, Verdict)] = &[
    // ── text 0.0.4: valid ──────────────────────────────────────────────────────────────
    (
        "text: the documentation's example",
        Text,
        "# HELP http_requests_total The total number of HTTP requests.\n# TYPE http_requests_total counter\nhttp_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\nhttp_requests_total{method=\"post\",code=\"400\"}    3 1395066363000\n\n# Escaping in label values:\nmsdos_file_access_time_seconds{path=\"C:\\\\DIR\\\\FILE.TXT\",error=\"Cannot find file:\\n\\\"FILE.TXT\\\"\"} 1.458255915e9\n\n# Minimalistic line:\nmetric_without_timestamp_and_labels 12.47\n\n# A weird metric from before the epoch:\nsomething_weird{problem=\"division by zero\"} +Inf -3982045\n",
        Valid,
    ),
    (
        "text: histogram",
        Text,
        "# HELP http_request_duration_seconds A histogram of the request duration.\n# TYPE http_request_duration_seconds histogram\nhttp_request_duration_seconds_bucket{le=\"0.05\"} 24054\nhttp_request_duration_seconds_bucket{le=\"0.1\"} 33444\nhttp_request_duration_seconds_bucket{le=\"0.2\"} 100392\nhttp_request_duration_seconds_bucket{le=\"0.5\"} 129389\nhttp_request_duration_seconds_bucket{le=\"1\"} 133988\nhttp_request_duration_seconds_bucket{le=\"+Inf\"} 144320\nhttp_request_duration_seconds_sum 53423\nhttp_request_duration_seconds_count 144320\n",
        Valid,
    ),
    (
        "text: summary",
        Text,
        "# TYPE rpc_duration_seconds summary\nrpc_duration_seconds{quantile=\"0.01\"} 3102\nrpc_duration_seconds{quantile=\"0.5\"} 4773\nrpc_duration_seconds{quantile=\"0.99\"} 76656\nrpc_duration_seconds_sum 1.7560473e+07\nrpc_duration_seconds_count 2693\n",
        Valid,
    ),
    (
        "text: NaN, -Inf, exponents",
        Text,
        "a NaN\nb -Inf\nc 1e-3\nd -0.5E+2\n",
        Valid,
    ),
    (
        "text: untyped with TYPE",
        Text,
        "# TYPE x untyped\nx{a=\"b\"} 1\n",
        Valid,
    ),
    (
        "text: a trailing comma and blanks in a label set",
        Text,
        "x{ a = \"b\" , c=\"d\", } 1\n",
        Valid,
    ),
    ("text: tabs as blanks", Text, "x\t1\t1000\n", Valid),
    ("text: empty label set", Text, "x{} 1\n", Valid),
    ("text: no final newline", Text, "x 1", Valid),
    ("text: empty exposition", Text, "", Valid),
    (
        "text: other comments",
        Text,
        "# just a comment\n#HELP is a comment too\nx 1\n",
        Valid,
    ),
    (
        "text: HELP with escapes and no TYPE",
        Text,
        "# HELP x Line one\\nline two \\\\ and \\q kept\nx 1\n",
        Valid,
    ),
    (
        "text: UTF-8 names in quotes",
        Text,
        "{\"my.metric\", \"label.name\"=\"v\"} 1\n",
        Valid,
    ),
    (
        "text: UTF-8 label values",
        Text,
        "x{city=\"São Paulo\"} 1\n",
        Valid,
    ),
    (
        "text: colons in metric names",
        Text,
        "job:http_requests:rate5m 3\n",
        Valid,
    ),
    (
        "text: HELP after TYPE",
        Text,
        "# TYPE x gauge\n# HELP x Help.\nx 1\n",
        Valid,
    ),
    // ── text 0.0.4: invalid ────────────────────────────────────────────────────────────
    (
        "text: no value",
        Text,
        "x\n",
        Invalid("1:2", "expected a space before the value"),
    ),
    (
        "text: a value that is not a number",
        Text,
        "x abc\n",
        Invalid("1:3", "expected a number"),
    ),
    (
        "text: a float timestamp",
        Text,
        "x 1 1.5\n",
        Invalid("1:5", "expected a timestamp"),
    ),
    (
        "text: text after the timestamp",
        Text,
        "x 1 1000 extra\n",
        Invalid("1:10", "unexpected text after the sample"),
    ),
    (
        "text: unterminated label value",
        Text,
        "x{a=\"b} 1\n",
        Invalid("1:5", "unterminated quoted string"),
    ),
    (
        "text: invalid escape",
        Text,
        "x{a=\"\\t\"} 1\n",
        Invalid("1:6", "invalid escape sequence"),
    ),
    (
        "text: duplicate label",
        Text,
        "x{a=\"1\",a=\"2\"} 1\n",
        Invalid("1:9", "label `a` appears twice"),
    ),
    (
        "text: label name with a dash",
        Text,
        "x{a-b=\"1\"} 1\n",
        Invalid("1:4", "expected '=' after the label name"),
    ),
    (
        "text: metric name with a digit first",
        Text,
        "1x 1\n",
        Invalid("1:1", "expected a metric name"),
    ),
    (
        "text: unknown type",
        Text,
        "# TYPE x timer\nx 1\n",
        Invalid("1:10", "unknown type `timer`"),
    ),
    (
        "text: second TYPE",
        Text,
        "# TYPE x gauge\n# TYPE x counter\nx 1\n",
        Invalid("2:1", "a second TYPE for `x`"),
    ),
    (
        "text: TYPE after samples",
        Text,
        "x 1\n# TYPE x gauge\n",
        Invalid("2:1", "a descriptor for `x` after its samples"),
    ),
    (
        "text: histogram bucket without le",
        Text,
        "# TYPE h histogram\nh_bucket 1\n",
        Invalid("2:1", "has no `le` label"),
    ),
    (
        "text: histogram without +Inf",
        Text,
        "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_count 1\n",
        Invalid("3:1", "without a +Inf bucket"),
    ),
    (
        "text: buckets out of order",
        Text,
        "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"0.5\"} 1\n",
        Invalid("3:1", "not above the previous bucket"),
    ),
    (
        "text: bucket counts going down",
        Text,
        "# TYPE h histogram\nh_bucket{le=\"1\"} 5\nh_bucket{le=\"+Inf\"} 4\n",
        Invalid("3:1", "counts less than the bucket before it"),
    ),
    (
        "text: summary quantile out of range",
        Text,
        "# TYPE s summary\ns{quantile=\"1.5\"} 1\n",
        Invalid("2:1", "not between 0 and 1"),
    ),
    (
        "text: negative counter",
        Text,
        "# TYPE c_total counter\nc_total -1\n",
        Invalid("2:1", "negative or NaN"),
    ),
    (
        "text: duplicate series",
        Text,
        "x{a=\"1\",b=\"2\"} 1\nx{b=\"2\",a=\"1\"} 2\n",
        Invalid("2:1", "duplicate series"),
    ),
    (
        "text: a typed family split in two",
        Text,
        "# TYPE x gauge\nx 1\ny 1\n# HELP x again\n",
        Invalid("4:1", "a family's lines must be together"),
    ),
    // ── OpenMetrics 1.0: valid ─────────────────────────────────────────────────────────
    (
        "om: the specification's counter",
        OpenMetrics,
        "# TYPE foo counter\n# HELP foo A counter.\nfoo_total 17.0 1520879607.789 # {id=\"counter-test\"} 5\nfoo_created 1520872607.123\n# EOF\n",
        Valid,
    ),
    (
        "om: gauge with a unit",
        OpenMetrics,
        "# TYPE temperature_celsius gauge\n# UNIT temperature_celsius celsius\n# HELP temperature_celsius Room temperature.\ntemperature_celsius{room=\"a\"} 21.5\n# EOF\n",
        Valid,
    ),
    (
        "om: histogram with exemplars and _created",
        OpenMetrics,
        "# TYPE foo_seconds histogram\nfoo_seconds_bucket{le=\"0.01\"} 0\nfoo_seconds_bucket{le=\"0.1\"} 8 # {trace_id=\"KOO5S4vxi0o\"} 0.067\nfoo_seconds_bucket{le=\"1\"} 11 # {trace_id=\"oHg5SJYRHA0\"} 0.6 1520879607.789\nfoo_seconds_bucket{le=\"+Inf\"} 17\nfoo_seconds_count 17\nfoo_seconds_sum 324789.3\nfoo_seconds_created 1520430000.123\n# EOF\n",
        Valid,
    ),
    (
        "om: gaugehistogram",
        OpenMetrics,
        "# TYPE queue gaugehistogram\nqueue_bucket{le=\"1\"} 3\nqueue_bucket{le=\"+Inf\"} 5\nqueue_gcount 5\nqueue_gsum 7\n# EOF\n",
        Valid,
    ),
    (
        "om: info",
        OpenMetrics,
        "# TYPE build info\nbuild_info{version=\"1.2.3\",commit=\"abc\"} 1\n# EOF\n",
        Valid,
    ),
    (
        "om: stateset",
        OpenMetrics,
        "# TYPE feature stateset\nfeature{feature=\"a\"} 1\nfeature{feature=\"b\"} 0\n# EOF\n",
        Valid,
    ),
    (
        "om: summary",
        OpenMetrics,
        "# TYPE rpc_seconds summary\nrpc_seconds{quantile=\"0.5\"} 0.2\nrpc_seconds_sum 10\nrpc_seconds_count 50\nrpc_seconds_created 1520430000\n# EOF\n",
        Valid,
    ),
    (
        "om: unknown",
        OpenMetrics,
        "# TYPE x unknown\nx 1\n# EOF\n",
        Valid,
    ),
    (
        "om: no final newline after EOF",
        OpenMetrics,
        "x 1\n# EOF",
        Valid,
    ),
    ("om: only EOF", OpenMetrics, "# EOF\n", Valid),
    (
        "om: escapes in HELP",
        OpenMetrics,
        "# HELP x A \\\"quoted\\\" help\\nwith two lines.\nx 1\n# EOF\n",
        Valid,
    ),
    (
        "om: timestamp in seconds",
        OpenMetrics,
        "x 1 1520879607.789\n# EOF\n",
        Valid,
    ),
    (
        "om: quoted UTF-8 names",
        OpenMetrics,
        "# TYPE \"my.metric\" gauge\n{\"my.metric\",\"le.vel\"=\"a\"} 1\n# EOF\n",
        Valid,
    ),
    // ── OpenMetrics 1.0: invalid ───────────────────────────────────────────────────────
    (
        "om: no EOF",
        OpenMetrics,
        "x 1\n",
        Invalid("2:1", "must end with # EOF"),
    ),
    (
        "om: text after EOF",
        OpenMetrics,
        "# EOF\nx 1\n",
        Invalid("2:1", "nothing may follow # EOF"),
    ),
    (
        "om: blank line",
        OpenMetrics,
        "x 1\n\n# EOF\n",
        Invalid("2:1", "does not allow empty lines"),
    ),
    (
        "om: a plain comment",
        OpenMetrics,
        "# hello\n# EOF\n",
        Invalid("1:3", "allows only # HELP, # TYPE, # UNIT and # EOF"),
    ),
    (
        "om: untyped is text only",
        OpenMetrics,
        "# TYPE x untyped\n# EOF\n",
        Invalid("1:10", "unknown type `untyped`"),
    ),
    (
        "om: two spaces",
        OpenMetrics,
        "x  1\n# EOF\n",
        Invalid("1:3", "exactly one space"),
    ),
    (
        "om: counter without _total",
        OpenMetrics,
        "# TYPE foo counter\nfoo 1\n# EOF\n",
        Invalid(
            "2:1",
            "a counter's samples are named `foo_total` or `foo_created`",
        ),
    ),
    (
        "om: interleaved families",
        OpenMetrics,
        "# TYPE a gauge\na{x=\"1\"} 1\n# TYPE b gauge\nb 1\na{x=\"2\"} 2\n# EOF\n",
        Invalid("5:1", "families must not be interleaved"),
    ),
    (
        "om: UNIT that is not the name's suffix",
        OpenMetrics,
        "# TYPE foo gauge\n# UNIT foo seconds\nfoo 1\n# EOF\n",
        Invalid("2:1", "must end with its unit `_seconds`"),
    ),
    (
        "om: exemplar on a gauge",
        OpenMetrics,
        "# TYPE g gauge\ng 1 # {a=\"b\"} 1\n# EOF\n",
        Invalid("2:1", "exemplars are allowed only"),
    ),
    (
        "om: exemplar labels too long",
        OpenMetrics,
        "# TYPE c counter\nc_total 1 # {trace_id=\"0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890\"} 1\n# EOF\n",
        Invalid("2:13", "more than 128"),
    ),
    (
        "om: negative counter",
        OpenMetrics,
        "# TYPE c counter\nc_total -1\n# EOF\n",
        Invalid("2:1", "negative or NaN"),
    ),
    (
        "om: info value not 1",
        OpenMetrics,
        "# TYPE b info\nb_info{v=\"1\"} 2\n# EOF\n",
        Invalid("2:1", "value must be 1"),
    ),
    (
        "om: stateset without its label",
        OpenMetrics,
        "# TYPE s stateset\ns{other=\"a\"} 1\n# EOF\n",
        Invalid("2:1", "needs a `s` label"),
    ),
    (
        "om: text after the exemplar",
        OpenMetrics,
        "# TYPE c counter\nc_total 1 # {a=\"b\"} 1 2 3\n# EOF\n",
        Invalid("2:24", "unexpected text after the exemplar"),
    ),
    (
        "om: trailing comma in labels",
        OpenMetrics,
        "x{a=\"b\",} 1\n# EOF\n",
        Invalid("1:9", "expected a label name"),
    ),
    (
        "om: blank in label set",
        OpenMetrics,
        "x{a=\"b\", c=\"d\"} 1\n# EOF\n",
        Invalid("1:9", "expected a label name"),
    ),
];

#[test]
fn every_case_gets_its_verdict() {
    let mut failures = Vec::new();
    for (name, format, input, verdict) in CASES {
        let got = parse_body(input, *format, |_, _, _| {});
        match (verdict, got) {
            (Valid, Ok(_)) => {}
            (Valid, Err(error)) => failures.push(format!("{name}: expected valid, got {error}")),
            (Invalid(at, _), Ok(_)) => {
                failures.push(format!("{name}: expected an error at {at}, got valid"))
            }
            (Invalid(at, message), Err(error)) => {
                let text = error.to_string();
                if !text.starts_with(&format!("{at}: ")) || !text.contains(message) {
                    failures.push(format!(
                        "{name}: expected `{at}: …{message}…`, got `{text}`"
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases:\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n")
    );
}

#[test]
fn no_input_makes_the_parser_panic() {
    // Every prefix of every case, and every case with one byte changed, in both formats.
    for (_, _, input, _) in CASES {
        for format in [Text, OpenMetrics] {
            for cut in (0..=input.len()).filter(|i| input.is_char_boundary(*i)) {
                let _ = parse_body(&input[..cut], format, |_, _, _| {});
            }
            let bytes = input.as_bytes();
            for at in 0..bytes.len() {
                for replacement in [b'"', b'{', b'}', b'\\', b' ', b'#', b'\n', b'='] {
                    let mut changed = bytes.to_vec();
                    changed[at] = replacement;
                    if let Ok(text) = std::str::from_utf8(&changed) {
                        let _ = parse_body(text, format, |_, _, _| {});
                    }
                }
            }
        }
    }
}

mod check_metrics {
    use crate::support::agent::vigia;
    use crate::support::data;

    fn check(args: &[&str]) -> (i32, String) {
        let output = vigia()
            .arg("check-metrics")
            .args(args)
            .output()
            .expect("run vigia");
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    fn fixture(name: &str) -> String {
        data("exposition").join(name).display().to_string()
    }

    #[test]
    fn valid_inputs_pass_and_lint_fails_only_when_strict() {
        let (code, out) = check(&[&fixture("node_exporter.txt")]);
        assert_eq!(code, 0, "{out}");
        assert!(out.contains(":32: warning: node_memory_MemAvailable_bytes: metric names should be written in 'snake_case'"), "{out}");
        assert!(
            out.contains("valid text format 0.0.4, 1 lint finding"),
            "{out}"
        );
        let (code, _) = check(&["--strict", &fixture("node_exporter.txt")]);
        assert_eq!(code, 3);
        let (code, out) = check(&[&fixture("checkout.om.txt")]);
        assert_eq!(code, 0, "{out}");
        assert!(
            out.contains("valid OpenMetrics 1.0, 0 lint findings"),
            "{out}"
        );
    }

    #[test]
    fn invalid_input_names_line_column_and_reason() {
        let (code, out) = check(&[&fixture("broken.txt")]);
        assert_eq!(code, 1);
        assert!(
            out.contains("broken.txt:3:31: expected ',' or '}' in the label set"),
            "{out}"
        );
        // OpenMetrics forced on a text body: a text counter's samples keep the `_total`
        // its TYPE line already has.
        let (code, out) = check(&["--format", "openmetrics", &fixture("node_exporter.txt")]);
        assert_eq!(code, 1);
        assert!(
            out.contains(":15:1: a counter's samples are named `node_cpu_seconds_total_total`"),
            "{out}"
        );
    }

    /// The same verdict as `promtool check metrics` (which reads text format only) on the
    /// text fixtures: valid with the same lint, or invalid.
    #[test]
    fn agrees_with_promtool_on_text() {
        for (name, promtool_code) in [("node_exporter.txt", 3), ("broken.txt", 1)] {
            let input = std::fs::read(data("exposition").join(name)).unwrap();
            let (code, report) = crate::support::promtool_check_metrics(&input);
            assert_eq!(code, Some(promtool_code), "promtool on {name}: {report}");
            let (ours, _) = check(&["--strict", &fixture(name)]);
            assert_eq!(ours, promtool_code, "vigia on {name}");
        }
    }
}

mod streaming {
    use crate::support::agent::vigia;
    use std::io::Write;
    use std::process::Stdio;

    fn peak_rss_kib(pid: u32) -> u64 {
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    }

    /// 300,000 series (~29 MB) piped in: checked as they arrive, in memory far below the
    /// input's size; the verdict needs the end (a duplicate on the very last line).
    #[test]
    fn check_metrics_reads_stdin_as_it_arrives_in_bounded_memory() {
        let mut child = vigia()
            .args(["check-metrics", "--format", "text", "-"])
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        let mut stdin = child.stdin.take().unwrap();
        let mut written = 0usize;
        for family in 0..300 {
            let mut chunk =
                format!("# HELP fam{family}_total Requests.\n# TYPE fam{family}_total counter\n");
            for series in 0..1000 {
                chunk.push_str(&format!(
                    "fam{family}_total{{method=\"GET\",route=\"/api/v1/items/{series}\",status=\"200\",instance=\"10.0.{}.{}:8080\"}} {}\n",
                    family % 256,
                    series % 256,
                    series * 7
                ));
            }
            written += chunk.len();
            stdin.write_all(chunk.as_bytes()).unwrap();
        }
        // Everything but the end is in: what vigia holds now is what streaming costs.
        std::thread::sleep(std::time::Duration::from_millis(300));
        let peak = peak_rss_kib(pid);
        stdin
            .write_all(b"fam299_total{method=\"GET\",route=\"/api/v1/items/999\",status=\"200\",instance=\"10.0.43.231:8080\"} 6993\n")
            .unwrap();
        drop(stdin);
        let output = child.wait_with_output().unwrap();
        let report = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{report}");
        assert!(report.contains(":300601:1: duplicate series"), "{report}");
        eprintln!("{} MB piped in, peak RSS {peak} KiB", written / 1_000_000);
        assert!(written > 25_000_000);
        assert!(
            peak > 0 && peak < 40 * 1024,
            "peak RSS {peak} KiB for {written} bytes"
        );
    }
}
