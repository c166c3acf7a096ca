use super::frame::Frame;
use super::*;
use crate::telemetry::delivery::{DeliveryFamilies, Naming};
use std::io::Write;
use std::time::Duration;

fn metrics() -> DeliveryMetrics {
    let naming = Naming {
        prefix: "test",
        items: "lines",
        peer: "the receiver",
        drop_reasons: "none",
    };
    DeliveryFamilies::register(&prometheus::Registry::new(), naming).for_sink("loki")
}

fn open(dir: &Path, max_bytes: u64) -> (DiskWriter, DiskReader, Recovered) {
    DiskBuffer::open(
        dir,
        max_bytes,
        DiskSync::Normal,
        metrics(),
        Positions::read(dir),
    )
    .unwrap()
}

/// A frame whose body says which request it is.
fn request(n: u32, body_bytes: usize) -> Vec<u8> {
    let mut body = format!("request {n} ").into_bytes();
    body.resize(body_bytes.max(body.len()), b'.');
    Frame {
        lines: 10,
        line_bytes: 2000,
        encoding: 1,
        positions: Vec::new(),
        body,
    }
    .encode()
}

/// A frame that moves source `app`'s file to offset `n × 100`.
fn request_at(n: u32, file: &Path) -> Vec<u8> {
    let position = crate::logs::pipeline::ReadPosition {
        source: "app".to_owned(),
        entry: crate::logs::source::file::checkpoint::CheckpointEntry {
            key: crate::logs::source::file::identity::FileKey { dev: 1, ino: 7 },
            fingerprint: crate::logs::source::file::identity::Fingerprint { len: 9, crc: 3 },
            offset: u64::from(n) * 100,
            path: file.to_owned(),
            name: None,
        },
    };
    Frame {
        lines: 10,
        line_bytes: 2000,
        encoding: 1,
        positions: serde_json::to_vec(&[position]).unwrap(),
        body: format!("request {n} ").into_bytes(),
    }
    .encode()
}

/// Reads the next frame and acknowledges it, as the deliverer does once Loki took it.
async fn deliver_next(reader: DiskReader) -> DiskReader {
    let (reader, frame) = read_now(reader).await;
    let frame = frame.unwrap();
    reader.buffer().acknowledge(
        frame.end,
        frame.frame_bytes,
        u64::from(frame.lines),
        &frame.positions,
    );
    reader
}

#[tokio::test]
async fn the_newest_read_position_outlives_delivery_and_segment_deletion() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    std::fs::write(&log, b"x\n").unwrap();
    let offset = |dir: &Path| {
        Positions::read(dir)
            .of_source("app")
            .first()
            .map(|p| p.entry.offset)
    };
    {
        let (mut writer, mut reader, _) = open(dir.path(), 4 << 20);
        for n in 1..=3 {
            writer.append(&request_at(n, &log), 10).unwrap();
        }
        // Delivered: the first two. Undelivered: the third, whose position is newest.
        for _ in 0..2 {
            reader = deliver_next(reader).await;
        }
    }
    assert_eq!(offset(dir.path()), Some(300), "from the frames on disk");
    {
        // Everything delivered and the segments deleted: the positions file keeps it.
        let (writer, reader, recovered) = open(dir.path(), 4 << 20);
        assert_eq!(recovered.frames, 1);
        writer.finish();
        deliver_next(reader).await;
    }
    let (_writer, _reader, recovered) = open(dir.path(), 4 << 20);
    assert_eq!(recovered.frames, 0);
    assert_eq!(segments(dir.path()), 0, "delivered segments are deleted");
    assert_eq!(offset(dir.path()), Some(300));
}

fn number(frame: &StoredFrame) -> u32 {
    let text = std::str::from_utf8(&frame.body).unwrap();
    text.split(' ').nth(1).unwrap().parse().unwrap()
}

async fn read_now(reader: DiskReader) -> (DiskReader, Option<StoredFrame>) {
    tokio::time::timeout(Duration::from_secs(5), reader.next())
        .await
        .expect("a frame is there to read")
}

fn segments(dir: &Path) -> usize {
    segment_files(dir).unwrap().len()
}

#[tokio::test]
async fn frames_come_back_in_order_and_delivered_segments_are_deleted() {
    let dir = tempfile::tempdir().unwrap();
    // A 4 MiB cap makes 1 MiB segments: 300 KiB requests roll every three.
    let (mut writer, mut reader, recovered) = open(dir.path(), 4 << 20);
    assert_eq!(recovered, Recovered::default());
    for n in 0..8 {
        writer.append(&request(n, 300 << 10), 10).unwrap();
    }
    assert!(segments(dir.path()) >= 3, "rolled into several segments");
    let mut read = Vec::new();
    for _ in 0..8 {
        let (returned, frame) = read_now(reader).await;
        reader = returned;
        read.push(frame.unwrap());
    }
    assert_eq!(
        read.iter().map(number).collect::<Vec<_>>(),
        (0..8).collect::<Vec<_>>()
    );
    let buffer = reader.buffer().clone();
    for frame in &read {
        buffer.acknowledge(
            frame.end,
            frame.frame_bytes,
            u64::from(frame.lines),
            &frame.positions,
        );
    }
    assert_eq!(
        segments(dir.path()),
        1,
        "only the segment being written is left"
    );
    assert_eq!(buffer.lock().unacked_bytes, 0);
    assert_eq!(buffer.metrics.disk_items.get(), 0);
    writer.finish();
    let (_, end) = read_now(reader).await;
    assert!(
        end.is_none(),
        "a finished writer, everything read: the reader is done"
    );
}

