//! Builds the pipeline from a validated [`Config`] and runs it: spawns the admin server and
//! every stage, owns the bounded channels and the stop token, and drains within the grace
//! period on shutdown.
//!
//! ```text
//! source ──► normalize ──┬──► sink        (normalized on the source's own thread; each
//!   ▲                    └──► sink         sink receives the sources listed in its `inputs`)
//!   └──────── acks ◄──────────┘
//! ```

use crate::admin::{self, AdminState};
use crate::config::Config;
use crate::latency::monitor::LatencyMonitor;
use crate::latency::probe as latency_probe;
use crate::logs::normalize::{Normalizer, stage::LineOut};
use crate::logs::pipeline::RecordBatch;
use crate::logs::redact::Redactor;
use crate::logs::source::SourceContext;
use crate::logs::source::component::SourceRun;
use crate::metrics::scrape::ScrapeStore;
use crate::sink::component::{SinkContext, buffer_dir};
use crate::sink::delivery::disk::Positions;
use crate::telemetry::AgentMetrics;
use crate::telemetry::health::Health;
use crate::telemetry::register::register_float_gauge;
use anyhow::Context;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything read was delivered (or the input ended and was drained).
    Drained,
    /// The grace period ran out with events still in flight.
    GraceExpired,
    /// A sink failed (e.g. stdout closed); events in flight were not delivered.
    SinkFailed,
}

impl Outcome {
    pub fn exit_code(self) -> u8 {
        match self {
            Outcome::Drained => 0,
            Outcome::GraceExpired | Outcome::SinkFailed => 1,
        }
    }
}

type AdminSecurity = (
    Option<Arc<admin::auth::AdminAuth>>,
    Option<Arc<rustls::ServerConfig>>,
);

/// The admin server's key set and TLS configuration: files that cannot be read at start are
/// a startup error (later changes that do not load keep the last good version).
fn admin_security(config: &Config, metrics: &Arc<AgentMetrics>) -> anyhow::Result<AdminSecurity> {
    let auth = match &config.admin.auth {
        Some(settings) => Some(Arc::new(
            admin::auth::AdminAuth::open(
                settings,
                metrics.admin().clone(),
                admin::auth::verify::system_clock(),
            )
            .map_err(|e| anyhow::anyhow!("admin.auth: {e}"))?,
        )),
        None => None,
    };
    let tls = match &config.admin.tls {
        Some(settings) => {
            let files = crate::tls::server::ServerTlsFiles {
                cert_file: settings.cert_file.clone(),
                key_file: settings.key_file.clone(),
                client_ca_file: settings.client_ca_file.clone(),
            };
            let admin_metrics = metrics.admin().clone();
            let reported = move |ok| admin_metrics.tls_reload("admin", ok);
            Some(Arc::new(
                crate::tls::server::server_config(&files, reported)
                    .map_err(|e| anyhow::anyhow!("admin.tls: {e}"))?,
            ))
        }
        None => None,
    };
    Ok((auth, tls))
}

