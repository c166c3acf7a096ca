//! Metrics of the remote-write sinks: the shared delivery metrics (`vigia_remote_write_*`)
//! and remote write's own (missed scrapes, stale markers, active series).

use super::delivery::{DeliveryFamilies, DeliveryMetrics, Naming};
use super::register::{register_counter, register_gauge};
use prometheus::{IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Registry};

pub const NAMING: Naming = Naming {
    prefix: "vigia_remote_write",
    items: "samples",
    peer: "the remote-write receiver",
    drop_reasons: "buffer_full (the drop_newest policy)",
};

#[derive(Clone)]
pub struct RemoteWriteFamilies {
    delivery: DeliveryFamilies,
    scrapes_missed: IntCounterVec,
    stale_markers: IntCounterVec,
    active_series: IntGaugeVec,
}

/// One sink's handles.
#[derive(Clone)]
pub struct RemoteWriteMetrics {
    pub delivery: DeliveryMetrics,
    pub scrapes_missed: IntCounter,
    pub stale_markers: IntCounter,
    pub active_series: IntGauge,
}

impl RemoteWriteFamilies {
    pub fn register(registry: &Registry) -> Self {
        let one = ["component"];
        Self {
            delivery: DeliveryFamilies::register(registry, NAMING),
            scrapes_missed: register_counter(
                registry,
                "vigia_remote_write_scrapes_missed_total",
                "Scrape results the sink fell too far behind to take (its memory buffer was full \
                 with `when_full: block` for longer than 256 scrapes).",
                &one,
            ),
            stale_markers: register_counter(
                registry,
                "vigia_remote_write_stale_markers_total",
                "Stale markers written: a series gone from its target's scrape, a target down, \
                 or every series at shutdown.",
                &one,
            ),
            active_series: register_gauge(
                registry,
                "vigia_remote_write_active_series",
                "Series in the last scrape of every target and of the agent's own metrics.",
                &one,
            ),
        }
    }

    pub fn for_sink(&self, component: &str) -> RemoteWriteMetrics {
        let one = [component];
        RemoteWriteMetrics {
            delivery: self.delivery.for_sink(component),
            scrapes_missed: self.scrapes_missed.with_label_values(&one),
            stale_markers: self.stale_markers.with_label_values(&one),
            active_series: self.active_series.with_label_values(&one),
        }
    }
}
