//! The admin API behind `admin.auth`, over real HTTP: every kind of bad token is refused with
//! its status and reason, keys rotate day after day (on an injected clock) without a restart,
//! and a broken key file keeps the last good set.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use vigia::admin::auth::AdminAuth;
use vigia::admin::auth::keystore::{KeyAlgorithm, KeyStore, RotationPolicy, TokenRequest};
use vigia::admin::config::AuthSettings;
use vigia::admin::{self, AdminState, Health};
use vigia::telemetry::AgentMetrics;

const DAY: u64 = 86_400;
/// 2026-11-28T00:00:00Z
const T0: u64 = 1_795_824_000;

fn policy() -> RotationPolicy {
    RotationPolicy {
        every: DAY,
        max_token_lifetime: DAY,
        min_publish: 300,
        algorithm: KeyAlgorithm::EdDSA,
    }
}

fn request(scope: &str, ttl: u64) -> TokenRequest {
    TokenRequest {
        issuer: "vigia-keys".into(),
        audience: "vigia".into(),
        subject: "prometheus".into(),
        scope: scope.into(),
        ttl,
    }
}

struct Server {
    base: String,
    metrics: Arc<AgentMetrics>,
    clock: Arc<AtomicU64>,
    stop: CancellationToken,
}

async fn serve(jwks: &Path, reload_interval: Duration) -> Server {
    let metrics = Arc::new(AgentMetrics::new());
    let clock = Arc::new(AtomicU64::new(T0));
    let now = clock.clone();
    let auth = AdminAuth::open(
        &AuthSettings {
            jwks_file: jwks.to_owned(),
            issuer: "vigia-keys".into(),
            audience: "vigia".into(),
            max_token_lifetime: Duration::from_secs(DAY),
            reload_interval,
        },
        metrics.admin().clone(),
        Arc::new(move || now.load(Ordering::SeqCst)),
    )
    .unwrap();
    let listener = admin::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let stop = CancellationToken::new();
    let health = Health::new(metrics.clone());
    tokio::spawn(admin::serve(
        listener,
        AdminState::new(metrics.clone(), health, Default::default(), None)
            .with_auth(Some(Arc::new(auth))),
        stop.clone(),
    ));
    Server {
        base,
        metrics,
        clock,
        stop,
    }
}

/// Status, `reason` of the JSON body, and the `WWW-Authenticate` challenge.
async fn get(url: &str, authorization: Option<&str>) -> (u16, String, String) {
    let client = crate::support::http_client(Duration::from_secs(5));
    let mut builder = client.get(url);
    if let Some(value) = authorization {
        builder = builder.header("authorization", value);
    }
    let response = builder.send().await.unwrap();
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body: serde_json::Value =
        serde_json::from_str(&response.text().await.unwrap()).unwrap_or_default();
    let reason = body["reason"].as_str().unwrap_or_default().to_owned();
    (status, reason, challenge)
}

fn failures(metrics: &AgentMetrics, reason: &str) -> u64 {
    metrics.admin().auth_failure_count(reason)
}

fn b64(json: serde_json::Value) -> String {
    URL_SAFE_NO_PAD.encode(json.to_string())
}

