//! Any bytes as a file source's checkpoint (and as its previous generation): loading
//! falls back or resets with a reason, never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigia::logs::source::file::checkpoint::CheckpointStore;

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().unwrap();
    let checkpoints = dir.path().join("checkpoints");
    std::fs::create_dir_all(&checkpoints).unwrap();
    let (current, previous) = data.split_at(data.len() / 2);
    std::fs::write(checkpoints.join("app.json"), current).unwrap();
    std::fs::write(checkpoints.join("app.json.prev"), previous).unwrap();
    let _ = CheckpointStore::new(dir.path(), "app").load();
});
