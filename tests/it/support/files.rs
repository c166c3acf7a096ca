//! Support for file-source tests: a config in a temp dir, and an agent whose stdout records
//! are collected as they arrive.

use super::agent::Agent;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// A temp dir with `logs/` and `data/`, and a config written for it.
pub struct Workspace {
    pub dir: tempfile::TempDir,
}

impl Workspace {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("logs")).unwrap();
        Self { dir }
    }

    pub fn logs(&self) -> PathBuf {
        self.dir.path().join("logs")
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Writes `vigia.yaml` with a file source `app` reading `include` (relative to logs/) and
    /// the extra source settings given as YAML lines (indented under the source).
    pub fn config(&self, include: &[&str], source_extra: &str, top_extra: &str) -> PathBuf {
        let includes: Vec<String> = include
            .iter()
            .map(|p| format!("\"{}\"", self.logs().join(p).display()))
            .collect();
        let mut extra = String::new();
        for line in source_extra.lines().filter(|l| !l.trim().is_empty()) {
            extra.push_str("    ");
            extra.push_str(line);
            extra.push('\n');
        }
        let yaml = format!(
            "data_dir: {data}\n{top_extra}\nsources:\n  app:\n    type: file\n    include: [{includes}]\n    discovery_interval: 100ms\n    poll_interval: 50ms\n{extra}sinks:\n  out:\n    type: console\n",
            data = self.data().display(),
            includes = includes.join(", "),
        );
        let path = self.dir.path().join("vigia.yaml");
        std::fs::write(&path, yaml).unwrap();
        path
    }
}

/// A running agent and the records it has written so far.
pub struct Collecting {
    pub agent: Agent,
    pub records: Arc<Mutex<Vec<serde_json::Value>>>,
    reader: Option<JoinHandle<()>>,
}

impl Collecting {
    pub fn start(config: &Path) -> Self {
        let mut agent = Agent::start(&["--config", config.to_str().unwrap()]);
        let stdout = agent.take_stdout();
        let records = Arc::new(Mutex::new(Vec::new()));
        let sink = records.clone();
        let reader = std::thread::spawn(move || {
            let mut stdout = BufReader::new(stdout);
            let mut line = Vec::new();
            loop {
                line.clear();
                match stdout.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                // A line cut short by SIGKILL mid-write has no newline: it was never
                // acknowledged, so the next run writes it again whole.
                if line.last() != Some(&b'\n') {
                    break;
                }
                let record =
                    serde_json::from_slice(&line).expect("the console sink writes JSON lines");
                sink.lock().unwrap().push(record);
            }
        });
        Self {
            agent,
            records,
            reader: Some(reader),
        }
    }

    pub fn count(&self) -> usize {
        self.records.lock().unwrap().len()
    }

    pub fn snapshot(&self) -> Vec<serde_json::Value> {
        self.records.lock().unwrap().clone()
    }

    /// Stops the agent with `signal` and returns every record it wrote.
    pub fn stop(mut self, signal: &str) -> (Option<i32>, Vec<serde_json::Value>) {
        self.agent.signal(signal);
        let status = self.agent.wait(std::time::Duration::from_secs(30));
        if let Some(reader) = self.reader.take() {
            reader.join().unwrap();
        }
        (status.code(), self.snapshot())
    }
}

/// The `seq` attribute of records written by the tests' writers.
pub fn seq(record: &serde_json::Value) -> u64 {
    record["attrs"]["seq"]
        .as_u64()
        .unwrap_or_else(|| panic!("a record with a seq: {record}"))
}
