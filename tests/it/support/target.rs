//! A scrape target whose exposition the test changes as it goes: series come and go, the
//! body turns invalid, the target goes away.

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};

pub struct Target {
    pub url: String,
    body: Arc<Mutex<String>>,
}

impl Target {
    pub fn start(body: &str) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/metrics", listener.local_addr().unwrap());
        let shared = Arc::new(Mutex::new(body.to_owned()));
        let body = shared.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let body = body.lock().unwrap().clone();
                std::thread::spawn(move || {
                    let mut request = [0u8; 4096];
                    let _ = stream.read(&mut request);
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = stream.write_all(head.as_bytes());
                    let _ = stream.write_all(body.as_bytes());
                });
            }
        });
        Self { url, body: shared }
    }

    /// The exposition from the next scrape on.
    pub fn set(&self, body: &str) {
        *self.body.lock().unwrap() = body.to_owned();
    }

    /// `host:port`, the `instance` label of its series.
    pub fn instance(&self) -> &str {
        self.url
            .trim_start_matches("http://")
            .trim_end_matches("/metrics")
    }
}
