//! What a bearer token costs a request: `cargo bench --bench admin_auth`. Verifying a valid
//! EdDSA and ES256 token (header, key lookup, signature, claims), and refusing a forged one.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;
use vigia::admin::auth::jwks_file::JwksFile;
use vigia::admin::auth::keystore::{KeyAlgorithm, KeyStore, RotationPolicy, TokenRequest};
use vigia::admin::auth::verify::Verifier;

const NOW: u64 = 1_795_824_000;

fn verifier(algorithm: KeyAlgorithm) -> (Verifier, String) {
    let dir = std::env::temp_dir().join(format!(
        "vigia-bench-auth-{}-{algorithm:?}",
        std::process::id()
    ));
    let mut store = KeyStore::load(&dir).unwrap();
    let policy = RotationPolicy {
        every: 86_400,
        max_token_lifetime: 86_400,
        min_publish: 0,
        algorithm,
    };
    store.rotate(NOW, policy, false).unwrap();
    store.save(&dir, &dir.join("jwks.json")).unwrap();
    let token = store
        .issue(
            NOW,
            &TokenRequest {
                issuer: "vigia-keys".into(),
                audience: "vigia".into(),
                subject: "prometheus".into(),
                scope: "metrics:read".into(),
                ttl: 3600,
            },
        )
        .unwrap();
    let keys = JwksFile::open(&dir.join("jwks.json"), Duration::from_secs(3600), None).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let verifier = Verifier {
        keys,
        issuer: "vigia-keys".into(),
        audience: "vigia".into(),
        max_token_lifetime: 86_400,
        clock: Arc::new(|| NOW + 60),
    };
    (verifier, format!("Bearer {token}"))
}

fn admin_auth(c: &mut Criterion) {
    let mut group = c.benchmark_group("admin_auth");
    for algorithm in [KeyAlgorithm::EdDSA, KeyAlgorithm::ES256] {
        let (verifier, header) = verifier(algorithm);
        assert!(
            verifier
                .authorize(Some(header.as_bytes()), Some("metrics:read"))
                .is_ok()
        );
        group.bench_function(format!("valid {algorithm:?} token"), |b| {
            b.iter(|| black_box(verifier.authorize(Some(header.as_bytes()), Some("metrics:read"))))
        });
        let mut forged = header.clone();
        forged.replace_range(forged.len() - 6.., "AAAAAA");
        group.bench_function(format!("forged {algorithm:?} signature"), |b| {
            b.iter(|| black_box(verifier.authorize(Some(forged.as_bytes()), Some("metrics:read"))))
        });
    }
    group.finish();
}

criterion_group!(benches, admin_auth);
criterion_main!(benches);