#[tokio::test]
async fn every_forged_expired_or_unfit_token_is_refused_with_its_status_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let (keys, jwks) = (dir.path().join("keys"), dir.path().join("jwks.json"));
    let mut store = KeyStore::load(&keys).unwrap();
    store.rotate(T0, policy(), false).unwrap();
    store.save(&keys, &jwks).unwrap();
    let server = serve(&jwks, Duration::from_secs(30)).await;
    let metrics_url = format!("{}/metrics", server.base);

    let claims = |extra: serde_json::Value| {
        let mut claims = serde_json::json!({
            "iss": "vigia-keys", "aud": "vigia", "sub": "prometheus",
            "scope": "metrics:read", "iat": T0, "exp": T0 + 3600,
        });
        for (key, value) in extra.as_object().unwrap() {
            if value.is_null() {
                claims.as_object_mut().unwrap().remove(key);
            } else {
                claims[key] = value.clone();
            }
        }
        claims
    };
    let valid = store.sign(&claims(serde_json::json!({}))).unwrap();
    let (header, payload, signature) = {
        let mut parts = valid.split('.');
        (
            parts.next().unwrap().to_owned(),
            parts.next().unwrap().to_owned(),
            parts.next().unwrap().to_owned(),
        )
    };
    let kid = store.current().unwrap().kid.clone();

    // Another key set's token, with this set's kid: a forged signature.
    let other_dir = tempfile::tempdir().unwrap();
    let mut other = KeyStore::load(other_dir.path()).unwrap();
    other.rotate(T0, policy(), false).unwrap();
    let foreign = other.sign(&claims(serde_json::json!({}))).unwrap();
    let foreign_payload_signature = foreign.split_once('.').unwrap().1.to_owned();
    let forged = format!("{header}.{foreign_payload_signature}");
    // The same claims with a tampered payload.
    let tampered = format!(
        "{header}.{}.{signature}",
        b64(claims(
            serde_json::json!({"scope": "metrics:read regressions:read"})
        ))
    );
    // HS256 with the public key as the HMAC secret: algorithm confusion.
    let public_x = URL_SAFE_NO_PAD
        .decode(store.jwks()["keys"][0]["x"].as_str().unwrap())
        .unwrap();
    // Written by hand: vigia's JWT crypto has no HMAC, which is the point.
    let hs_signing_input = format!(
        "{}.{}",
        b64(serde_json::json!({"alg": "HS256", "typ": "JWT", "kid": kid})),
        b64(claims(serde_json::json!({})))
    );
    let hs_key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &public_x);
    let hs_signature = ring::hmac::sign(&hs_key, hs_signing_input.as_bytes());
    let confused = format!(
        "{hs_signing_input}.{}",
        URL_SAFE_NO_PAD.encode(hs_signature.as_ref())
    );
    let none = format!(
        "{}.{payload}.",
        b64(serde_json::json!({"alg": "none", "kid": kid}))
    );
    let bearer = |token: &str| format!("Bearer {token}");
    let cases: Vec<(&str, Option<String>, u16, &str)> = vec![
        ("no Authorization header", None, 401, "missing"),
        (
            "Basic credentials",
            Some("Basic dXNlcjpwYXNz".into()),
            401,
            "missing",
        ),
        ("an empty bearer", Some("Bearer ".into()), 401, "malformed"),
        ("bad base64", Some(bearer("!!!.$$$.###")), 401, "malformed"),
        (
            "two parts",
            Some(bearer(&format!("{header}.{payload}"))),
            401,
            "malformed",
        ),
        (
            "a token over 8 KiB",
            Some(bearer(&"a".repeat(9 * 1024))),
            401,
            "too_large",
        ),
        ("alg none", Some(bearer(&none)), 401, "algorithm"),
        (
            "HS256 signed with the public key",
            Some(bearer(&confused)),
            401,
            "algorithm",
        ),
        (
            "a forged signature",
            Some(bearer(&forged)),
            401,
            "bad_signature",
        ),
        (
            "a tampered payload",
            Some(bearer(&tampered)),
            401,
            "bad_signature",
        ),
        ("an unknown kid", Some(bearer(&foreign)), 401, "unknown_kid"),
        (
            "expired",
            Some(bearer(
                &store
                    .sign(&claims(
                        serde_json::json!({"iat": T0 - 7200, "exp": T0 - 3600}),
                    ))
                    .unwrap(),
            )),
            401,
            "expired",
        ),
        (
            "not yet valid (nbf)",
            Some(bearer(
                &store
                    .sign(&claims(serde_json::json!({"nbf": T0 + 600})))
                    .unwrap(),
            )),
            401,
            "not_yet_valid",
        ),
        (
            "issued in the future",
            Some(bearer(
                &store
                    .sign(&claims(
                        serde_json::json!({"iat": T0 + 600, "exp": T0 + 1200}),
                    ))
                    .unwrap(),
            )),
            401,
            "not_yet_valid",
        ),
        (
            "the wrong aud",
            Some(bearer(
                &store
                    .sign(&claims(serde_json::json!({"aud": "grafana"})))
                    .unwrap(),
            )),
            401,
            "audience",
        ),
        (
            "the wrong iss",
            Some(bearer(
                &store
                    .sign(&claims(serde_json::json!({"iss": "someone"})))
                    .unwrap(),
            )),
            401,
            "issuer",
        ),
        (
            "no exp",
            Some(bearer(
                &store
                    .sign(&claims(serde_json::json!({"exp": null})))
                    .unwrap(),
            )),
            401,
            "missing_claim",
        ),
        (
            "no aud",
            Some(bearer(
                &store
                    .sign(&claims(serde_json::json!({"aud": null})))
                    .unwrap(),
            )),
            401,
            "missing_claim",
        ),
        (
            "a string exp",
            Some(bearer(
                &store
                    .sign(&claims(serde_json::json!({"exp": "9999999999"})))
                    .unwrap(),
            )),
            401,
            "malformed",
        ),
        (
            "a lifetime of 30 days",
            Some(bearer(
                &store
                    .sign(&claims(serde_json::json!({"exp": T0 + 30 * DAY})))
                    .unwrap(),
            )),
            401,
            "lifetime",
        ),
        (
            "without the scope",
            Some(bearer(
                &store
                    .sign(&claims(serde_json::json!({"scope": "regressions:read"})))
                    .unwrap(),
            )),
            403,
            "scope",
        ),
    ];
    for (case, authorization, status, reason) in &cases {
        let before = failures(&server.metrics, reason);
        let got = get(&metrics_url, authorization.as_deref()).await;
        assert_eq!((got.0, got.1.as_str()), (*status, *reason), "{case}");
        assert!(
            got.2.starts_with("Bearer realm=\"vigia\""),
            "{case}: {}",
            got.2
        );
        assert_eq!(
            failures(&server.metrics, reason),
            before + 1,
            "{case}: counted"
        );
    }
    // The valid token reads /metrics, not the regressions (scope), and the probes need none.
    let (status, _, _) = get(&metrics_url, Some(&bearer(&valid))).await;
    assert_eq!(status, 200);
    let (status, reason, challenge) = get(
        &format!("{}/api/v1/regressions", server.base),
        Some(&bearer(&valid)),
    )
    .await;
    assert_eq!((status, reason.as_str()), (403, "scope"));
    assert!(
        challenge.contains("scope=\"regressions:read\""),
        "{challenge}"
    );
    for probe in ["/healthz", "/readyz"] {
        let (status, _, _) = get(&format!("{}{probe}", server.base), None).await;
        assert!(status == 200 || status == 503, "{probe}: {status}");
        assert_ne!(status, 401);
    }
    // Past its expiry plus the 60 s leeway, the valid token is refused too.
    server.clock.store(T0 + 3600 + 61, Ordering::SeqCst);
    let (status, reason, _) = get(&metrics_url, Some(&bearer(&valid))).await;
    assert_eq!((status, reason.as_str()), (401, "expired"));
    server.clock.store(T0 + 3600 + 59, Ordering::SeqCst);
    let (status, _, _) = get(&metrics_url, Some(&bearer(&valid))).await;
    assert_eq!(status, 200, "within the leeway");
    server.stop.cancel();
}

