//! `vigia run` with the embedded default, as a child process: stdin in, JSON records out,
//! graceful and forced shutdown.

use crate::support::agent::{Agent, collect};
use crate::support::golden::assert_golden;
use crate::support::{data, wait_for};
use std::io::Write;
use std::time::Duration;

const EXIT_TIMEOUT: Duration = Duration::from_secs(20);

/// Replaces the agent's clock in records whose time came from reading, so goldens are stable
/// (textually, to keep the exact key order the agent writes).
fn stable(records: &str) -> String {
    records
        .lines()
        .map(|line| {
            let record: serde_json::Value =
                serde_json::from_str(line).expect("one JSON record per line");
            if record["source"]["ts_origin"] == "read" {
                let ts = record["ts"].as_str().expect("ts is a string");
                format!("{}\n", line.replacen(ts, "<read time>", 1))
            } else {
                format!("{line}\n")
            }
        })
        .collect()
}

#[test]
fn stdin_lines_come_out_as_one_json_record_each_and_the_agent_exits_at_end_of_input() {
    let input = std::fs::read(data("logs/mixed.log")).unwrap();
    let mut agent = Agent::start(&[]);
    let stdout = collect(agent.take_stdout());
    agent.stdin().write_all(&input).unwrap();
    agent.close_stdin();
    let status = agent.wait(EXIT_TIMEOUT);
    assert_eq!(status.code(), Some(0), "{:?}", agent.logs());
    let output = stdout.join().unwrap();
    assert_eq!(
        output.lines().count(),
        input
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .count()
    );
    assert_golden("stdin-mixed.jsonl", &stable(&output));
    // The agent's own logs went to stderr, as JSON, and never into the records.
    assert!(
        agent
            .logs()
            .iter()
            .any(|l| l.contains("\"stdin source finished\""))
    );
    assert!(!output.contains("stdin source finished"));
}

#[test]
fn sigterm_flushes_every_line_in_flight_and_exits_zero() {
    const LINES: usize = 3000;
    let mut agent = Agent::start(&[]);
    // Nobody reads stdout yet: the console sink blocks on a full pipe and the lines pile up
    // in the pipeline's channels, in flight.
    let stdout = agent.take_stdout();
    for i in 0..LINES {
        writeln!(
            agent.stdin(),
            r#"{{"level":"info","msg":"order placed","order":{i}}}"#
        )
        .unwrap();
    }
    agent.stdin().flush().unwrap();
    wait_for(EXIT_TIMEOUT, "every line to be read", || {
        (agent.metric("vigia_source_events_total{component=\"stdin\"}") == Some(LINES as f64))
            .then_some(())
    });
    agent.signal("TERM");
    let output = collect(stdout);
    let status = agent.wait(EXIT_TIMEOUT);
    assert_eq!(status.code(), Some(0), "{:?}", agent.logs());
    let output = output.join().unwrap();
    let orders: Vec<u64> = output
        .lines()
        .map(|line| {
            let record: serde_json::Value = serde_json::from_str(line).unwrap();
            record["attrs"]["order"].as_u64().unwrap()
        })
        .collect();
    assert_eq!(
        orders,
        (0..LINES as u64).collect::<Vec<_>>(),
        "every line, once, in order"
    );
    assert!(
        agent
            .logs()
            .iter()
            .any(|l| l.contains("shutting down: draining in-flight events"))
    );
}

/// Writes more than the stdout pipe holds (the caller never reads stdout) and waits until the
/// source has read some: the console sink is then blocked and events are stuck in flight.
fn jam_the_pipeline(agent: &mut Agent, source: &str) {
    let line = format!("{{\"msg\":\"{}\"}}\n", "x".repeat(1000));
    for _ in 0..500 {
        agent.stdin().write_all(line.as_bytes()).unwrap();
    }
    agent.stdin().flush().unwrap();
    let series = format!("vigia_source_events_total{{component=\"{source}\"}}");
    wait_for(EXIT_TIMEOUT, "the lines to be read", || {
        agent.metric(&series).filter(|n| *n > 0.0)
    });
}

#[test]
fn a_second_signal_exits_at_once_without_draining() {
    let mut agent = Agent::start(&[]);
    let _stdout = agent.take_stdout(); // never read: the drain cannot finish
    jam_the_pipeline(&mut agent, "stdin");
    agent.signal("TERM");
    wait_for(EXIT_TIMEOUT, "the drain to start", || {
        agent
            .logs()
            .iter()
            .any(|l| l.contains("draining"))
            .then_some(())
    });
    agent.signal("INT");
    let status = agent.wait(Duration::from_secs(5));
    assert_eq!(status.code(), Some(130));
}

#[test]
fn the_grace_period_bounds_the_drain() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("vigia.yaml");
    std::fs::write(
        &config,
        "shutdown:\n  grace_period: 300ms\nsources:\n  in:\n    type: stdin\nsinks:\n  out:\n    type: console\n",
    )
    .unwrap();
    let mut agent = Agent::start(&["--config", config.to_str().unwrap()]);
    let _stdout = agent.take_stdout(); // never read
    jam_the_pipeline(&mut agent, "in");
    agent.signal("TERM");
    let status = agent.wait(EXIT_TIMEOUT);
    assert_eq!(status.code(), Some(1));
    assert!(
        agent
            .logs()
            .iter()
            .any(|l| l.contains("grace period expired"))
    );
}

#[test]
fn a_closed_stdout_fails_the_console_sink_and_the_run() {
    let mut agent = Agent::start(&[]);
    drop(agent.take_stdout());
    for _ in 0..100 {
        let _ = writeln!(agent.stdin(), "{{\"msg\":\"nobody reads this\"}}");
    }
    agent.close_stdin();
    let status = agent.wait(EXIT_TIMEOUT);
    assert_eq!(status.code(), Some(1));
    assert!(
        agent.logs().iter().any(|l| l.contains("sink failed")),
        "{:?}",
        agent.logs()
    );
}

#[test]
fn the_admin_port_in_use_is_a_clear_startup_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let output = crate::support::agent::vigia()
        .args(["run", "--admin-listen", &address])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("cannot start the admin server on {address}")),
        "{stderr}"
    );
}