/// Runs until every source has finished, a signal arrives, or a sink fails.
/// `signals` yields signal names; the second one exits the process at once.
pub async fn run(
    config: Config,
    admin_listen: SocketAddr,
    mut signals: mpsc::Receiver<&'static str>,
) -> anyhow::Result<Outcome> {
    let metrics = Arc::new(AgentMetrics::new());
    let health = Health::new(metrics.clone());
    let listener = admin::bind(admin_listen).await.with_context(|| {
        format!(
            "cannot start the admin server on {admin_listen} (set admin.listen or --admin-listen)"
        )
    })?;
    let bound = listener.local_addr().unwrap_or(admin_listen);
    tracing::info!(addr = %bound, "admin server listening");
    let admin_stop = CancellationToken::new();
    let scrape = Arc::new(ScrapeStore::new(&config.scrape));
    let latency = start_latency(&config, &metrics, &scrape, &admin_stop);
    let (auth, tls) = admin_security(&config, &metrics)?;
    tokio::spawn(admin::serve(
        listener,
        AdminState::new(
            metrics.clone(),
            health.clone(),
            scrape.clone(),
            latency.clone(),
        )
        .with_auth(auth)
        .with_tls(tls),
        admin_stop.clone(),
    ));
    let heartbeat = health.spawn_heartbeat();

    let capacity = config.channel_capacity;
    // Read before any sink opens its buffer (opening deletes what was delivered).
    let mut buffered = buffered_positions(&config);
    let durable = durable_positions(&config, &buffered);
    // Cancelled once the sources are drained: sinks of metrics send their last and end.
    let drained = CancellationToken::new();
    let mut sinks = JoinSet::new();
    let mut sink_inputs: HashMap<String, Vec<mpsc::Sender<RecordBatch>>> = HashMap::new();
    for sink in &config.sinks {
        let (tx, rx) = mpsc::channel(capacity);
        for input in &sink.inputs {
            sink_inputs
                .entry(input.clone())
                .or_default()
                .push(tx.clone());
        }
        let id = sink.id.clone();
        let task = sink.sink.run(SinkContext {
            id: Arc::from(sink.id.as_str()),
            agent: metrics.clone(),
            health: health.register(format!("sink.{}", sink.id)),
            counters: metrics.sink(&sink.id),
            buffer_dir: buffer_dir(&config.data_dir, &sink.id),
            positions: buffered.remove(&sink.id).unwrap_or_default(),
            logs: rx,
            scrape: scrape.clone(),
            shutdown: drained.clone(),
        });
        sinks.spawn(async move {
            task.await
                .map_err(|error| anyhow::anyhow!("sink `{id}`: {error}"))
        });
    }

    // After the sinks: a sink of metrics subscribes to the first scrape's results.
    for target in &config.scrape {
        let histogram = target
            .red
            .as_ref()
            .filter(|mapping| mapping.duration.is_some())
            .and_then(|mapping| Some(latency.as_ref()?.service(&mapping.service)));
        tokio::spawn(crate::metrics::scrape::target::run(
            target.clone(),
            scrape.clone(),
            histogram,
            admin_stop.clone(),
        ));
    }

    let redactor = Arc::new(build_redactor(&config, &metrics)?);
    let http_families = config
        .from_logs
        .as_ref()
        .map(|settings| crate::metrics::red::HttpFamilies::register(metrics.registry(), settings));
    export_slos(&config, &metrics);
    let stop_sources = CancellationToken::new();
    let mut sources = JoinSet::new();
    for source in &config.sources {
        let outputs = sink_inputs.remove(&source.id).unwrap_or_default();
        let mut normalizer = Normalizer::new(source.source.format(), redactor.clone());
        if let (Some(families), Some(settings)) = (&http_families, &config.from_logs)
            && (settings.sources.is_empty() || settings.sources.contains(&source.id))
        {
            let mut recorder = families.for_service(&source.id);
            if let Some(monitor) = &latency {
                recorder = recorder.with_latency(monitor.service(&source.id));
            }
            normalizer = normalizer.with_http_metrics(recorder);
        }
        let out = LineOut::new(normalizer, outputs, metrics.invalid_utf8(&source.id));
        source.source.spawn(
            SourceRun {
                context: SourceContext {
                    id: Arc::from(source.id.as_str()),
                    metrics: metrics.clone(),
                    health: health.register(format!("source.{}", source.id)),
                    batch_max_events: config.batch_max_events,
                },
                out,
                stop: stop_sources.clone(),
                data_dir: config.data_dir.clone(),
                grace_period: config.grace_period,
                durable: durable.get(&source.id).cloned().unwrap_or_default(),
            },
            &mut sources,
        );
    }
    drop(sink_inputs);
    tracing::info!(
        sources = config.sources.len(),
        sinks = config.sinks.len(),
        "pipeline started"
    );
    crate::startup_pages::release_after_startup();

    let mut sink_failed = false;
    tokio::select! {
        Some(signal) = signals.recv() => tracing::info!(signal, grace_period = ?config.grace_period, "shutting down: draining in-flight events"),
        _ = async { while sources.join_next().await.is_some() {} }, if !config.sources.is_empty() => tracing::info!("every source has finished; draining"),
        Some(result) = sinks.join_next() => {
            sink_failed = report_sink(result);
        }
    }
    health.begin_shutdown();
    stop_sources.cancel();

    let drain = async {
        while sources.join_next().await.is_some() {}
        drained.cancel();
        while let Some(result) = sinks.join_next().await {
            sink_failed |= report_sink(result);
        }
    };
    let drained = tokio::select! {
        drained = tokio::time::timeout(config.grace_period, drain) => drained.is_ok(),
        Some(signal) = signals.recv() => {
            tracing::warn!(signal, "second signal: exiting without draining");
            std::process::exit(crate::shutdown::FORCED_EXIT_CODE);
        }
    };
    admin_stop.cancel();
    heartbeat.abort();
    if let Some(monitor) = &latency {
        monitor.persist(crate::latency::monitor::unix_now());
    }
    Ok(if sink_failed {
        Outcome::SinkFailed
    } else if !drained {
        tracing::error!(grace_period = ?config.grace_period, "grace period expired with events still in flight; they will not be delivered");
        Outcome::GraceExpired
    } else {
        tracing::info!("shutdown complete");
        Outcome::Drained
    })
}

