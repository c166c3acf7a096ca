//! The shutdown order of an injected native sidecar, end to end: the container `vigia
//! inject` writes, run as the kubelet would run it (its env, its args on the image's
//! configuration), reads the app's files to their end after the app has exited and
//! delivers every line to Loki before it exits, within its grace period.

use crate::support::agent::{Agent, collect, vigia};
use crate::support::data;
use crate::support::loki::LokiReceiver;
use std::collections::BTreeSet;
use std::io::Write;
use std::time::{Duration, Instant};

const LINES: u64 = 60_000;

fn injected_container(loki_url: &str) -> serde_json::Value {
    let output = vigia()
        .args([
            "inject",
            "--image",
            "vigia:0.1.0",
            "--loki-endpoint",
            loki_url,
        ])
        .args(["--loki-tenant", "shop"])
        .arg(data("kubernetes/inject/checkout-deployment.yaml"))
        .output()
        .unwrap();
    assert!(output.status.success());
    let deployment: serde_json::Value =
        serde_saphyr::from_str(std::str::from_utf8(&output.stdout).unwrap()).unwrap();
    let sidecar = deployment["spec"]["template"]["spec"]["initContainers"][0].clone();
    assert_eq!(sidecar["name"], "vigia");
    assert_eq!(sidecar["restartPolicy"], "Always", "a native sidecar");
    assert_eq!(sidecar["startupProbe"]["httpGet"]["path"], "/readyz");
    sidecar
}

#[test]
fn an_injected_sidecar_delivers_every_line_the_app_wrote_before_it_exited() {
    let loki = LokiReceiver::start();
    let sidecar = injected_container(&loki.url());

    // The image runs `vigia run --config /etc/vigia/vigia.yaml`, which the Dockerfile
    // copies from examples/sidecar.yaml.
    let args: Vec<&str> = sidecar["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(args, ["run", "--config", "/etc/vigia/vigia.yaml"]);
    let dockerfile = std::fs::read_to_string(data("../../Dockerfile")).unwrap();
    assert!(dockerfile.contains("COPY examples/sidecar.yaml /etc/vigia/vigia.yaml"));
    let config = data("../../examples/sidecar.yaml");

    // The pod's volumes, here: the shared log emptyDir and the data emptyDir.
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("var-log-app");
    std::fs::create_dir_all(&logs).unwrap();
    let mut env: Vec<(String, String)> = Vec::new();
    for variable in sidecar["env"].as_array().unwrap() {
        let name = variable["name"].as_str().unwrap().to_owned();
        let value = match (
            variable["value"].as_str(),
            variable["valueFrom"]["fieldRef"]["fieldPath"].as_str(),
        ) {
            (Some(value), _) => value
                .replace("/var/log/app", logs.to_str().unwrap())
                .replace("/var/lib/vigia", dir.path().join("data").to_str().unwrap()),
            // What the downward API would give.
            (None, Some("metadata.name")) => "checkout-7d9f8c6b5-x2kqp".into(),
            (None, Some("metadata.namespace")) => "shop".into(),
            (None, Some("metadata.uid")) => "0b9b1d2e-5f8a-4c3b-9e7d-2a1f6c5d4e3b".into(),
            (None, Some("spec.nodeName")) => "node-a".into(),
            (None, Some("status.podIP")) => "10.42.3.17".into(),
            other => panic!("unexpected env {name}: {other:?}"),
        };
        env.push((name, value));
    }
    let grace: u64 = env
        .iter()
        .find(|(name, _)| name == "VIGIA_GRACE_PERIOD")
        .map(|(_, v)| v.trim_end_matches('s').parse().unwrap())
        .unwrap();
    assert_eq!(grace, 30, "two thirds of the pod's 45 s");
    let env_refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut agent = Agent::start_with_env(&["--config", config.to_str().unwrap()], &env_refs);
    let console = collect(agent.take_stdout());

    // The app: writes its log as fast as it can, the last lines just before it exits.
    let mut file = std::fs::File::create(logs.join("checkout.log")).unwrap();
    let mut batch = String::new();
    for seq in 0..LINES {
        batch.push_str(&format!(
            "{{\"time\":\"2026-11-28T10:00:{:02}.{:06}Z\",\"level\":\"info\",\"msg\":\"order placed\",\"order_id\":\"ord-{seq:07}\",\"seq\":{seq}}}\n",
            seq % 60,
            seq % 1_000_000
        ));
        if batch.len() > 64 * 1024 {
            file.write_all(batch.as_bytes()).unwrap();
            batch.clear();
        }
    }
    file.write_all(batch.as_bytes()).unwrap();
    drop(file);

    // The app has exited: the kubelet now stops its native sidecar.
    let stopped = Instant::now();
    agent.signal("TERM");
    let status = agent.wait(Duration::from_secs(grace + 5));
    let took = stopped.elapsed();
    assert!(
        status.success(),
        "exit {status:?}: {}",
        agent.logs().join("\n")
    );
    assert!(took < Duration::from_secs(grace), "took {took:?}");
    drop(console);

    let seqs: BTreeSet<u64> = loki
        .lines()
        .iter()
        .map(|line| {
            let record: serde_json::Value = serde_json::from_str(line).unwrap();
            record["attrs"]["seq"].as_u64().unwrap()
        })
        .collect();
    assert_eq!(
        seqs.len() as u64,
        LINES,
        "lines missing in Loki after shutdown (first missing: {:?})",
        (0..LINES).find(|s| !seqs.contains(s))
    );
    eprintln!("{LINES} lines delivered; vigia exited {took:?} after SIGTERM");
    let received = loki.received();
    let labels = &received[0].labels;
    assert_eq!(
        labels.get("service_name").map(String::as_str),
        Some("checkout"),
        "{labels:?}"
    );
    assert_eq!(
        labels.get("namespace").map(String::as_str),
        Some("shop"),
        "{labels:?}"
    );
    assert!(received.iter().all(|r| r.tenant.as_deref() == Some("shop")));
}
