//! What `vigia inject` adds, as the command line sets it.

/// How vigia runs next to the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// An init container with `restartPolicy: Always` (Kubernetes ≥ 1.29): started before the
    /// app, stopped after it, never keeps a Job from completing.
    Native,
    /// A regular container, for clusters before 1.29. A Job's pod does not complete while it
    /// runs.
    Legacy,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Native => "native",
            Mode::Legacy => "legacy",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Resources {
    pub cpu_request: String,
    pub memory_request: String,
    pub cpu_limit: String,
    pub memory_limit: String,
}

impl Default for Resources {
    fn default() -> Self {
        Self {
            cpu_request: "25m".into(),
            memory_request: "32Mi".into(),
            cpu_limit: "500m".into(),
            memory_limit: "128Mi".into(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct InjectOptions {
    pub mode: Mode,
    pub image: String,
    /// vigia's `/metrics`, `/healthz` and `/readyz`.
    pub admin_port: u16,
    /// Where the app writes its log files; shared through an `emptyDir`.
    pub log_path: String,
    /// The app containers that get the log volume (empty: all of them).
    pub containers: Vec<String>,
    /// A ConfigMap holding `vigia.yaml`, instead of the image's sidecar configuration.
    pub config_map: Option<String>,
    pub loki_endpoint: Option<String>,
    pub loki_tenant: Option<String>,
    /// The app's own Prometheus port; by default taken from its `prometheus.io/port`.
    pub scrape_port: Option<u16>,
    pub scrape_path: String,
    /// A PodMonitor per workload instead of `prometheus.io/*` annotations.
    pub pod_monitor: bool,
    pub resources: Resources,
    /// `sizeLimit` of the `data_dir` volume (checkpoints and the disk buffer).
    pub data_size_limit: String,
}

impl Default for InjectOptions {
    fn default() -> Self {
        Self {
            mode: Mode::Native,
            image: default_image(),
            admin_port: 9100,
            log_path: "/var/log/app".into(),
            containers: Vec::new(),
            config_map: None,
            loki_endpoint: None,
            loki_tenant: None,
            scrape_port: None,
            scrape_path: "/metrics".into(),
            pod_monitor: false,
            resources: Resources::default(),
            data_size_limit: "1Gi".into(),
        }
    }
}

/// The image this binary was built into, tagged as the Dockerfile tags it.
pub fn default_image() -> String {
    let commit = crate::build_info::GIT_COMMIT;
    if commit.is_empty() || commit == "unknown" {
        format!("vigia:{}", crate::build_info::VERSION)
    } else {
        format!("vigia:{}-{commit}", crate::build_info::VERSION)
    }
}
