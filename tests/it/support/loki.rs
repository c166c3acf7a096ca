//! A strict Loki push receiver for tests: decodes the real wire format (a snappy block of
//! `logproto.PushRequest`, or JSON), enforces Loki's rules from `contracts.md` (label syntax
//! and limits, line size, the out-of-order window, future timestamps, duplicate suppression),
//! records what it accepted, and can be told to fail, throttle, stall or be down.
//!
//! Its protobuf messages are declared here, from the contract, independently of vigia's: a
//! wrong field number on either side fails the tests.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use prost::Message;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

mod wire {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct PushRequest {
        #[prost(message, repeated, tag = "1")]
        pub streams: Vec<Stream>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Stream {
        #[prost(string, tag = "1")]
        pub labels: String,
        #[prost(message, repeated, tag = "2")]
        pub entries: Vec<Entry>,
        #[prost(uint64, tag = "3")]
        pub hash: u64,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Entry {
        #[prost(message, optional, tag = "1")]
        pub timestamp: Option<Timestamp>,
        #[prost(string, tag = "2")]
        pub line: String,
        #[prost(message, repeated, tag = "3")]
        pub structured_metadata: Vec<Pair>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Pair {
        #[prost(string, tag = "1")]
        pub name: String,
        #[prost(string, tag = "2")]
        pub value: String,
    }
    #[derive(Clone, Copy, PartialEq, prost::Message)]
    pub struct Timestamp {
        #[prost(int64, tag = "1")]
        pub seconds: i64,
        #[prost(int32, tag = "2")]
        pub nanos: i32,
    }
}

const MAX_LINE_BYTES: usize = 256 * 1024;
const MAX_LABELS: usize = 15;
const MAX_NAME_BYTES: usize = 1024;
const MAX_VALUE_BYTES: usize = 2048;
const MAX_METADATA_ENTRIES: usize = 128;
const OUT_OF_ORDER_WINDOW_NS: i64 = 3600 * 1_000_000_000;
const FUTURE_LIMIT_NS: i64 = 600 * 1_000_000_000;
/// `reject_old_samples_max_age`: 168h by default.
const OLDEST_ACCEPTED_NS: i64 = 168 * 3600 * 1_000_000_000;

/// One accepted line.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    /// Shared by the entries of a stream.
    pub labels: Arc<BTreeMap<String, String>>,
    pub ts: i64,
    pub line: String,
    pub metadata: BTreeMap<String, String>,
    pub tenant: Option<String>,
}

/// What a counting receiver hands each accepted line to.
pub type LineHook = Arc<dyn Fn(&str) + Send + Sync>;

/// How the receiver answers the next requests.
#[derive(Debug, Clone)]
pub enum Behavior {
    Accept,
    /// Answer `status` (with `Retry-After` if set) without reading the entries.
    Fail {
        status: u16,
        retry_after: Option<u64>,
    },
    /// Reject (400) entries whose line contains this text; accept the rest.
    RejectLinesContaining(String),
    /// Wait this long before answering (normally).
    Stall(Duration),
}

#[derive(Default)]
struct State {
    accepted: Vec<Received>,
    /// Per stream: the newest time and the last entry, for ordering and duplicates.
    streams: HashMap<String, (i64, i64, String)>,
    /// Every (stream, time, line) accepted: an entry pushed again the same is dropped, as
    /// Loki drops it (checked against Loki 3.4: re-pushed entries among 20,000 were dropped).
    /// (A hash of each: 8 bytes an entry, whatever the lines.)
    seen: std::collections::HashSet<u64>,
    /// Entries dropped as duplicates.
    duplicates: usize,
    /// When set, accepted lines go here instead of being kept (long soaks).
    on_line: Option<LineHook>,
    statuses: Vec<u16>,
    behavior: Option<Behavior>,
    /// `Fail` answers left before going back to accepting (`None`: until changed).
    fail_budget: Option<usize>,
    /// Requests being answered now, and the most there were at once.
    in_flight: usize,
    most_in_flight: usize,
}

pub struct LokiReceiver {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl LokiReceiver {
    pub fn start() -> Self {
        Self::start_on("127.0.0.1:0".parse().unwrap(), Arc::default())
    }

