//! Real servers the tests start (node_exporter, Prometheus) on 127.0.0.1 and free ports,
//! stopped when dropped.

use std::process::{Child, Command, Stdio};

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

pub struct Daemon {
    child: Child,
}

impl Daemon {
    pub fn start(program: &str, args: &[String]) -> Daemon {
        Self::spawn(program, args, Stdio::null())
    }

    /// With its standard error appended to `log`.
    pub fn start_logged(program: &str, args: &[String], log: &std::path::Path) -> Daemon {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("open the daemon's log");
        Self::spawn(program, args, Stdio::from(file))
    }

    fn spawn(program: &str, args: &[String], stderr: Stdio) -> Daemon {
        let child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("start {program} (scripts/test.sh installs it): {e}"));
        Daemon { child }
    }

    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
    }
}
