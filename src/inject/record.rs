//! The `vigia.io/injected` annotation: what one injection added to a pod template, so that
//! running `vigia inject` again (with this or a newer vigia) or `--uninject` removes exactly
//! that and nothing of the user's.

use serde::{Deserialize, Serialize};

pub const ANNOTATION: &str = "vigia.io/injected";
/// Set to "false" on a workload or its pod template to keep vigia out.
pub const OPT_OUT: &str = "vigia.io/inject";
/// On objects `vigia inject` generated (a PodMonitor): the workload they belong to.
pub const GENERATED_FOR: &str = "vigia.io/generated-for";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// The vigia that injected.
    pub version: String,
    pub mode: String,
    /// The container added, and the list it is in (`initContainers` or `containers`).
    pub container: String,
    pub list: String,
    /// Volumes added to the pod.
    #[serde(default)]
    pub volumes: Vec<String>,
    /// Mounts added to the app's containers.
    #[serde(default)]
    pub mounts: Vec<AddedMount>,
    /// Annotations set, with the value each had before (None: it was absent).
    #[serde(default)]
    pub annotations: Vec<(String, Option<String>)>,
    /// Keys that did not exist before and were created to hold the additions, as paths
    /// (`spec.initContainers`, `metadata.annotations`, `container:app.volumeMounts`).
    #[serde(default)]
    pub created: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddedMount {
    pub container: String,
    pub volume: String,
    pub path: String,
}

impl Record {
    pub fn to_annotation(&self) -> String {
        serde_json::to_string(self).expect("a record always serializes")
    }

    pub fn from_annotation(text: &str) -> Result<Self, String> {
        serde_json::from_str(text).map_err(|error| {
            format!("the {ANNOTATION} annotation is not one vigia wrote ({error}); remove what it lists by hand, then the annotation")
        })
    }
}