    fn start_on(addr: SocketAddr, state: Arc<Mutex<State>>) -> Self {
        let listener = std::net::TcpListener::bind(addr).expect("bind the Loki receiver");
        let addr = listener.local_addr().unwrap();
        let shared = state.clone();
        let (stop_tx, thread) =
            super::http_server::serve(listener, move |request| handle(request, shared.clone()));
        Self {
            addr,
            state,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn set(&self, behavior: Behavior) {
        let mut state = self.state.lock().unwrap();
        state.behavior = Some(behavior);
        state.fail_budget = None;
    }

    /// `Fail` for the next `count` requests, then accept.
    pub fn fail_next(&self, count: usize, status: u16, retry_after: Option<u64>) {
        let mut state = self.state.lock().unwrap();
        state.behavior = Some(Behavior::Fail {
            status,
            retry_after,
        });
        state.fail_budget = Some(count);
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().accepted.clone()
    }

    /// How many lines were accepted (cheaper than copying them).
    /// The most requests that were being answered at once.
    pub fn most_in_flight(&self) -> usize {
        self.state.lock().unwrap().most_in_flight
    }

    /// Accepted lines are handed to `on_line` instead of being kept: a soak of millions of
    /// lines in bounded memory (`received` then stays empty).
    #[allow(dead_code)] // benches/soak.rs
    pub fn count_only(&self, on_line: LineHook) {
        self.state.lock().unwrap().on_line = Some(on_line);
    }

    /// Entries pushed again with the same stream, time and line (dropped, as Loki does).
    pub fn duplicates_dropped(&self) -> usize {
        self.state.lock().unwrap().duplicates
    }

    pub fn received_count(&self) -> usize {
        self.state.lock().unwrap().accepted.len()
    }

    pub fn lines(&self) -> Vec<String> {
        self.received().into_iter().map(|r| r.line).collect()
    }

    /// Statuses answered so far, in order.
    pub fn statuses(&self) -> Vec<u16> {
        self.state.lock().unwrap().statuses.clone()
    }

    /// Stops listening (Loki down); what was accepted is kept for `restart`.
    pub fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }

    /// Listens again on the same address, with the same memory (Loki back).
    pub fn restart(&mut self) {
        self.stop();
        let again = Self::start_on(self.addr, self.state.clone());
        *self = again;
    }
}

impl Drop for LokiReceiver {
    fn drop(&mut self) {
        self.stop();
    }
}

fn respond(status: u16, body: String) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .body(Full::new(Bytes::from(body)))
        .unwrap()
}

async fn handle(
    request: Request<Incoming>,
    state: Arc<Mutex<State>>,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let behavior = {
        let mut state = state.lock().unwrap();
        state.in_flight += 1;
        state.most_in_flight = state.most_in_flight.max(state.in_flight);
        let behavior = state.behavior.clone().unwrap_or(Behavior::Accept);
        if let (Behavior::Fail { .. }, Some(budget)) = (&behavior, state.fail_budget.as_mut()) {
            *budget = budget.saturating_sub(1);
            if *budget == 0 {
                state.behavior = None;
                state.fail_budget = None;
            }
        }
        behavior
    };
    if let Behavior::Stall(wait) = behavior {
        tokio::time::sleep(wait).await;
    }
    let response = match behavior {
        Behavior::Fail {
            status,
            retry_after,
        } => {
            let mut response = respond(status, "injected failure".into());
            if let Some(seconds) = retry_after {
                response
                    .headers_mut()
                    .insert("Retry-After", seconds.to_string().parse().unwrap());
            }
            response
        }
        behavior => {
            let reject = match behavior {
                Behavior::RejectLinesContaining(text) => Some(text),
                _ => None,
            };
            let (parts, body) = request.into_parts();
            let body = match body.collect().await {
                Ok(body) => body.to_bytes(),
                Err(error) => {
                    state.lock().unwrap().in_flight -= 1;
                    return Err(error);
                }
            };
            match decode(&parts, &body) {
                Ok((push, tenant)) => ingest(&state, push, tenant, reject.as_deref()),
                Err(message) => respond(400, message),
            }
        }
    };
    let mut state = state.lock().unwrap();
    state.statuses.push(response.status().as_u16());
    state.in_flight -= 1;
    Ok(response)
}

fn decode(
    parts: &hyper::http::request::Parts,
    body: &[u8],
) -> Result<(wire::PushRequest, Option<String>), String> {
    if parts.method != hyper::Method::POST || parts.uri.path() != "/loki/api/v1/push" {
        return Err(format!(
            "{} {}: not the push API",
            parts.method,
            parts.uri.path()
        ));
    }
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let tenant = header("X-Scope-OrgID");
    if tenant.as_deref().is_some_and(|t| t.contains(':')) {
        return Err("tenant ids cannot contain ':'".into());
    }
    match header("Content-Type").as_deref() {
        Some("application/x-protobuf") => {
            let raw = snap::raw::Decoder::new()
                .decompress_vec(body)
                .map_err(|e| format!("not a snappy block: {e}"))?;
            let push =
                wire::PushRequest::decode(&raw[..]).map_err(|e| format!("bad protobuf: {e}"))?;
            Ok((push, tenant))
        }
        Some("application/json") => {
            let body = if header("Content-Encoding").as_deref() == Some("gzip") {
                let mut text = Vec::new();
                std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(body), &mut text)
                    .map_err(|e| format!("bad gzip: {e}"))?;
                text
            } else {
                body.to_vec()
            };
            Ok((json_push(&body)?, tenant))
        }
        other => Err(format!("unsupported Content-Type {other:?}")),
    }
}

fn json_push(body: &[u8]) -> Result<wire::PushRequest, String> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let streams = value["streams"].as_array().ok_or("no streams")?;
    let mut push = wire::PushRequest::default();
    for stream in streams {
        let labels: Vec<String> = stream["stream"]
            .as_object()
            .ok_or("stream without labels")?
            .iter()
            .map(|(k, v)| {
                format!(
                    "{k}={}",
                    serde_json::to_string(v.as_str().unwrap_or("")).unwrap()
                )
            })
            .collect();
        let mut entries = Vec::new();
        for value in stream["values"].as_array().ok_or("no values")? {
            let ns: i64 = value[0]
                .as_str()
                .ok_or("ts not a string")?
                .parse()
                .map_err(|_| "bad ts")?;
            entries.push(wire::Entry {
                timestamp: Some(wire::Timestamp {
                    seconds: ns.div_euclid(1_000_000_000),
                    nanos: ns.rem_euclid(1_000_000_000) as i32,
                }),
                line: value[1].as_str().ok_or("line not a string")?.to_owned(),
                structured_metadata: value
                    .get(2)
                    .and_then(|m| m.as_object())
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| wire::Pair {
                                name: k.clone(),
                                value: v.as_str().unwrap_or_default().to_owned(),
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            });
        }
        push.streams.push(wire::Stream {
            labels: format!("{{{}}}", labels.join(", ")),
            entries,
            hash: 0,
        });
    }
    Ok(push)
}

/// Loki's selector syntax, strictly: `{name="value", …}`.
fn parse_labels(selector: &str) -> Result<BTreeMap<String, String>, String> {
    let inner = selector
        .strip_prefix('{')
        .and_then(|s| s.strip_suffix('}'))
        .ok_or_else(|| format!("labels {selector:?}: not a selector"))?;
    let mut labels = BTreeMap::new();
    let mut rest = inner.trim();
    while !rest.is_empty() {
        let (name, after) = rest
            .split_once("=\"")
            .ok_or_else(|| format!("labels {selector:?}: expected name=\"value\""))?;
        let name = name.trim();
        let valid_name = name
            .bytes()
            .enumerate()
            .all(|(i, b)| b == b'_' || b.is_ascii_alphabetic() || (i > 0 && b.is_ascii_digit()));
        if name.is_empty() || !valid_name || name.starts_with("__") || name.len() > MAX_NAME_BYTES {
            return Err(format!("invalid label name {name:?}"));
        }
        let mut value = String::new();
        let mut end = None;
        let mut chars = after.char_indices();
        while let Some((index, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c @ ('"' | '\\'))) => value.push(c),
                    other => return Err(format!("bad escape {other:?} in {selector:?}")),
                },
                '"' => {
                    end = Some(index);
                    break;
                }
                c => value.push(c),
            }
        }
        let end = end.ok_or_else(|| format!("unterminated value in {selector:?}"))?;
        if value.len() > MAX_VALUE_BYTES {
            return Err(format!("label {name} value longer than {MAX_VALUE_BYTES}"));
        }
        if labels.insert(name.to_owned(), value).is_some() {
            return Err(format!("duplicate label {name}"));
        }
        rest = after[end + 1..].trim_start();
        rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
    }
    if labels.is_empty() || labels.len() > MAX_LABELS {
        return Err(format!(
            "{} labels: between 1 and {MAX_LABELS}",
            labels.len()
        ));
    }
    Ok(labels)
}

