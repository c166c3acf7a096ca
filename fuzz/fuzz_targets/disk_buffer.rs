//! Whatever a crash, a full disk or a hostile neighbour leaves in a disk buffer's directory
//! (a segment after its magic, the positions file): reading the recorded positions and
//! opening the buffer recover what is whole and skip the rest, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigia::sink::delivery::config::DiskSync;
use vigia::sink::delivery::disk::frame;
use vigia::sink::delivery::disk::{DiskBuffer, Positions};
use vigia::telemetry::delivery::{DeliveryFamilies, Naming};

fuzz_target!(|data: &[u8]| {
    let _ = frame::parse(data);
    let dir = tempfile::tempdir().unwrap();
    let (segment, positions) = data.split_at(data.len() / 2);
    let mut bytes = b"vigia-wal-1\n".to_vec();
    bytes.extend_from_slice(segment);
    std::fs::write(dir.path().join("segment-00000000000000000001.wal"), &bytes).unwrap();
    std::fs::write(dir.path().join("positions"), positions).unwrap();
    let found = Positions::read(dir.path());
    let naming = Naming {
        prefix: "fuzz",
        items: "lines",
        peer: "nobody",
        drop_reasons: "none",
    };
    let metrics = DeliveryFamilies::register(&prometheus::Registry::new(), naming).for_sink("fuzz");
    let _ = DiskBuffer::open(dir.path(), 64 << 20, DiskSync::Normal, metrics, found);
});
