//! The admin API's OpenAPI 3.1 description (docs/openapi.json) is a valid document
//! (`openapi-spec-validator`, PyPI), is what the agent serves, and describes every real
//! response of a running agent: each status documented, each content type declared, each JSON
//! body valid against its schema (`support/openapi_check.py`, JSON Schema 2020-12).

use crate::support::agent::Agent;
use crate::support::wait_for;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn spec() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/openapi.json")
}

#[test]
fn the_description_is_valid_openapi() {
    let output = std::process::Command::new("python3")
        .args(["-m", "openapi_spec_validator"])
        .arg(spec())
        .output()
        .expect("python3 (scripts/test.sh installs openapi-spec-validator)");
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Sends `method path`, then checks the answer against the description.
fn check(agent: &Agent, method: &str, path: &str, accept: Option<&str>) -> (u16, String) {
    check_with(agent, method, path, accept, None)
}

/// [`check`] with an `Authorization` header value.
fn check_with(
    agent: &Agent,
    method: &str,
    path: &str,
    accept: Option<&str>,
    authorization: Option<&str>,
) -> (u16, String) {
    let client = crate::support::http_client(Duration::from_secs(10));
    let url = agent.url(path);
    let (status, content_type, body) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let mut request = client.request(method.parse().unwrap(), &url);
            if let Some(accept) = accept {
                request = request.header("Accept", accept);
            }
            if let Some(authorization) = authorization {
                request = request.header("Authorization", authorization);
            }
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let content_type = response
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default();
            (status, content_type, response.bytes().await.unwrap())
        });
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("body");
    std::fs::write(&file, &body).unwrap();
    let output = std::process::Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/support/openapi_check.py"))
        .arg(spec())
        .args([path, method, &status.to_string(), &content_type])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{method} {path} → {status} {content_type}: {}\n{}",
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&body)
    );
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[test]
fn every_response_of_a_running_agent_is_described() {
    let dir = tempfile::tempdir().unwrap();
    // Latency detection on (access logs); a Loki that refuses connections, so the sink is
    // degraded with a reason after a second.
    let config = dir.path().join("vigia.yaml");
    std::fs::write(
        &config,
        format!(
            "data_dir: {}\nmetrics:\n  from_logs: {{}}\nsources:\n  web: {{type: stdin}}\nsinks:\n  loki:\n    type: loki\n    endpoint: http://127.0.0.1:9\n    unhealthy_after: 1s\n    buffer: {{when_full: block}}\n",
            dir.path().join("data").display()
        ),
    )
    .unwrap();
    let mut agent = Agent::start(&["--config", config.to_str().unwrap()]);
    agent
        .stdin()
        .write_all(b"10.0.0.1 - - [28/Nov/2026:10:00:00 +0000] \"GET /orders/7 HTTP/1.1\" 200 12 \"-\" \"curl/8.5.0\" 0.012\n")
        .unwrap();
    agent.stdin().flush().unwrap();

    check(&agent, "GET", "/metrics", None);
    check(
        &agent,
        "GET",
        "/metrics",
        Some("application/openmetrics-text;version=1.0.0"),
    );
    assert_eq!(check(&agent, "GET", "/healthz", None).0, 200);
    wait_for(
        Duration::from_secs(30),
        "the sink to be degraded with a reason",
        || {
            let (status, body) = check(&agent, "GET", "/readyz", None);
            (status == 200 && body.contains("\"degraded\"") && body.contains("\"reason\""))
                .then_some(())
        },
    );
    assert_eq!(check(&agent, "GET", "/api/v1/regressions", None).0, 200);
    let (status, body) = check(&agent, "GET", "/api/v1/openapi.json", None);
    assert_eq!(status, 200);
    let served: serde_json::Value = serde_json::from_str(&body).unwrap();
    let kept: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(spec()).unwrap()).unwrap();
    assert_eq!(served, kept, "the agent serves docs/openapi.json");
    for path in ["/metrics", "/healthz", "/readyz", "/api/v1/regressions"] {
        assert_eq!(check(&agent, "POST", path, None).0, 405);
    }
}