fn ingest(
    state: &Mutex<State>,
    push: wire::PushRequest,
    tenant: Option<String>,
    reject: Option<&str>,
) -> Response<Full<Bytes>> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64;
    let mut state = state.lock().unwrap();
    let State {
        streams,
        accepted,
        seen,
        duplicates,
        on_line,
        ..
    } = &mut *state;
    let mut problems = Vec::new();
    for stream in push.streams {
        let labels = match parse_labels(&stream.labels) {
            Ok(labels) => Arc::new(labels),
            Err(message) => {
                problems.push(message);
                continue;
            }
        };
        let key = format!("{}{}", tenant.as_deref().unwrap_or(""), stream.labels);
        let last = streams
            .entry(key.clone())
            .or_insert_with(|| (i64::MIN, 0, String::new()));
        for entry in stream.entries {
            let ts = entry
                .timestamp
                .map_or(0, |t| t.seconds * 1_000_000_000 + i64::from(t.nanos));
            let (newest, last_ts, last_line) = (last.0, last.1, &last.2);
            let problem = if entry.line.len() > MAX_LINE_BYTES {
                Some("line too long".to_owned())
            } else if ts > now + FUTURE_LIMIT_NS {
                Some(format!(
                    "entry for stream {} has timestamp too new",
                    stream.labels
                ))
            } else if ts < now - OLDEST_ACCEPTED_NS {
                Some(format!(
                    "entry for stream {} has timestamp too old",
                    stream.labels
                ))
            } else if newest != i64::MIN && ts < newest - OUT_OF_ORDER_WINDOW_NS {
                Some(format!("entry too far behind for stream {}", stream.labels))
            } else if entry.structured_metadata.len() > MAX_METADATA_ENTRIES {
                Some("too many structured metadata entries".to_owned())
            } else if reject.is_some_and(|text| entry.line.contains(text)) {
                Some("rejected by test".to_owned())
            } else {
                None
            };
            if let Some(problem) = problem {
                problems.push(problem);
                continue;
            }
            if ts == last_ts && entry.line == *last_line {
                // Loki drops an exact duplicate of the previous entry silently.
                *duplicates += 1;
                continue;
            }
            let identity = {
                use std::hash::{Hash, Hasher};
                let mut hasher = std::collections::hash_map::DefaultHasher::new();
                (&key, ts, &entry.line).hash(&mut hasher);
                hasher.finish()
            };
            if !seen.insert(identity) {
                *duplicates += 1;
                continue;
            }
            last.0 = newest.max(ts);
            last.1 = ts;
            last.2.clone_from(&entry.line);
            if let Some(on_line) = on_line {
                on_line(&entry.line);
                continue;
            }
            accepted.push(Received {
                labels: labels.clone(),
                ts,
                line: entry.line,
                metadata: entry
                    .structured_metadata
                    .into_iter()
                    .map(|p| (p.name, p.value))
                    .collect(),
                tenant: tenant.clone(),
            });
        }
    }
    if problems.is_empty() {
        respond(204, String::new())
    } else {
        respond(400, problems.join("\n"))
    }
}
