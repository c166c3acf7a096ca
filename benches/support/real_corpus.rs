//! Corpora that look like what services write, not padding: JSON request logs with varied
//! messages, ids, IPs, paths and user agents (~190 bytes, as in the Fluent Bit comparison of
//! step 14), nginx access logs, and a mix of real lines from many systems
//! (`tests/data/realworld`, `tests/data/formats`).

const METHODS: [&str; 5] = ["GET", "GET", "GET", "POST", "PUT"];
const PATHS: [&str; 8] = [
    "/api/v1/orders",
    "/api/v1/orders/81734",
    "/api/v1/cart",
    "/api/v1/products?page=2",
    "/healthz",
    "/api/v1/users/4417/profile",
    "/api/v2/search?q=shoes&size=42",
    "/static/app.3f9c2e.js",
];
const MESSAGES: [&str; 6] = [
    "request completed",
    "order placed",
    "cache miss, loading from database",
    "payment authorized",
    "slow upstream response",
    "user session refreshed",
];
const LEVELS: [&str; 6] = ["info", "info", "info", "debug", "warn", "error"];
const AGENTS: [&str; 4] = [
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15",
    "curl/8.5.0",
    "okhttp/4.12.0",
];

fn ip(rng: &mut fastrand::Rng) -> String {
    format!("10.{}.{}.{}", rng.u8(0..64), rng.u8(..), rng.u8(1..255))
}

/// A zap/pino-style request log line on `date`, about 190 bytes.
pub fn json_line(rng: &mut fastrand::Rng, date: &str, i: usize) -> String {
    let status = [200, 200, 200, 201, 204, 404, 500][rng.usize(0..7)];
    format!(
        r#"{{"level":"{}","ts":"{date}T{:02}:{:02}:{:02}.{:03}Z","msg":"{}","method":"{}","path":"{}","status":{status},"duration_ms":{:.1},"trace_id":"{:016x}"}}"#,
        LEVELS[rng.usize(0..LEVELS.len())],
        (i / 3_600_000) % 24,
        (i / 60_000) % 60,
        (i / 1000) % 60,
        i % 1000,
        MESSAGES[rng.usize(0..MESSAGES.len())],
        METHODS[rng.usize(0..METHODS.len())],
        PATHS[rng.usize(0..PATHS.len())],
        rng.f64() * 300.0,
        rng.u64(..),
    )
}

/// An nginx `combined` line with the request time appended, on `date` (`dd/Mon/yyyy`).
pub fn access_line(rng: &mut fastrand::Rng, date: &str, i: usize) -> String {
    format!(
        r#"{} - - [{date}:{:02}:{:02}:{:02} +0000] "{} {} HTTP/1.1" {} {} "https://shop.example.com/cart" "{}" {:.3}"#,
        ip(rng),
        (i / 3_600_000) % 24,
        (i / 60_000) % 60,
        (i / 1000) % 60,
        METHODS[rng.usize(0..METHODS.len())],
        PATHS[rng.usize(0..PATHS.len())],
        [200, 200, 304, 404, 500][rng.usize(0..5)],
        rng.u32(0..40_000),
        AGENTS[rng.usize(0..AGENTS.len())],
        rng.f64() * 0.5,
    )
}

/// Real lines from 25 systems' logs and the format fixtures, one after the other.
pub fn mixed_lines() -> Vec<String> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");
    let mut lines = Vec::new();
    let mut paths: Vec<_> = std::fs::read_dir(format!("{root}/realworld"))
        .unwrap()
        .chain(std::fs::read_dir(format!("{root}/formats")).unwrap())
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    for path in paths {
        let text = std::fs::read_to_string(&path).unwrap();
        let tsv = path.extension().is_some_and(|e| e == "tsv");
        for line in text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let line = if tsv {
                line.splitn(3, '\t').nth(2).unwrap_or(line)
            } else {
                line
            };
            lines.push(line.to_owned());
        }
    }
    lines
}
