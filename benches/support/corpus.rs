//! The benchmark corpora's JSON line: zap-style, 8 fields, 200 bytes with its newline-less
//! body (padding in `note`).

pub fn pad(mut line: String, target: usize) -> String {
    while line.len() < target {
        line.push('x');
    }
    line
}

/// Line `i`, on `date` (`YYYY-MM-DD`).
pub fn json_line_on(date: &str, i: usize) -> String {
    let head = format!(
        r#"{{"level":"info","ts":"{date}T10:00:{:02}.{:03}Z","logger":"orders","msg":"order placed","order_id":{},"customer":"c-{}","amount":{}.{:02},"note":""#,
        i % 60,
        i % 1000,
        100_000 + i,
        i % 977,
        i % 500,
        i % 100
    );
    let line = pad(head, 198);
    format!("{line}\"}}")
}