/// The latency detector (when there are latencies to watch: access logs or a probe) and the
/// probe. The service version is the configured one, else a scraped `*_build_info`'s.
fn start_latency(
    config: &Config,
    metrics: &AgentMetrics,
    scrape: &Arc<ScrapeStore>,
    stop: &CancellationToken,
) -> Option<Arc<LatencyMonitor>> {
    let settings = &config.latency;
    let mapped_histogram = config
        .scrape
        .iter()
        .any(|t| t.red.as_ref().is_some_and(|m| m.duration.is_some()));
    let watched = config.from_logs.is_some() || settings.probe.is_some() || mapped_histogram;
    let monitor = (settings.detect && watched)
        .then(|| LatencyMonitor::new(metrics.registry(), settings.clone()));
    if let Some(monitor) = &monitor {
        if settings.persist_baseline {
            monitor.restore_from(
                crate::latency::baseline::store::BaselineStore::new(&config.data_dir),
                crate::latency::monitor::unix_now(),
                settings.version.as_deref(),
            );
        }
        let configured = settings.version.clone();
        let scrape = scrape.clone();
        let version = move || configured.clone().or_else(|| scraped_version(&scrape));
        tokio::spawn(monitor.clone().run(version, stop.clone()));
    }
    if let Some(probe) = &settings.probe {
        let probe_metrics =
            latency_probe::ProbeMetrics::register(metrics.registry(), &probe.service);
        let recorder = monitor.as_ref().map(|m| m.service(&probe.service));
        tokio::spawn(latency_probe::run(
            probe.clone(),
            probe_metrics,
            recorder,
            stop.clone(),
        ));
    }
    monitor
}

/// `vigia_slo_*{service}` for every service whose RED metrics vigia serves (access-log
/// sources, mapped scrape targets, the probe), so generic alert rules find each one's
/// objectives.
fn export_slos(config: &Config, metrics: &AgentMetrics) {
    let mut services: Vec<String> = Vec::new();
    if let Some(from_logs) = &config.from_logs {
        services.extend(
            config
                .sources
                .iter()
                .filter(|s| from_logs.sources.is_empty() || from_logs.sources.contains(&s.id))
                .map(|s| s.id.clone()),
        );
    }
    services.extend(
        config
            .scrape
            .iter()
            .filter_map(|t| Some(t.red.as_ref()?.service.clone())),
    );
    if let Some(probe) = &config.latency.probe {
        services.push(probe.service.clone());
    }
    services.sort();
    services.dedup();
    if services.is_empty() {
        return;
    }
    let gauge = |name, help| register_float_gauge(metrics.registry(), name, help, &["service"]);
    let availability = gauge(
        "vigia_slo_availability_objective",
        "Share of requests that must not fail (slo.availability).",
    );
    let threshold = gauge(
        "vigia_slo_latency_threshold_seconds",
        "Requests slower than this count against the latency objective (slo.latency_threshold).",
    );
    let objective = gauge(
        "vigia_slo_latency_objective",
        "Share of requests that must be faster than the threshold (slo.latency_objective).",
    );
    for service in &services {
        availability
            .with_label_values(&[service])
            .set(config.slo.availability);
        threshold
            .with_label_values(&[service])
            .set(config.slo.latency_threshold.0.as_secs_f64());
        objective
            .with_label_values(&[service])
            .set(config.slo.latency_objective);
    }
}

