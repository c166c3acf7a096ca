//! The admin server over TLS, in-process: the certificate follows its files from one
//! handshake to the next, and with `client_ca_file` only clients with a certificate from that
//! CA get an answer.

use crate::support::tls::TestCa;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use vigia::admin::{self, AdminState, Health};
use vigia::telemetry::AgentMetrics;
use vigia::tls::server::{ServerTlsFiles, server_config};

async fn serve(files: &ServerTlsFiles) -> (String, Arc<AgentMetrics>, CancellationToken) {
    let metrics = Arc::new(AgentMetrics::new());
    let admin_metrics = metrics.admin().clone();
    let config = server_config(files, move |ok| admin_metrics.tls_reload("admin", ok)).unwrap();
    let listener = admin::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let base = format!(
        "https://localhost:{}",
        listener.local_addr().unwrap().port()
    );
    let stop = CancellationToken::new();
    let health = Health::new(metrics.clone());
    tokio::spawn(admin::serve(
        listener,
        AdminState::new(metrics.clone(), health, Default::default(), None)
            .with_tls(Some(Arc::new(config))),
        stop.clone(),
    ));
    (base, metrics, stop)
}

/// A client trusting `ca`, presenting `identity` (certificate and key PEM) if given; a new
/// connection each time.
fn client(ca: &str, identity: Option<(String, String)>) -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut builder = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .pool_max_idle_per_host(0)
        .resolve("localhost", "127.0.0.1:0".parse().unwrap())
        .tls_certs_only([reqwest::Certificate::from_pem(ca.as_bytes()).unwrap()])
        .tls_info(true);
    if let Some((cert, key)) = identity {
        builder = builder
            .identity(reqwest::Identity::from_pem(format!("{cert}{key}").as_bytes()).unwrap());
    }
    builder.build().unwrap()
}

/// The DER of the certificate the server presented.
async fn served_certificate(client: &reqwest::Client, url: &str) -> Result<Vec<u8>, String> {
    let response = client.get(url).send().await.map_err(|e| format!("{e:?}"))?;
    let info = response
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .cloned();
    Ok(info
        .and_then(|i| i.peer_certificate().map(<[u8]>::to_vec))
        .unwrap_or_default())
}

#[tokio::test]
async fn a_renewed_certificate_is_served_from_the_next_handshake_and_a_broken_one_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("test CA");
    let (cert, key) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
    ca.write(&["localhost"], &cert, &key);
    let files = ServerTlsFiles {
        cert_file: cert.clone(),
        key_file: key.clone(),
        client_ca_file: None,
    };
    let (base, metrics, stop) = serve(&files).await;
    // A new client each time: a resumed TLS session would not show the certificate again.
    let fresh = || client(&ca.pem, None);
    let url = format!("{base}/healthz");
    let first = served_certificate(&fresh(), &url).await.unwrap();

    ca.write(&["localhost"], &cert, &key);
    tokio::time::sleep(vigia::tls::CHECK_EVERY + Duration::from_millis(100)).await;
    let second = served_certificate(&fresh(), &url).await.unwrap();
    assert_ne!(first, second, "the renewed certificate is served");

    // A certificate whose key does not match: refused, the last good pair stays.
    let (other_cert, _) = ca.issue(&["localhost"]);
    std::fs::write(&cert, other_cert).unwrap();
    tokio::time::sleep(vigia::tls::CHECK_EVERY + Duration::from_millis(100)).await;
    let third = served_certificate(&fresh(), &url).await.unwrap();
    assert_eq!(second, third);
    let body = fresh()
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        body.contains("vigia_tls_reloads_total{component=\"admin\",result=\"ok\"} 1"),
        "{body}"
    );
    assert!(
        body.contains("vigia_tls_reloads_total{component=\"admin\",result=\"error\"} 1"),
        "{body}"
    );
    drop(metrics);
    stop.cancel();
}