#[tokio::test]
async fn a_restart_sends_again_what_was_not_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (mut writer, mut reader, _) = open(dir.path(), 64 << 20);
        for n in 0..5 {
            writer.append(&request(n, 100), 10).unwrap();
        }
        // Two read and delivered, one read and in flight when the process dies.
        for _ in 0..3 {
            let (returned, frame) = read_now(reader).await;
            reader = returned;
            let frame = frame.unwrap();
            if number(&frame) < 2 {
                reader.buffer().acknowledge(
                    frame.end,
                    frame.frame_bytes,
                    u64::from(frame.lines),
                    &frame.positions,
                );
            }
        }
    }
    let (writer, mut reader, recovered) = open(dir.path(), 64 << 20);
    assert_eq!((recovered.frames, recovered.lines), (3, 30));
    assert_eq!(recovered.corrupted_bytes, 0);
    assert_eq!(reader.buffer().metrics.disk_items.get(), 30);
    writer.finish();
    let mut again = Vec::new();
    loop {
        let (returned, frame) = read_now(reader).await;
        reader = returned;
        match frame {
            Some(frame) => again.push(number(&frame)),
            None => break,
        }
    }
    assert_eq!(again, vec![2, 3, 4]);
}

#[tokio::test]
async fn a_frame_cut_short_by_a_crash_is_skipped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (mut writer, _, _) = open(dir.path(), 64 << 20);
        writer.append(&request(0, 100), 10).unwrap();
        writer.append(&request(1, 100), 10).unwrap();
    }
    let (_, path) = segment_files(dir.path()).unwrap().pop().unwrap();
    let torn = request(2, 100);
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    file.write_all(&torn[..torn.len() / 2]).unwrap();
    drop(file);

    let (writer, mut reader, recovered) = open(dir.path(), 64 << 20);
    assert_eq!(recovered.frames, 2);
    assert_eq!(recovered.corrupted_bytes, (torn.len() / 2) as u64);
    assert_eq!(
        reader.buffer().metrics.corrupted_bytes.get(),
        (torn.len() / 2) as u64
    );
    writer.finish();
    let mut read = Vec::new();
    while let (returned, Some(frame)) = read_now(reader).await {
        reader = returned;
        read.push(number(&frame));
    }
    assert_eq!(read, vec![0, 1]);
}

#[tokio::test]
async fn a_corrupt_frame_ends_its_segment_but_not_the_next_ones() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (mut writer, _, _) = open(dir.path(), 4 << 20);
        for n in 0..6 {
            writer.append(&request(n, 400 << 10), 10).unwrap();
        }
    }
    let (_, first) = segment_files(dir.path()).unwrap().remove(0);
    let mut bytes = std::fs::read(&first).unwrap();
    let flip = MAGIC.len() + frame::HEADER_BYTES + 100;
    bytes[flip] ^= 0xff;
    std::fs::write(&first, bytes).unwrap();

    let (writer, mut reader, recovered) = open(dir.path(), 4 << 20);
    assert!(recovered.corrupted_bytes > 400 << 10);
    writer.finish();
    let mut read = Vec::new();
    while let (returned, Some(frame)) = read_now(reader).await {
        reader = returned;
        read.push(number(&frame));
    }
    assert!(!read.is_empty() && !read.contains(&0), "{read:?}");
    assert_eq!(*read.last().unwrap(), 5);
}

#[tokio::test]
async fn a_full_disk_buffer_makes_the_writer_wait_for_deliveries() {
    let dir = tempfile::tempdir().unwrap();
    let (mut writer, reader, _) = open(dir.path(), 4 << 20);
    let big = request(0, 1 << 20);
    for _ in 0..3 {
        writer.wait_for_room(big.len() as u64).await;
        writer.append(&big, 10).unwrap();
    }
    let blocked = tokio::time::timeout(
        Duration::from_millis(200),
        writer.wait_for_room(big.len() as u64),
    )
    .await;
    assert!(
        blocked.is_err(),
        "a fourth MiB does not fit under a 4 MiB cap"
    );
    let (reader, frame) = read_now(reader).await;
    let frame = frame.unwrap();
    let buffer = reader.buffer().clone();
    let waiting = tokio::spawn(async move {
        writer.wait_for_room(big.len() as u64).await;
        writer
    });
    buffer.acknowledge(
        frame.end,
        frame.frame_bytes,
        u64::from(frame.lines),
        &frame.positions,
    );
    tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("room once a request was delivered")
        .unwrap();
}

#[tokio::test]
async fn a_reader_waits_for_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let (mut writer, reader, _) = open(dir.path(), 64 << 20);
    let reading = tokio::spawn(reader.next());
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!reading.is_finished());
    writer.append(&request(7, 10), 10).unwrap();
    let (_, frame) = tokio::time::timeout(Duration::from_secs(5), reading)
        .await
        .expect("woken by the write")
        .unwrap();
    assert_eq!(number(&frame.unwrap()), 7);
}
