//! How an HTTP client authenticates: shared by the sinks and by the latency baseline's
//! Prometheus queries, so it lives below both.

use crate::settings::secret::Secret;
use serde::{Deserialize, Serialize};

/// Basic or bearer authentication; a secret can come from a file read again when it changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum HttpAuth {
    Basic {
        username: String,
        #[serde(default)]
        password: Option<Secret>,
        /// Read at each request when it changed (a rotated Kubernetes secret).
        #[serde(default)]
        password_file: Option<String>,
    },
    Bearer {
        #[serde(default)]
        token: Option<Secret>,
        #[serde(default)]
        token_file: Option<String>,
    },
}
