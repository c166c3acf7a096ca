//! Entry points of the fuzz targets (`fuzz/`, cargo-fuzz on nightly), kept in the library so
//! the test suite replays the committed corpora and the regression inputs through the very
//! same code on stable (`tests/it/fuzz_corpus.rs`). Each takes any bytes and must not panic.

use std::sync::{Arc, OnceLock};

/// A target: any bytes in, no panic.
pub type Target = fn(&[u8]);

/// Every target, by the name of its corpus directory.
pub const TARGETS: [(&str, Target); 8] = [
    ("exposition", exposition),
    ("config", config),
    ("disk_buffer", disk_buffer),
    ("checkpoint", checkpoint),
    ("normalize", normalize),
    ("framing", framing),
    ("jwt", jwt),
    ("inject", inject),
];

/// A scrape body as text 0.0.4 and as OpenMetrics: the line parser and the family collector.
pub fn exposition(data: &[u8]) {
    use crate::metrics::exposition::Format;
    let Ok(body) = std::str::from_utf8(data) else {
        return;
    };
    for format in [Format::Text, Format::OpenMetrics] {
        let _ = crate::metrics::exposition::parser::parse_body(body, format, |_, _, _| {});
        let _ = crate::metrics::exposition::family::families_of(body, format);
    }
}

/// A configuration file, every `${VAR}` set to a slice of the input.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let value: String = text.chars().rev().take(16).collect();
    let _ = crate::config::load_str("fuzz.yaml", text, |_| Some(value.clone()));
}

