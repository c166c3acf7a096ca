//! `vigia run`: load the configuration (or the embedded default), start the runtime, run the
//! pipeline until input ends or a signal arrives.

use super::{EXIT_FAILURE, EXIT_INVALID};
use crate::app;
use crate::config;
use crate::telemetry::logging::{self, LogFormat};
use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Configuration file (YAML). Without it, the embedded default runs.
    #[arg(long, short, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Listen address of the admin server, overriding admin.listen (port 0 picks a free port).
    #[arg(long, value_name = "ADDR")]
    pub admin_listen: Option<SocketAddr>,
    /// Runtime worker threads (default: the number of CPUs, at most 4).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub worker_threads: Option<u16>,
}

/// The default is small on purpose: a sidecar runs once per pod.
const MAX_DEFAULT_WORKERS: usize = 4;

pub fn execute(args: RunArgs, log_level: Option<&str>) -> u8 {
    if let Err(error) = logging::init(log_level, LogFormat::detect()) {
        eprintln!("error: {error}");
        return EXIT_INVALID;
    }
    let loaded = match &args.config {
        Some(path) => match config::load_file(path) {
            Ok(loaded) => loaded,
            Err(error) => {
                eprintln!("{error}");
                eprintln!(
                    "{}: refusing to run with an invalid configuration",
                    path.display()
                );
                return EXIT_INVALID;
            }
        },
        None => config::embedded_default(),
    };
    let config = loaded.config;
    let admin_listen = args.admin_listen.unwrap_or(config.admin.listen);
    let workers = args.worker_threads.map(usize::from).unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get().min(MAX_DEFAULT_WORKERS))
            .unwrap_or(1)
    });
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name("vigia-worker")
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return EXIT_FAILURE;
        }
    };
    tracing::info!(
        version = crate::build_info::VERSION,
        commit = crate::build_info::GIT_COMMIT,
        config = %args.config.as_ref().map_or("<embedded default>".to_owned(), |p| p.display().to_string()),
        "vigia starting"
    );
    let result = runtime.block_on(async {
        let signals = crate::shutdown::listen()?;
        app::run(config, admin_listen, signals).await
    });
    // The stdin reader may still be blocked in read(); do not wait for it.
    runtime.shutdown_background();
    match result {
        Ok(outcome) => outcome.exit_code(),
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "vigia failed");
            EXIT_FAILURE
        }
    }
}
