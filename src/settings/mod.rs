//! What every component's configuration is written with, below everything that uses it:
//! located diagnostics, durations and sizes as people write them, the agent's role, the
//! validation context, and the macro that declares a registry of component types. It depends
//! on nothing else in the crate, so sources, sinks and the configuration file can all use it
//! without depending on each other.

pub mod bytesize;
pub mod diagnostics;
pub mod duration;
pub mod http_auth;
pub mod secret;

use serde::{Deserialize, Serialize};

/// `sidecar` (next to one service) or `node_agent` (one per node): sets defaults that
/// differ between the two, such as where a file source starts on its first run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    #[default]
    Sidecar,
    NodeAgent,
}

/// What validating a component may depend on besides its own section.
pub struct ValidationContext<'a> {
    /// Where the component is in the file (`sources.app`), for diagnostics.
    pub at: &'a str,
    pub role: Role,
}

/// Declares a registry: an enum of the component types (serde-tagged by `type`, snake_case
/// names), each variant one configuration type implementing `$spec`.
#[macro_export]
macro_rules! component_registry {
    ($(#[$meta:meta])* $name:ident: $spec:path { $($(#[$doc:meta])* $variant:ident => $ty:ty,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(tag = "type", rename_all = "snake_case")]
        pub enum $name {
            $($(#[$doc])* $variant(Box<$ty>),)+
        }

        impl $name {
            /// The component's configuration.
            pub fn spec(&self) -> &dyn $spec {
                match self {
                    $(Self::$variant(spec) => &**spec,)+
                }
            }
        }
    };
}
