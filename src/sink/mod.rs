//! Sinks: where records and metrics go. A sink acknowledges each batch once it is written
//! (or, with a disk buffer, once it is safe on disk). Network sinks share the [`delivery`]
//! machinery.

pub mod component;
pub mod console;
pub mod delivery;
pub mod loki;
pub mod remote_write;

crate::component_registry! {
    /// The sink types: `type` → configuration (see [`component`]).
    SinkType: component::SinkSpec {
        /// One JSON object per line on standard output.
        Console => console::ConsoleSink,
        /// Grafana Loki's push API.
        Loki => loki::config::LokiSink,
        /// Prometheus remote write 1.0: scraped, own and RED metrics pushed to a receiver.
        PrometheusRemoteWrite => remote_write::config::RemoteWriteSink,
    }
}
