//! Metrics of the Loki sinks: the shared delivery metrics (`vigia_loki_*`) and Loki's own
//! (rewritten lines, active streams). Families registered once, handles resolved per sink.

use super::delivery::{DeliveryFamilies, DeliveryMetrics, Naming};
use super::register::{register_counter, register_gauge};
use prometheus::{IntCounterVec, IntGauge, IntGaugeVec, Registry};

pub const NAMING: Naming = Naming {
    prefix: "vigia_loki",
    items: "lines",
    peer: "Loki",
    drop_reasons: "buffer_full (the drop_newest policy), out_of_order (the drop policy)",
};

#[derive(Clone)]
pub struct LokiFamilies {
    delivery: DeliveryFamilies,
    lines_rewritten: IntCounterVec,
    active_streams: IntGaugeVec,
}

/// One sink's handles.
#[derive(Clone)]
pub struct LokiMetrics {
    families: LokiFamilies,
    pub delivery: DeliveryMetrics,
    pub active_streams: IntGauge,
}

impl std::ops::Deref for LokiMetrics {
    type Target = DeliveryMetrics;

    fn deref(&self) -> &DeliveryMetrics {
        &self.delivery
    }
}

impl LokiMetrics {
    /// Lines sent with a changed timestamp, by reason.
    pub fn rewritten(&self, reason: &str, lines: u64) {
        self.families
            .lines_rewritten
            .with_label_values(&[self.delivery.component(), reason])
            .inc_by(lines);
    }
}

impl LokiFamilies {
    pub fn register(registry: &Registry) -> Self {
        Self {
            delivery: DeliveryFamilies::register(registry, NAMING),
            lines_rewritten: register_counter(
                registry,
                "vigia_loki_lines_rewritten_total",
                "Lines sent changed, by reason: out_of_order (another timestamp), stream_overflow \
                 (templated labels folded into `overflow`).",
                &["component", "reason"],
            ),
            active_streams: register_gauge(
                registry,
                "vigia_loki_active_streams",
                "Streams (label sets) sent to in the last hour (bounded by max_streams).",
                &["component"],
            ),
        }
    }

    pub fn for_sink(&self, component: &str) -> LokiMetrics {
        LokiMetrics {
            families: self.clone(),
            delivery: self.delivery.for_sink(component),
            active_streams: self.active_streams.with_label_values(&[component]),
        }
    }
}