#[tokio::test]
async fn keys_rotate_daily_for_a_week_on_the_injected_clock_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (keys, jwks) = (dir.path().join("keys"), dir.path().join("jwks.json"));
    let mut store = KeyStore::load(&keys).unwrap();
    store.rotate(T0, policy(), false).unwrap();
    store.save(&keys, &jwks).unwrap();
    let server = serve(&jwks, Duration::from_secs(1)).await;
    let url = format!("{}/metrics", server.base);
    let first_kid = store.current().unwrap().kid.clone();
    let first_token = store.issue(T0, &request("metrics:read", 3600)).unwrap();
    for day in 1..7u64 {
        let now = T0 + day * DAY;
        // Two hours before the rotation, a token signed by the key about to retire.
        server.clock.store(now - 2 * 3600, Ordering::SeqCst);
        let before = store
            .issue(now - 2 * 3600, &request("metrics:read", 12 * 3600))
            .unwrap();
        let rotation = store.rotate(now, policy(), false).unwrap();
        assert!(rotation.rotated, "day {day}: {rotation:?}");
        assert!(
            store.keys.len() <= 4,
            "day {day}: previous, current, next (and a retired one in its grace): {}",
            store.keys.len()
        );
        store.save(&keys, &jwks).unwrap();
        // Let the agent see the new set (reload_interval 1 s).
        tokio::time::sleep(Duration::from_millis(1100)).await;
        server.clock.store(now + 3600, Ordering::SeqCst);
        let after = store
            .issue(now + 3600, &request("metrics:read", 3600))
            .unwrap();
        for (which, token) in [
            ("signed by the new current key", &after),
            ("signed by the retired key", &before),
        ] {
            let (status, reason, _) = get(&url, Some(&format!("Bearer {token}"))).await;
            assert_eq!((status, reason.as_str()), (200, ""), "day {day}: {which}");
        }
    }
    // A key retired past its grace (lifetime + leeway) is gone from the set: its tokens name
    // an unknown key.
    assert!(store.keys.iter().all(|k| k.kid != first_kid));
    assert!(
        !std::fs::read_to_string(&jwks)
            .unwrap()
            .contains(first_kid.as_str())
    );
    let (status, reason, _) = get(&url, Some(&format!("Bearer {first_token}"))).await;
    assert_eq!((status, reason.as_str()), (401, "unknown_kid"));
    server.stop.cancel();
}

