//! The real `vigia` binary as a child process, with its admin address read from its own
//! startup log, so tests can use port 0 and run in parallel.

use super::wait_for;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);

pub fn vigia() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vigia"))
}

pub struct Agent {
    child: Child,
    pub admin: SocketAddr,
    logs: Arc<Mutex<Vec<String>>>,
}

impl Agent {
    /// Starts `vigia run` with `args` (plus an ephemeral admin port) and waits until the admin
    /// server listens.
    pub fn start(args: &[&str]) -> Agent {
        Self::start_with_env(args, &[])
    }

    /// [`Agent::start`] with extra environment variables.
    pub fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Agent {
        let mut child = vigia()
            .envs(env.iter().copied())
            .arg("run")
            .args(args)
            .args(["--admin-listen", "127.0.0.1:0"])
            .env("VIGIA_LOG", "info")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start vigia");
        let stderr = child.stderr.take().expect("stderr is piped");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let collected = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                collected.lock().unwrap().push(line);
            }
        });
        let admin = wait_for(STARTUP_TIMEOUT, "the admin server to listen", || {
            logs.lock().unwrap().iter().find_map(|line| {
                let log: serde_json::Value = serde_json::from_str(line).ok()?;
                (log["message"] == "admin server listening")
                    .then(|| log["addr"].as_str()?.parse().ok())
                    .flatten()
            })
        });
        Agent { child, admin, logs }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn stdin(&mut self) -> &mut ChildStdin {
        self.child.stdin.as_mut().expect("stdin is piped")
    }

    pub fn close_stdin(&mut self) {
        drop(self.child.stdin.take());
    }

    pub fn take_stdout(&mut self) -> ChildStdout {
        self.child.stdout.take().expect("stdout is piped")
    }

    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} failed");
    }

    pub fn wait(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for vigia") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "vigia did not exit within {timeout:?}; logs:\n{}",
                    self.logs().join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap().clone()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.admin)
    }

    /// A metric's value from `/metrics` (the first series whose line starts with `series`).
    pub fn metric(&self, series: &str) -> Option<f64> {
        let body = http_get(&self.url("/metrics")).ok()?.1;
        body.lines()
            .find(|line| line.starts_with(series))
            .and_then(|line| line.rsplit(' ').next()?.parse().ok())
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads everything from a child's stdout on a thread, so a test can collect it with a bound.
pub fn collect(mut stdout: ChildStdout) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    })
}

/// A minimal blocking HTTP GET (status, body) with a bounded timeout.
pub fn http_get(url: &str) -> Result<(u16, String), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let client = super::http_client(Duration::from_secs(5));
        let response = client.get(url).send().await.map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let body = response.text().await.map_err(|e| e.to_string())?;
        Ok((status, body))
    })
}

/// GET with a bearer token (status, body).
pub fn http_get_bearer(url: &str, token: &str) -> Result<(u16, String), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let client = super::http_client(Duration::from_secs(5));
        let response = client
            .get(url)
            .bearer_auth(token)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let body = response.text().await.map_err(|e| e.to_string())?;
        Ok((status, body))
    })
}

/// GET with an `Accept` header; the body.
pub fn http_get_with(url: &str, accept: &str) -> String {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = super::http_client(Duration::from_secs(5));
        let response = client
            .get(url)
            .header("Accept", accept)
            .send()
            .await
            .expect("an answer");
        response.text().await.expect("a body")
    })
}