/// What a crash or a neighbour leaves in a disk buffer (a segment after its magic, the
/// positions file): recovery keeps what is whole.
pub fn disk_buffer(data: &[u8]) {
    use crate::sink::delivery::config::DiskSync;
    use crate::sink::delivery::disk::{DiskBuffer, Positions, frame};
    use crate::telemetry::delivery::{DeliveryFamilies, Naming};
    let _ = frame::parse(data);
    let Some(dir) = scratch_dir("disk_buffer") else {
        return;
    };
    let (segment, positions) = data.split_at(data.len() / 2);
    let mut bytes = b"vigia-wal-1\n".to_vec();
    bytes.extend_from_slice(segment);
    let _ = std::fs::write(dir.join("segment-00000000000000000001.wal"), &bytes);
    let _ = std::fs::write(dir.join("positions"), positions);
    let found = Positions::read(&dir);
    let naming = Naming {
        prefix: "fuzz",
        items: "lines",
        peer: "nobody",
        drop_reasons: "none",
    };
    let metrics = DeliveryFamilies::register(&prometheus::Registry::new(), naming).for_sink("fuzz");
    let _ = DiskBuffer::open(&dir, 64 << 20, DiskSync::Normal, metrics, found);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A file source's checkpoint and its previous generation.
pub fn checkpoint(data: &[u8]) {
    let Some(dir) = scratch_dir("checkpoint") else {
        return;
    };
    let checkpoints = dir.join("checkpoints");
    let _ = std::fs::create_dir_all(&checkpoints);
    let (current, previous) = data.split_at(data.len() / 2);
    let _ = std::fs::write(checkpoints.join("app.json"), current);
    let _ = std::fs::write(checkpoints.join("app.json.prev"), previous);
    let _ = crate::logs::source::file::checkpoint::CheckpointStore::new(&dir, "app").load();
    let _ = std::fs::remove_dir_all(&dir);
}

/// Lines through every parser and the auto-detecting normalizer with the default redaction.
pub fn normalize(data: &[u8]) {
    use crate::logs::normalize::Normalizer;
    use crate::logs::parse::Format;
    use crate::logs::pipeline::{Origin, RawLine};
    static REDACTOR: OnceLock<Arc<crate::logs::redact::Redactor>> = OnceLock::new();
    let redactor = REDACTOR.get_or_init(|| {
        let rules: Vec<String> = crate::logs::redact::DEFAULT_RULES
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        Arc::new(
            crate::logs::redact::Redactor::new(&rules, &[], |name| {
                prometheus::IntCounter::new(format!("fuzz_{name}"), "fuzz")
                    .expect("a valid counter")
            })
            .expect("the default rules compile"),
        )
    });
    let origin = Origin {
        source_id: Arc::from("fuzz"),
        file: None,
        kubernetes: None,
    };
    let mut out = Vec::new();
    for format in [
        Format::Auto,
        Format::Json,
        Format::Logfmt,
        Format::Access,
        Format::Syslog,
        Format::Klog,
        Format::Logcat,
        Format::Cbs,
        Format::Ras,
        Format::Python,
        Format::Java,
        Format::Go,
        Format::Plain,
    ] {
        let mut normalizer = Normalizer::new(format, redactor.clone());
        for line in data.split(|b| *b == b'\n') {
            let raw = RawLine {
                bytes: line.to_vec(),
                read_time_ns: 1_764_288_000_000_000_000,
                container_time_ns: None,
                stream: None,
                truncated: false,
            };
            out.clear();
            normalizer.normalize_into(&raw, &origin, &mut out);
            debug_assert!(serde_json::from_slice::<serde_json::Value>(&out).is_ok());
        }
    }
}

/// Container log lines (CRI, Docker JSON) and the line splitter over any chunking.
pub fn framing(data: &[u8]) {
    use crate::logs::frame::container::{ContainerFormat, decode_cri, decode_docker};
    for line in data.split(|b| *b == b'\n') {
        let _ = ContainerFormat::detect(line);
        let _ = decode_cri(line);
        let _ = decode_docker(line);
    }
    let cut = data.first().map_or(0, |b| usize::from(*b)).min(data.len());
    let mut splitter = crate::logs::frame::LineSplitter::new(64);
    let mut out = Vec::new();
    splitter.push(&data[..cut], &mut out);
    splitter.push(&data[cut..], &mut out);
    let _ = splitter.finish();
}

/// Any `Authorization` value; and, behind a leading 0 byte, any claims signed with a real
/// key, so the claim checks are reached too.
pub fn jwt(data: &[u8]) {
    use crate::admin::auth::jwks_file::JwksFile;
    use crate::admin::auth::keystore::{KeyAlgorithm, KeyStore, RotationPolicy};
    use crate::admin::auth::verify::Verifier;
    static VERIFIER: OnceLock<Option<(Verifier, KeyStore)>> = OnceLock::new();
    let Some((verifier, store)) = VERIFIER.get_or_init(|| {
        let dir = scratch_dir("jwt")?;
        let mut store = KeyStore::load(&dir).ok()?;
        let policy = RotationPolicy {
            every: 86_400,
            max_token_lifetime: 86_400,
            min_publish: 0,
            algorithm: KeyAlgorithm::EdDSA,
        };
        store.rotate(1_764_288_000, policy, false).ok()?;
        store.save(&dir, &dir.join("jwks.json")).ok()?;
        let keys = JwksFile::open(
            &dir.join("jwks.json"),
            std::time::Duration::from_secs(3600),
            None,
        )
        .ok()?;
        let verifier = Verifier {
            keys,
            issuer: "vigia-keys".to_owned(),
            audience: "vigia".to_owned(),
            max_token_lifetime: 86_400,
            clock: Arc::new(|| 1_764_288_100),
        };
        // Loaded: the directory is not needed any more (a forced reload keeps the last set).
        let _ = std::fs::remove_dir_all(&dir);
        Some((verifier, store))
    }) else {
        return;
    };
    match data.split_first() {
        Some((0, claims)) => {
            if let Ok(claims) = serde_json::from_slice::<serde_json::Value>(claims)
                && let Ok(token) = store.sign(&claims)
            {
                let _ = verifier.verify(&token);
            }
        }
        _ => {
            let _ = verifier.authorize(Some(data), Some("metrics:read"));
        }
    }
}

/// A fresh directory under the temporary directory (`TMPDIR=/dev/shm` makes the file
/// targets several times faster).
fn scratch_dir(target: &str) -> Option<std::path::PathBuf> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "vigia-fuzz-{target}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).ok()?;
    Some(dir)
}

/// Any manifest stream to `vigia inject`, as is and with `--uninject`; what an injection
/// writes is injected again, which must give the same bytes.
pub fn inject(data: &[u8]) {
    use crate::inject::{Action, InjectOptions, transform};
    let options = InjectOptions {
        image: "vigia:fuzz".into(),
        ..InjectOptions::default()
    };
    let _ = transform(data, Action::Uninject);
    if let Ok(once) = transform(data, Action::Inject(&options)) {
        let again = transform(once.output.as_bytes(), Action::Inject(&options))
            .expect("what inject writes, inject reads");
        assert_eq!(once.output, again.output, "inject is idempotent");
    }
}
