//! `vigia inject [FILE|DIR|-]`: adds vigia as a sidecar to the workloads of a manifest
//! stream and prints the result; `--uninject` takes it out. A report goes to stderr.

use crate::cmd::{EXIT_FAILURE, EXIT_INVALID};
use crate::inject::{self, Action, Format, InjectOptions, Mode, Outcome, Resources};
use clap::Args;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
pub struct InjectArgs {
    /// A manifest file (YAML or JSON, multi-document, `kind: List`), a directory of them
    /// (*.yaml, *.yml, *.json, recursively), or `-` for stdin
    #[arg(default_value = "-")]
    pub input: String,
    /// Remove what an earlier `vigia inject` added, and nothing else
    #[arg(long)]
    pub uninject: bool,
    /// native: an init container with restartPolicy Always (Kubernetes ≥ 1.29); legacy: a
    /// regular container (a Job's pod then never completes)
    #[arg(long, value_enum, default_value_t = Mode::Native)]
    pub mode: Mode,
    /// vigia's image [default: this build's, vigia:VERSION-COMMIT]
    #[arg(long)]
    pub image: Option<String>,
    /// Port of vigia's /metrics, /healthz and /readyz
    #[arg(long, default_value_t = 9100)]
    pub admin_port: u16,
    /// Directory the app writes its log files to (*.log are tailed), shared via an emptyDir
    #[arg(long, default_value = "/var/log/app")]
    pub log_path: String,
    /// App containers that get the log volume, comma-separated [default: all]
    #[arg(long, value_delimiter = ',')]
    pub containers: Vec<String>,
    /// A ConfigMap with a `vigia.yaml` key, mounted at /etc/vigia, instead of the image's
    /// sidecar configuration driven by the flags below
    #[arg(long, value_name = "NAME")]
    pub config_map: Option<String>,
    /// Loki's base URL (LOKI_URL) [default: the image configuration's]
    #[arg(long, value_name = "URL")]
    pub loki_endpoint: Option<String>,
    /// Loki tenant (LOKI_TENANT)
    #[arg(long)]
    pub loki_tenant: Option<String>,
    /// The app's Prometheus port, scraped and served again on vigia's [default: the pod's
    /// prometheus.io/port annotation]
    #[arg(long)]
    pub scrape_port: Option<u16>,
    /// The app's metrics path
    #[arg(long, default_value = "/metrics")]
    pub scrape_path: String,
    /// Emit a PodMonitor (Prometheus Operator) per workload instead of prometheus.io
    /// annotations
    #[arg(long)]
    pub pod_monitor: bool,
    #[arg(long, default_value = "25m")]
    pub cpu_request: String,
    #[arg(long, default_value = "32Mi")]
    pub memory_request: String,
    #[arg(long, default_value = "500m")]
    pub cpu_limit: String,
    #[arg(long, default_value = "128Mi")]
    pub memory_limit: String,
    /// sizeLimit of the data_dir emptyDir (checkpoints, disk buffer)
    #[arg(long, default_value = "1Gi")]
    pub data_size_limit: String,
}

impl InjectArgs {
    fn options(&self) -> InjectOptions {
        InjectOptions {
            mode: self.mode,
            image: self.image.clone().unwrap_or_else(inject::default_image),
            admin_port: self.admin_port,
            log_path: self.log_path.clone(),
            containers: self.containers.clone(),
            config_map: self.config_map.clone(),
            loki_endpoint: self.loki_endpoint.clone(),
            loki_tenant: self.loki_tenant.clone(),
            scrape_port: self.scrape_port,
            scrape_path: self.scrape_path.clone(),
            pod_monitor: self.pod_monitor,
            resources: Resources {
                cpu_request: self.cpu_request.clone(),
                memory_request: self.memory_request.clone(),
                cpu_limit: self.cpu_limit.clone(),
                memory_limit: self.memory_limit.clone(),
            },
            data_size_limit: self.data_size_limit.clone(),
        }
    }
}

