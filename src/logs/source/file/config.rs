//! The `file` source's configuration: as written, validated into [`FileComponent`], and
//! started on a thread of its own.

use super::FileSourceSettings;
use super::discovery::{Discovery, FollowSymlinks};
use super::tailer::{ReadFrom, TailerSettings};
use crate::logs::frame::ContainerFormat;
use crate::logs::frame::config::{Framing, MultilineSection, default_max_line_bytes};
use crate::logs::parse::Format;
use crate::logs::source::component::{Source, SourceRun, SourceSpec};
use crate::settings::Role;
use crate::settings::ValidationContext;
use crate::settings::diagnostics::Diagnostic;
use crate::settings::duration::HumanDuration;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSource {
    /// Glob patterns of the files to read (`**` matches any number of directories).
    pub include: Vec<String>,
    /// Glob patterns of files not to read, even when included.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Where to start in files found on the source's first start (no checkpoint yet);
    /// defaults by `role`: `beginning` for a sidecar, `end` for a node agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_from: Option<ReadFrom>,
    /// Log format of the lines: auto (detected per line) or one format for every line.
    #[serde(default)]
    pub format: Format,
    /// Container-log framing: auto (per file), cri, docker or raw.
    #[serde(default)]
    pub container: ContainerFormat,
    #[serde(default)]
    pub multiline: MultilineSection,
    #[serde(default = "default_max_line_bytes")]
    pub max_line_bytes: usize,
    /// Files held open at most; more wait, and files read to their end make room.
    #[serde(default = "default_max_open_files")]
    pub max_open_files: usize,
    /// After a rotation, how long the old file keeps being read once at its end.
    #[serde(default = "default_rotate_wait")]
    pub rotate_wait: HumanDuration,
    /// How often the globs are matched again (inotify events also trigger it).
    #[serde(default = "default_discovery_interval")]
    pub discovery_interval: HumanDuration,
    /// How often open files are checked for new data without an inotify event.
    #[serde(default = "default_poll_interval")]
    pub poll_interval: HumanDuration,
    /// How often acknowledged progress is written to the checkpoint; 0s writes on every change.
    #[serde(default = "default_checkpoint_interval")]
    pub checkpoint_interval: HumanDuration,
    /// Which symbolic links to follow: `within_roots` (targets inside an include pattern's
    /// base directory or `symlink_roots`), `always` or `never`.
    #[serde(default)]
    pub follow_symlinks: FollowSymlinks,
    /// Directories links may point into besides the include roots (`/var/log/pods` for the
    /// links in `/var/log/containers`).
    #[serde(default)]
    pub symlink_roots: Vec<String>,
}

fn default_max_open_files() -> usize {
    1024
}

fn default_rotate_wait() -> HumanDuration {
    HumanDuration::from_secs(10)
}

fn default_discovery_interval() -> HumanDuration {
    HumanDuration::from_secs(1)
}

fn default_poll_interval() -> HumanDuration {
    HumanDuration::from_millis(250)
}

fn default_checkpoint_interval() -> HumanDuration {
    HumanDuration::from_secs(1)
}

impl SourceSpec for FileSource {
    fn validate(
        &self,
        cx: &ValidationContext<'_>,
        problems: &mut Vec<Diagnostic>,
    ) -> Arc<dyn Source> {
        let path = cx.at;
        let framing = Framing::validate(
            path,
            self.max_line_bytes,
            self.format,
            self.container,
            &self.multiline,
            problems,
        );
        if self.include.is_empty() {
            problems.push(Diagnostic::new(
                format!("{path}.include"),
                "at least one glob pattern is required",
            ));
        }
        for (field, patterns) in [("include", &self.include), ("exclude", &self.exclude)] {
            for (index, pattern) in patterns.iter().enumerate() {
                if let Err(error) = Discovery::new(std::slice::from_ref(pattern), &[]) {
                    problems.push(Diagnostic::new(
                        format!("{path}.{field}[{index}]"),
                        format!("invalid glob `{pattern}`: {}", error.kind()),
                    ));
                }
            }
        }
        if !(1..=1_000_000).contains(&self.max_open_files) {
            problems.push(Diagnostic::new(
                format!("{path}.max_open_files"),
                format!("must be between 1 and 1000000, got {}", self.max_open_files),
            ));
        }
        for (field, value) in [
            ("discovery_interval", self.discovery_interval),
            ("poll_interval", self.poll_interval),
        ] {
            if value.0.is_zero() || value.0 > Duration::from_secs(3600) {
                problems.push(Diagnostic::new(
                    format!("{path}.{field}"),
                    format!("must be between 1ms and 1h, got {value}"),
                ));
            }
        }
        if self.checkpoint_interval.0 > Duration::from_secs(3600) {
            problems.push(Diagnostic::new(
                format!("{path}.checkpoint_interval"),
                format!("must be at most 1h, got {}", self.checkpoint_interval),
            ));
        }
        let default_read_from = match cx.role {
            Role::Sidecar => ReadFrom::Beginning,
            Role::NodeAgent => ReadFrom::End,
        };
        Arc::new(FileComponent {
            include: self.include.clone(),
            exclude: self.exclude.clone(),
            read_from: self.read_from.unwrap_or(default_read_from),
            framing,
            max_open_files: self.max_open_files,
            rotate_wait: self.rotate_wait.0,
            discovery_interval: self.discovery_interval.0,
            poll_interval: self.poll_interval.0,
            checkpoint_interval: self.checkpoint_interval.0,
            follow_symlinks: self.follow_symlinks,
            symlink_roots: self.symlink_roots.iter().map(PathBuf::from).collect(),
        })
    }
}

/// A validated `file` source.
#[derive(Debug, Clone)]
pub struct FileComponent {
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    pub read_from: ReadFrom,
    pub framing: Framing,
    pub max_open_files: usize,
    pub rotate_wait: Duration,
    pub discovery_interval: Duration,
    pub poll_interval: Duration,
    pub checkpoint_interval: Duration,
    pub follow_symlinks: FollowSymlinks,
    pub symlink_roots: Vec<PathBuf>,
}

impl FileComponent {
    /// The source's run-time settings.
    pub fn settings(&self, run: &SourceRun) -> FileSourceSettings {
        FileSourceSettings {
            tailer: TailerSettings {
                source_id: run.context.id.clone(),
                include: self.include.clone(),
                exclude: self.exclude.clone(),
                read_from: self.read_from,
                container: self.framing.container,
                multiline: self.framing.multiline.clone(),
                max_line_bytes: self.framing.max_line_bytes,
                max_open_files: self.max_open_files,
                rotate_wait: self.rotate_wait,
                batch_max_events: run.context.batch_max_events,
                read_budget_bytes: 256 * 1024,
                follow_symlinks: self.follow_symlinks,
                symlink_roots: self.symlink_roots.clone(),
            },
            data_dir: run.data_dir.clone(),
            discovery_interval: self.discovery_interval,
            poll_interval: self.poll_interval,
            checkpoint_interval: self.checkpoint_interval,
            // Half the grace period to read the files to their end, half to deliver it.
            shutdown_read: run.grace_period / 2,
            durable: run.durable.clone(),
        }
    }
}

impl Source for FileComponent {
    fn format(&self) -> Format {
        self.framing.format
    }

    fn spawn(&self, run: SourceRun, tasks: &mut JoinSet<u64>) {
        let settings = self.settings(&run);
        // File reads block: the source runs on a thread of the blocking pool.
        tasks.spawn_blocking(move || super::run_blocking(run.context, settings, run.out, run.stop));
    }
}
