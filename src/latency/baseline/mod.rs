//! Baselines that outlive the process: loaded from Prometheus at start
//! ([`prometheus`]), kept in `data_dir` ([`store`]), and what `/api/v1/regressions` says
//! about where the current ones came from.

pub mod prometheus;
pub mod store;

use crate::latency::sketch::LatencySketch;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// One route's distribution as Prometheus stored it.
#[derive(Debug, Clone)]
pub struct ImportedRoute {
    pub sketch: LatencySketch,
    /// The histogram's finite bucket bounds.
    pub bounds: Arc<[f64]>,
    /// The previous days' median levels by time of day (see `seasonal`), newest first;
    /// empty when Prometheus had no history of them.
    pub days: Vec<Vec<Option<f32>>>,
    /// The span (unix seconds) the distribution was summed over.
    pub covering: (f64, f64),
}

/// What a load from Prometheus found.
#[derive(Debug, Clone)]
pub struct Imported {
    /// Keyed by (service, route).
    pub routes: BTreeMap<(String, String), ImportedRoute>,
    /// The versions the baseline is made of, when they are not ours (a deploy); empty when
    /// it is this version's own history (a restart).
    pub previous_versions: Vec<String>,
}

/// Where the detectors' baselines came from, for `/api/v1/regressions`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BaselineStatus {
    /// `warmup` (learning from this process's windows), `data_dir` (restored from the
    /// previous run), `prometheus` (loaded at start), `loading` (a Prometheus load under way).
    pub source: &'static str,
    /// Routes whose baseline was restored or loaded.
    pub routes: usize,
    /// The versions a loaded baseline is made of, when it is the previous version's.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub previous_versions: Vec<String>,
    /// Why a configured load gave nothing (the detectors learn locally meanwhile).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback_reason: Option<String>,
}

impl BaselineStatus {
    pub fn warmup() -> Self {
        Self {
            source: "warmup",
            routes: 0,
            previous_versions: Vec::new(),
            fallback_reason: None,
        }
    }
}