#[test]
fn regressions_answer_404_when_detection_is_off() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("vigia.yaml");
    std::fs::write(
        &config,
        format!(
            "data_dir: {}\nsources:\n  web: {{type: stdin}}\nsinks:\n  out: {{type: console}}\n",
            dir.path().join("data").display()
        ),
    )
    .unwrap();
    let agent = Agent::start(&["--config", config.to_str().unwrap()]);
    assert_eq!(check(&agent, "GET", "/api/v1/regressions", None).0, 404);
    assert_eq!(check(&agent, "GET", "/readyz", None).0, 200);
}

/// An agent with `admin.auth` and a token for it, issued by the real commands.
fn agent_with_auth(dir: &Path, scope: &str) -> (Agent, String) {
    let jwks = crate::support::keys::rotate(dir, None);
    let token = crate::support::keys::issue(dir, scope);
    let config = dir.join("vigia.yaml");
    std::fs::write(
        &config,
        format!(
            "data_dir: {}\nadmin:\n  auth:\n    jwks_file: {}\nmetrics:\n  from_logs: {{}}\nsources:\n  web: {{type: stdin}}\nsinks:\n  out: {{type: console}}\n",
            dir.join("data").display(),
            jwks.display()
        ),
    )
    .unwrap();
    (Agent::start(&["--config", config.to_str().unwrap()]), token)
}

#[test]
fn with_auth_on_every_answer_and_every_refusal_is_described() {
    let dir = tempfile::tempdir().unwrap();
    let (agent, token) = agent_with_auth(dir.path(), "metrics:read");
    let bearer = format!("Bearer {token}");
    for path in ["/metrics", "/api/v1/regressions", "/api/v1/openapi.json"] {
        let (status, body) = check(&agent, "GET", path, None);
        assert_eq!(status, 401, "{path}: {body}");
        let (status, _) = check_with(&agent, "GET", path, None, Some("Bearer not.a.token"));
        assert_eq!(status, 401, "{path}");
    }
    assert_eq!(
        check_with(&agent, "GET", "/metrics", None, Some(&bearer)).0,
        200
    );
    assert_eq!(
        check_with(&agent, "GET", "/api/v1/openapi.json", None, Some(&bearer)).0,
        200
    );
    let (status, body) = check_with(&agent, "GET", "/api/v1/regressions", None, Some(&bearer));
    assert_eq!(status, 403, "{body}");
    assert_eq!(check(&agent, "GET", "/healthz", None).0, 200);
    assert_eq!(check(&agent, "GET", "/readyz", None).0, 200);
}

/// Schemathesis (PyPI) generates requests from the description, with and without a valid
/// token: no answer may be a 5xx or break the description.
#[test]
fn schemathesis_finds_no_server_error_and_no_answer_outside_the_description() {
    let available = std::process::Command::new("schemathesis")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        available,
        "schemathesis is missing: scripts/test.sh installs it"
    );
    let dir = tempfile::tempdir().unwrap();
    let (agent, token) = agent_with_auth(dir.path(), "metrics:read regressions:read");
    let base = format!("http://{}", agent.admin);
    for authorization in [None, Some(format!("Bearer {token}"))] {
        let mut command = std::process::Command::new("schemathesis");
        command
            .args(["run", spec().to_str().unwrap(), "--url", &base])
            .args(["--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance"])
            .args(["--max-examples", "30", "--request-timeout", "5", "--seed", "1"])
            .env("SCHEMATHESIS_HOOKS", "")
            .current_dir(dir.path());
        if let Some(value) = &authorization {
            command.args(["--header", &format!("Authorization: {value}")]);
        }
        let output = command.output().unwrap();
        let report = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            output.status.success(),
            "schemathesis ({}):\n{report}",
            if authorization.is_some() {
                "with a token"
            } else {
                "without a token"
            }
        );
    }
}