#[tokio::test]
async fn with_a_client_ca_only_clients_with_its_certificates_are_answered() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("server CA");
    let clients_ca = TestCa::new("clients CA");
    let strangers_ca = TestCa::new("someone else's CA");
    let (cert, key) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
    ca.write(&["localhost"], &cert, &key);
    let client_ca_file = dir.path().join("clients-ca.pem");
    std::fs::write(&client_ca_file, &clients_ca.pem).unwrap();
    let files = ServerTlsFiles {
        cert_file: cert,
        key_file: key,
        client_ca_file: Some(client_ca_file),
    };
    let (base, _metrics, stop) = serve(&files).await;
    let url = format!("{base}/healthz");

    let prometheus = client(&ca.pem, Some(clients_ca.issue(&["prometheus"])));
    assert!(served_certificate(&prometheus, &url).await.is_ok());
    let anonymous = client(&ca.pem, None);
    assert!(
        served_certificate(&anonymous, &url).await.is_err(),
        "no client certificate"
    );
    let stranger = client(&ca.pem, Some(strangers_ca.issue(&["prometheus"])));
    assert!(
        served_certificate(&stranger, &url).await.is_err(),
        "a certificate from another CA"
    );
    stop.cancel();
}

/// The client side (what the Loki and remote-write sinks use): a rotated client certificate
/// and a rotated CA file take effect at the next connection of the same client.
#[tokio::test]
async fn a_client_follows_its_rotated_client_certificate_and_ca_file() {
    let dir = tempfile::tempdir().unwrap();
    let server_ca = TestCa::new("server CA");
    let clients_ca = TestCa::new("clients CA");
    let other_ca = TestCa::new("another CA");
    let (cert, key) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
    server_ca.write(&["localhost"], &cert, &key);
    let client_ca_file = dir.path().join("clients-ca.pem");
    std::fs::write(&client_ca_file, &clients_ca.pem).unwrap();
    let files = ServerTlsFiles {
        cert_file: cert,
        key_file: key,
        client_ca_file: Some(client_ca_file),
    };
    let (base, _metrics, stop) = serve(&files).await;
    let url = format!("{base}/healthz");

    // The client starts with a certificate the server does not trust.
    let (ca_file, client_cert, client_key) = (
        dir.path().join("ca.pem"),
        dir.path().join("client.crt"),
        dir.path().join("client.key"),
    );
    std::fs::write(&ca_file, &server_ca.pem).unwrap();
    other_ca.write(&["vigia"], &client_cert, &client_key);
    let builder = vigia::http_client::builder(Duration::from_secs(5))
        .pool_max_idle_per_host(0)
        .resolve("localhost", "127.0.0.1:0".parse().unwrap());
    let client = vigia::http_client::with_tls(
        builder,
        vigia::http_client::TlsFiles {
            ca_file: ca_file.to_str(),
            cert_file: client_cert.to_str(),
            key_file: client_key.to_str(),
            insecure_skip_verify: false,
        },
        "test",
    )
    .unwrap()
    .build()
    .unwrap();
    let status = |client: &reqwest::Client| {
        let (client, url) = (client.clone(), url.clone());
        async move { client.get(&url).send().await.map(|r| r.status().as_u16()) }
    };
    assert!(
        status(&client).await.is_err(),
        "an untrusted client certificate"
    );
    let wait = vigia::tls::CHECK_EVERY + Duration::from_millis(100);

    clients_ca.write(&["vigia"], &client_cert, &client_key);
    tokio::time::sleep(wait).await;
    assert_eq!(
        status(&client).await.unwrap(),
        200,
        "the renewed certificate is used"
    );

    std::fs::write(&ca_file, &other_ca.pem).unwrap();
    tokio::time::sleep(wait).await;
    assert!(
        status(&client).await.is_err(),
        "the server is no longer trusted"
    );
    std::fs::write(&ca_file, &server_ca.pem).unwrap();
    tokio::time::sleep(wait).await;
    assert_eq!(status(&client).await.unwrap(), 200, "trusted again");
    stop.cancel();
}