pub fn execute(args: &InjectArgs) -> u8 {
    let options = args.options();
    let action = if args.uninject {
        Action::Uninject
    } else {
        Action::Inject(&options)
    };
    let inputs = match inputs(&args.input) {
        Ok(inputs) => inputs,
        Err(error) => {
            eprintln!("vigia inject: {error}");
            return EXIT_FAILURE;
        }
    };
    let mut output = String::new();
    let mut counts = Counts::default();
    let many = inputs.len() > 1;
    for (name, bytes) in &inputs {
        let transformed = match inject::transform(bytes, action) {
            Ok(transformed) => transformed,
            Err(error) => {
                eprintln!("vigia inject: {name}: {error}");
                return EXIT_INVALID;
            }
        };
        if !output.is_empty() && transformed.format == Format::Yaml {
            if !output.ends_with('\n') {
                output.push('\n');
            }
            output.push_str("---\n");
        }
        output.push_str(&transformed.output);
        for document in &transformed.report {
            for object in &document.objects {
                let place = if many {
                    format!("{name}: document {}", document.document)
                } else {
                    format!("document {}", document.document)
                };
                counts.report(&place, &object.object, &object.outcome);
            }
        }
    }
    let mut stdout = std::io::stdout().lock();
    if let Err(error) = stdout
        .write_all(output.as_bytes())
        .and_then(|_| stdout.flush())
    {
        eprintln!("vigia inject: cannot write the output: {error}");
        return EXIT_FAILURE;
    }
    eprintln!(
        "vigia inject: {} injected, {} removed, {} skipped, {} unchanged",
        counts.injected, counts.removed, counts.skipped, counts.unchanged
    );
    0
}

#[derive(Default)]
struct Counts {
    injected: usize,
    removed: usize,
    skipped: usize,
    unchanged: usize,
}

impl Counts {
    fn report(&mut self, place: &str, object: &str, outcome: &Outcome) {
        match outcome {
            Outcome::Injected { summary, warnings } => {
                self.injected += 1;
                eprintln!("vigia inject: {place} {object}: injected ({summary})");
                for warning in warnings {
                    eprintln!("vigia inject: {place} {object}: warning: {warning}");
                }
            }
            Outcome::Removed => {
                self.removed += 1;
                eprintln!("vigia inject: {place} {object}: vigia removed");
            }
            Outcome::Skipped(reason) => {
                self.skipped += 1;
                eprintln!("vigia inject: {place} {object}: skipped: {reason}");
            }
            Outcome::Dropped => {
                eprintln!("vigia inject: {place} {object}: generated by an earlier run, dropped");
            }
            Outcome::Unchanged => self.unchanged += 1,
        }
    }
}

/// The inputs, named for the report: one file, a directory's manifests in order, or stdin.
fn inputs(input: &str) -> Result<Vec<(String, Vec<u8>)>, String> {
    if input == "-" {
        return Ok(vec![(
            "stdin".into(),
            read_limited(std::io::stdin().lock(), "stdin")?,
        )]);
    }
    let path = Path::new(input);
    if path.is_dir() {
        let mut files: Vec<PathBuf> = walkdir::WalkDir::new(path)
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_file())
            .map(|e| e.into_path())
            .filter(|p| {
                p.extension()
                    .is_some_and(|e| e == "yaml" || e == "yml" || e == "json")
            })
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(format!("{input}: no *.yaml, *.yml or *.json file"));
        }
        return files
            .iter()
            .map(|file| read_file(file).map(|bytes| (file.display().to_string(), bytes)))
            .collect();
    }
    Ok(vec![(input.to_owned(), read_file(path)?)])
}

fn read_file(path: &Path) -> Result<Vec<u8>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    read_limited(file, &path.display().to_string())
}

/// Reads at most MAX_INPUT_BYTES: a stream that never ends is refused, not buffered.
fn read_limited(reader: impl Read, name: &str) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    reader
        .take(inject::MAX_INPUT_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{name}: {e}"))?;
    if bytes.len() > inject::MAX_INPUT_BYTES {
        return Err(format!(
            "{name}: more than {} MiB of manifests; split the input",
            inject::MAX_INPUT_BYTES >> 20
        ));
    }
    Ok(bytes)
}
