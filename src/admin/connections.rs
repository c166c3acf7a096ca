//! The admin server's connections, at most [`MAX_CONNECTIONS`]. At the cap a new connection
//! is still accepted (a probe must get through however many idle or slow clients there
//! are) and the oldest connection not being answered right now is closed for it. A probe
//! sends its request at once and is answered in milliseconds, so it is never the oldest;
//! idle keep-alive connections and clients that stopped reading are.

use crate::telemetry::admin::AdminMetrics;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;

/// Connections held at once: file sources, checkpoints and sinks need descriptors too.
pub const MAX_CONNECTIONS: usize = 256;

struct Entry {
    answering: Arc<AtomicBool>,
    close: CancellationToken,
}

#[derive(Default)]
struct Open {
    next_id: u64,
    /// By id, which is by age.
    entries: BTreeMap<u64, Entry>,
}

pub struct Connections {
    open: Mutex<Open>,
    cap: usize,
    metrics: AdminMetrics,
}

/// One admitted connection; dropping it gives its place back.
pub struct Admitted {
    id: u64,
    /// True while a request is being answered (the handler runs).
    pub answering: Arc<AtomicBool>,
    /// Cancelled when the connection is evicted.
    pub close: CancellationToken,
    connections: Arc<Connections>,
}

impl Connections {
    pub fn new(cap: usize, metrics: AdminMetrics) -> Arc<Self> {
        Arc::new(Self {
            open: Mutex::default(),
            cap,
            metrics,
        })
    }

    /// A place for a new connection, evicting the oldest one not being answered when at the
    /// cap; `None` when every connection is being answered (the new one is closed).
    pub fn admit(self: &Arc<Self>) -> Option<Admitted> {
        let mut open = self
            .open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if open.entries.len() >= self.cap {
            let oldest_idle = open
                .entries
                .iter()
                .find(|(_, entry)| !entry.answering.load(Ordering::Acquire))
                .map(|(id, _)| *id)?;
            if let Some(evicted) = open.entries.remove(&oldest_idle) {
                evicted.close.cancel();
                self.metrics.connections_evicted.inc();
            }
        }
        let id = open.next_id;
        open.next_id += 1;
        let (answering, close) = (Arc::new(AtomicBool::new(false)), CancellationToken::new());
        open.entries.insert(
            id,
            Entry {
                answering: answering.clone(),
                close: close.clone(),
            },
        );
        self.metrics.connections_open.set(open.entries.len() as i64);
        Some(Admitted {
            id,
            answering,
            close,
            connections: self.clone(),
        })
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut open = self
            .connections
            .open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        open.entries.remove(&self.id);
        self.connections
            .metrics
            .connections_open
            .set(open.entries.len() as i64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_the_cap_the_oldest_idle_connection_makes_room_and_answering_ones_are_kept() {
        let registry = prometheus::Registry::new();
        let connections = Connections::new(3, AdminMetrics::register(&registry));
        let first = connections.admit().unwrap();
        let second = connections.admit().unwrap();
        let third = connections.admit().unwrap();
        first.answering.store(true, Ordering::Release);
        let fourth = connections.admit().unwrap();
        assert!(!first.close.is_cancelled(), "being answered: kept");
        assert!(second.close.is_cancelled(), "the oldest idle one goes");
        assert!(!third.close.is_cancelled());
        drop(second);
        third.answering.store(true, Ordering::Release);
        fourth.answering.store(true, Ordering::Release);
        assert!(
            connections.admit().is_none(),
            "all busy: the newcomer is refused"
        );
        drop(fourth);
        assert!(connections.admit().is_some());
    }
}