/// The `version` label of a scraped `*_build_info` series, if the service exports one.
fn scraped_version(scrape: &ScrapeStore) -> Option<String> {
    scrape
        .families()
        .iter()
        .filter(|family| family.name.ends_with("_build_info"))
        .flat_map(|family| family.samples.iter())
        .find_map(|sample| {
            sample
                .labels
                .iter()
                .find(|(name, _)| &**name == "version")
                .map(|(_, value)| value.clone())
        })
}

/// The redactor every source shares, counting into `vigia_redactions_total`.
pub fn build_redactor(config: &Config, metrics: &AgentMetrics) -> anyhow::Result<Redactor> {
    Redactor::new(&config.redaction.rules, &config.redaction.custom, |rule| {
        metrics.redactions(rule)
    })
    .map_err(anyhow::Error::msg)
}

/// Each disk-buffered sink's recorded read positions (by sink id), read once at start,
/// before any sink opens its buffer (opening deletes what was delivered).
fn buffered_positions(config: &Config) -> HashMap<String, Positions> {
    config
        .sinks
        .iter()
        .filter(|sink| sink.sink.disk_buffered())
        .map(|sink| {
            let positions = Positions::read(&buffer_dir(&config.data_dir, &sink.id));
            (sink.id.clone(), positions)
        })
        .collect()
}

/// Per file source, the read positions its sinks' disk buffers recorded after the source's
/// last checkpoint. Used only when every sink the source feeds has a disk buffer (a line is
/// safe only once every sink has it); with several, a file's position is the least of theirs.
fn durable_positions(
    config: &Config,
    buffered: &HashMap<String, Positions>,
) -> HashMap<String, Vec<crate::logs::source::file::checkpoint::CheckpointEntry>> {
    let mut durable = HashMap::new();
    for source in &config.sources {
        let feeds: Option<Vec<&Positions>> = config
            .sinks
            .iter()
            .filter(|sink| sink.inputs.contains(&source.id))
            .map(|sink| buffered.get(&sink.id))
            .collect();
        let Some((first, others)) = feeds.as_deref().and_then(<[_]>::split_first) else {
            continue;
        };
        let entries = |positions: &Positions| -> HashMap<_, _> {
            positions
                .of_source(&source.id)
                .into_iter()
                .map(|p| (p.entry.key, p.entry))
                .collect()
        };
        let mut least = entries(first);
        for other in others {
            let found = entries(other);
            least.retain(|key, entry| match found.get(key) {
                Some(theirs) if theirs.offset < entry.offset => {
                    *entry = theirs.clone();
                    true
                }
                Some(_) => true,
                None => false,
            });
        }
        if !least.is_empty() {
            durable.insert(source.id.clone(), least.into_values().collect());
        }
    }
    durable
}

/// Logs a finished sink task; returns whether it failed.
fn report_sink(result: Result<anyhow::Result<u64>, tokio::task::JoinError>) -> bool {
    match result {
        Ok(Ok(_)) => false,
        Ok(Err(error)) => {
            tracing::error!(error = %error, "sink failed");
            true
        }
        Err(error) => {
            tracing::error!(error = %error, "sink task panicked");
            true
        }
    }
}