#[tokio::test]
async fn a_broken_key_file_keeps_the_last_good_set_and_an_unknown_kid_reloads_at_a_bounded_rate() {
    let dir = tempfile::tempdir().unwrap();
    let (keys, jwks) = (dir.path().join("keys"), dir.path().join("jwks.json"));
    let mut store = KeyStore::load(&keys).unwrap();
    store.rotate(T0, policy(), false).unwrap();
    store.save(&keys, &jwks).unwrap();
    // A long interval: only an unknown kid makes the agent read the file before it.
    let server = serve(&jwks, Duration::from_secs(3600)).await;
    let url = format!("{}/metrics", server.base);
    let token = store.issue(T0, &request("metrics:read", 3600)).unwrap();

    std::fs::write(
        &jwks,
        b"{\"keys\": [{\"kty\": \"oct\", \"k\": \"c2VjcmV0\", \"kid\": \"x\"}]}",
    )
    .unwrap();
    // A token with an unknown kid makes the agent read the broken file: refused, kept.
    let mut stranger = KeyStore::load(&dir.path().join("stranger")).unwrap();
    stranger.rotate(T0, policy(), false).unwrap();
    let strangers = stranger.issue(T0, &request("metrics:read", 3600)).unwrap();
    let (status, reason, _) = get(&url, Some(&format!("Bearer {strangers}"))).await;
    assert_eq!((status, reason.as_str()), (401, "unknown_kid"));
    let (status, _, _) = get(&url, Some(&format!("Bearer {token}"))).await;
    assert_eq!(status, 200, "the last good set stays in force");
    let body = reqwest::Client::new()
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        body.contains("vigia_admin_auth_key_reloads_total{result=\"error\"} 1"),
        "{body}"
    );

    // The set is fixed by hand, with the stranger's key added. The unknown-kid reload is rate
    // limited (one per 5 s): within it the new kid is still refused, after it the file is
    // read again and the token accepted, with no restart.
    let mut merged = store.jwks();
    let added = stranger.jwks()["keys"][0].clone();
    merged["keys"].as_array_mut().unwrap().push(added);
    std::fs::write(&jwks, merged.to_string()).unwrap();
    let (status, reason, _) = get(&url, Some(&format!("Bearer {strangers}"))).await;
    assert_eq!(
        (status, reason.as_str()),
        (401, "unknown_kid"),
        "rate limited"
    );
    tokio::time::sleep(vigia::admin::auth::jwks_file::UNKNOWN_KID_RELOAD_EVERY).await;
    let (status, _, _) = get(&url, Some(&format!("Bearer {strangers}"))).await;
    assert_eq!(
        status, 200,
        "read again for an unknown kid once the rate allows"
    );
    let (status, _, _) = get(&url, Some(&format!("Bearer {token}"))).await;
    assert_eq!(status, 200);
    server.stop.cancel();
}
