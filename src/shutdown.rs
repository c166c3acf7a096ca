//! Signals: the first SIGTERM or SIGINT asks for a graceful shutdown (stop reading, flush
//! what is in flight within the grace period); a second one exits at once.

use tokio::sync::mpsc;

/// Exit code when a second signal cuts the drain short (128 + SIGINT, as shells do).
pub const FORCED_EXIT_CODE: i32 = 130;

/// A stream of received signal names. Installing the handlers can fail only when the
/// process cannot register signal handlers at all, which is reported.
pub fn listen() -> std::io::Result<mpsc::Receiver<&'static str>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    let (tx, rx) = mpsc::channel(4);
    tokio::spawn(async move {
        loop {
            let name = tokio::select! {
                Some(()) = terminate.recv() => "SIGTERM",
                Some(()) = interrupt.recv() => "SIGINT",
                else => return,
            };
            if tx.send(name).await.is_err() {
                return;
            }
        }
    });
    Ok(rx)
}
