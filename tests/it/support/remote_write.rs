//! A strict remote-write 1.0 receiver for tests: decodes the real wire format (a snappy block
//! of `prometheus.WriteRequest`), refuses (400) what Prometheus refuses or the specification
//! forbids — wrong headers, labels unsorted, repeated, empty or without `__name__`, a
//! series' samples out of timestamp order within a request or against what it already has —
//! records what it accepted with each request's headers, and can be told to fail.
//!
//! Its protobuf messages are declared here, from the specification, independently of
//! vigia's: a wrong field number on either side fails the tests.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use prost::Message;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

mod wire {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct WriteRequest {
        #[prost(message, repeated, tag = "1")]
        pub timeseries: Vec<TimeSeries>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct TimeSeries {
        #[prost(message, repeated, tag = "1")]
        pub labels: Vec<Label>,
        #[prost(message, repeated, tag = "2")]
        pub samples: Vec<Sample>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Label {
        #[prost(string, tag = "1")]
        pub name: String,
        #[prost(string, tag = "2")]
        pub value: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Sample {
        #[prost(double, tag = "1")]
        pub value: f64,
        #[prost(int64, tag = "2")]
        pub timestamp: i64,
    }
}

pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// One accepted sample.
#[derive(Debug, Clone)]
pub struct Point {
    pub labels: Arc<BTreeMap<String, String>>,
    pub value: f64,
    pub timestamp: i64,
}

impl Point {
    pub fn name(&self) -> &str {
        &self.labels["__name__"]
    }

    pub fn is_stale(&self) -> bool {
        self.value.to_bits() == STALE_NAN_BITS
    }
}

#[derive(Default)]
struct State {
    accepted: Vec<Point>,
    /// Per series (its labels as text): the newest timestamp accepted.
    newest: HashMap<String, i64>,
    statuses: Vec<u16>,
    /// Each request's headers, in order.
    headers: Vec<BTreeMap<String, String>>,
    /// Answer this status to the next requests, as many times.
    fail: Option<(u16, usize)>,
    /// The samples of requests answered with an injected failure: (status, sample).
    failed: Vec<(u16, Point)>,
    /// Count accepted samples instead of keeping them (benchmarks).
    count_only: bool,
    counted: usize,
}

pub struct WriteReceiver {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl WriteReceiver {
    pub fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the receiver");
        let addr = listener.local_addr().unwrap();
        let state: Arc<Mutex<State>> = Arc::default();
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
        format!("http://{}/api/v1/write", self.addr)
    }

    /// Answers `status` to the next `count` requests (without looking at them).
    pub fn fail_next(&self, count: usize, status: u16) {
        self.state.lock().unwrap().fail = Some((status, count));
    }

    /// Counts accepted samples instead of keeping them: millions in bounded memory.
    #[allow(dead_code)] // benches/remote_write.rs
    pub fn count_only(&self) {
        self.state.lock().unwrap().count_only = true;
    }

    /// Samples accepted so far.
    #[allow(dead_code)] // benches/remote_write.rs
    pub fn accepted_count(&self) -> usize {
        let state = self.state.lock().unwrap();
        state.counted + state.accepted.len()
    }

    pub fn points(&self) -> Vec<Point> {
        self.state.lock().unwrap().accepted.clone()
    }

    /// The accepted samples of series named `name`.
    pub fn named(&self, name: &str) -> Vec<Point> {
        self.points()
            .into_iter()
            .filter(|p| p.name() == name)
            .collect()
    }

    /// The samples of requests answered with an injected failure, with its status.
    pub fn failed(&self) -> Vec<(u16, Point)> {
        self.state.lock().unwrap().failed.clone()
    }

    pub fn statuses(&self) -> Vec<u16> {
        self.state.lock().unwrap().statuses.clone()
    }

    pub fn headers(&self) -> Vec<BTreeMap<String, String>> {
        self.state.lock().unwrap().headers.clone()
    }
}

impl Drop for WriteReceiver {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
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
    let (parts, body) = request.into_parts();
    let body = body.collect().await?.to_bytes();
    let headers: BTreeMap<String, String> = parts
        .headers
        .iter()
        .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let mut state = state.lock().unwrap();
    state.headers.push(headers.clone());
    let response = match state.fail.as_mut() {
        Some((status, left)) if *left > 0 => {
            *left -= 1;
            let status = *status;
            if let Ok(request) = check(&parts, &headers, &body) {
                let failed = points(request).into_iter().map(|p| (status, p));
                state.failed.extend(failed);
            }
            respond(status, "injected failure".into())
        }
        _ => match check(&parts, &headers, &body) {
            Ok(request) => ingest(&mut state, request),
            Err(message) => respond(400, message),
        },
    };
    state.statuses.push(response.status().as_u16());
    Ok(response)
}

fn check(
    parts: &hyper::http::request::Parts,
    headers: &BTreeMap<String, String>,
    body: &[u8],
) -> Result<wire::WriteRequest, String> {
    if parts.method != hyper::Method::POST || parts.uri.path() != "/api/v1/write" {
        return Err(format!(
            "{} {}: not the write API",
            parts.method,
            parts.uri.path()
        ));
    }
    let header = |name: &str| headers.get(name).map(String::as_str);
    let expected = [
        ("content-encoding", "snappy"),
        ("content-type", "application/x-protobuf"),
        ("x-prometheus-remote-write-version", "0.1.0"),
    ];
    for (name, value) in expected {
        if header(name) != Some(value) {
            return Err(format!("{name}: {:?}, expected {value}", header(name)));
        }
    }
    if !header("user-agent").is_some_and(|agent| agent.starts_with("vigia/")) {
        return Err(format!("user-agent: {:?}", header("user-agent")));
    }
    let raw = snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|e| format!("not a snappy block: {e}"))?;
    let request = wire::WriteRequest::decode(&raw[..]).map_err(|e| format!("bad protobuf: {e}"))?;
    for series in &request.timeseries {
        if !series.labels.iter().any(|l| l.name == "__name__") {
            return Err("a series without __name__".into());
        }
        for pair in series.labels.windows(2) {
            if pair[0].name >= pair[1].name {
                return Err(format!(
                    "labels not sorted or repeated: {} then {}",
                    pair[0].name, pair[1].name
                ));
            }
        }
        if let Some(empty) = series
            .labels
            .iter()
            .find(|l| l.value.is_empty() || l.name.is_empty())
        {
            return Err(format!("an empty label: {empty:?}"));
        }
        for pair in series.samples.windows(2) {
            if pair[0].timestamp > pair[1].timestamp {
                return Err("samples of a series out of order in a request".into());
            }
        }
    }
    Ok(request)
}

/// Accepts the request's samples, all or none: a series older than what is stored is out of
/// order (Prometheus refuses it with a 400).
fn ingest(state: &mut State, request: wire::WriteRequest) -> Response<Full<Bytes>> {
    let key = |series: &wire::TimeSeries| {
        series
            .labels
            .iter()
            .map(|l| format!("{}={:?}", l.name, l.value))
            .collect::<Vec<_>>()
            .join(",")
    };
    // Entries in request order: a series may come in several, each must go forward.
    let mut newest: HashMap<String, i64> = HashMap::new();
    for series in &request.timeseries {
        let key = key(series);
        let before = newest.get(&key).or_else(|| state.newest.get(&key)).copied();
        if let (Some(before), Some(first)) = (before, series.samples.first())
            && first.timestamp < before
        {
            return respond(400, format!("out of order sample for {key}"));
        }
        if let Some(last) = series.samples.last() {
            newest.insert(key, last.timestamp);
        }
    }
    state.newest.extend(newest);
    if state.count_only {
        state.counted += request
            .timeseries
            .iter()
            .map(|s| s.samples.len())
            .sum::<usize>();
    } else {
        state.accepted.extend(points(request));
    }
    respond(204, String::new())
}

fn points(request: wire::WriteRequest) -> Vec<Point> {
    let mut points = Vec::new();
    for series in request.timeseries {
        let labels: Arc<BTreeMap<String, String>> = Arc::new(
            series
                .labels
                .iter()
                .map(|l| (l.name.clone(), l.value.clone()))
                .collect(),
        );
        for sample in series.samples {
            points.push(Point {
                labels: labels.clone(),
                value: sample.value,
                timestamp: sample.timestamp,
            });
        }
    }
    points
}
