//! The `stdin` source's configuration: the framing of the process's standard input.

use crate::logs::frame::ContainerFormat;
use crate::logs::frame::config::{Framing, MultilineSection, default_max_line_bytes};
use crate::logs::parse::Format;
use crate::logs::source::component::{Source, SourceRun, SourceSpec};
use crate::settings::ValidationContext;
use crate::settings::diagnostics::Diagnostic;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tokio::task::JoinSet;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StdinSource {
    /// Longer lines are cut at this size and marked as truncated.
    #[serde(default = "default_max_line_bytes")]
    pub max_line_bytes: usize,
    /// Log format of the lines: auto (detected per line) or one format for every line.
    #[serde(default)]
    pub format: Format,
    /// Container-log framing of the input: auto, cri, docker or raw.
    #[serde(default)]
    pub container: ContainerFormat,
    #[serde(default)]
    pub multiline: MultilineSection,
}

impl Default for StdinSource {
    fn default() -> Self {
        Self {
            max_line_bytes: default_max_line_bytes(),
            format: Format::default(),
            container: ContainerFormat::default(),
            multiline: MultilineSection::default(),
        }
    }
}

impl SourceSpec for StdinSource {
    fn validate(
        &self,
        cx: &ValidationContext<'_>,
        problems: &mut Vec<Diagnostic>,
    ) -> Arc<dyn Source> {
        Arc::new(StdinComponent {
            framing: Framing::validate(
                cx.at,
                self.max_line_bytes,
                self.format,
                self.container,
                &self.multiline,
                problems,
            ),
        })
    }
}

/// A validated `stdin` source.
#[derive(Debug, Clone)]
pub struct StdinComponent {
    pub framing: Framing,
}

impl Source for StdinComponent {
    fn format(&self) -> Format {
        self.framing.format
    }

    fn reads_stdin(&self) -> bool {
        true
    }

    fn spawn(&self, run: SourceRun, tasks: &mut JoinSet<u64>) {
        tasks.spawn(super::run(
            run.context,
            std::io::stdin(),
            self.framing.clone(),
            run.out,
            run.stop,
        ));
    }
}
