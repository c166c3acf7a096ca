//! Level and event time on logs as 25 real systems write them (tests/data/realworld/*.tsv: the
//! expected level and time of every line, by hand). Each system's lines go through `vigia
//! parse` as a user would run it; the accuracy per system and the precision of each keyword
//! rule are printed, and docs/benchmarks.md keeps the table.
//!
//! Expected levels: the severity the writer gave the line where it is written (a token, a
//! priority, a marker, sshd's `error:`); where none is written, what a reader takes from the
//! words: `error` for a line that reports that something failed, `warn` for one that warns,
//! `unknown` for the rest. Expected times: the line's own time, in UTC (zoneless times are
//! UTC; year-less dates take the year that is not in the future of `--now`).

use crate::support::agent::vigia;
use crate::support::data;
use std::collections::BTreeMap;
use std::io::Write;
use std::process::Stdio;

const NOW: &str = "2024-06-01T00:00:00Z";

struct Expected {
    level: String,
    time: Option<String>,
    line: String,
}

fn corpus() -> BTreeMap<String, Vec<Expected>> {
    let mut systems = BTreeMap::new();
    for entry in std::fs::read_dir(data("realworld")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_str().unwrap().to_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines = text
            .lines()
            .filter(|line| !line.starts_with('#') && !line.is_empty())
            .map(|row| {
                let mut parts = row.splitn(3, '\t');
                let (level, time, line) = (
                    parts.next().unwrap(),
                    parts.next().unwrap(),
                    parts
                        .next()
                        .unwrap_or_else(|| panic!("{name}: bad row {row:?}")),
                );
                Expected {
                    level: level.to_owned(),
                    time: (time != "-").then(|| time.to_owned()),
                    line: line.to_owned(),
                }
            })
            .collect();
        systems.insert(name, lines);
    }
    systems
}

fn parse_lines(lines: &[Expected]) -> Vec<serde_json::Value> {
    let mut child = vigia()
        .args(["parse", "--now", NOW, "--multiline", "none", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = String::new();
    for expected in lines {
        input.push_str(&expected.line);
        input.push('\n');
    }
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[derive(Default)]
struct Score {
    lines: usize,
    level_right: usize,
    /// A level where the line has none.
    wrong_guesses: usize,
    /// `unknown` where the line has a level.
    missed: usize,
    timed_lines: usize,
    time_right: usize,
    /// A time claimed for a line that has none.
    invented_times: usize,
}

#[test]
fn levels_and_times_of_real_systems_logs() {
    let systems = corpus();
    assert!(systems.len() >= 20, "at least 20 systems");
    let mut total = Score::default();
    let mut rules: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut table =
        String::from("system          lines  level   time   wrong guesses  missed levels\n");
    let mut misses = Vec::new();
    for (name, lines) in &systems {
        let records = parse_lines(lines);
        assert_eq!(records.len(), lines.len(), "{name}: one record per line");
        let mut score = Score::default();
        for (expected, record) in lines.iter().zip(&records) {
            score.lines += 1;
            let level = record["level"].as_str().unwrap();
            if level == expected.level {
                score.level_right += 1;
            } else {
                if expected.level == "unknown" {
                    score.wrong_guesses += 1;
                } else if level == "unknown" {
                    score.missed += 1;
                }
                misses.push(format!(
                    "{name}: level {level}, expected {}: {}",
                    expected.level, expected.line
                ));
            }
            if let Some(rule) = record["source"]["level_rule"].as_str() {
                let counts = rules.entry(rule.to_owned()).or_default();
                counts.1 += 1;
                counts.0 += usize::from(level == expected.level);
            }
            let origin = record["source"]["ts_origin"].as_str().unwrap();
            let time = &record["ts"].as_str().unwrap()[..19];
            match &expected.time {
                Some(expected_time) => {
                    score.timed_lines += 1;
                    if origin == "event" && time == &expected_time[..19] {
                        score.time_right += 1;
                    } else {
                        misses.push(format!(
                            "{name}: time {time} ({origin}), expected {expected_time}: {}",
                            expected.line
                        ));
                    }
                }
                None if origin == "event" => {
                    score.invented_times += 1;
                    misses.push(format!(
                        "{name}: time {time} for a line without one: {}",
                        expected.line
                    ));
                }
                None => {}
            }
        }
        table.push_str(&format!(
            "{name:<15} {:>5}  {:>5.1}%  {:>5.1}%  {:>13}  {:>13}\n",
            score.lines,
            percent(score.level_right, score.lines),
            percent(score.time_right, score.timed_lines),
            score.wrong_guesses,
            score.missed,
        ));
        total.lines += score.lines;
        total.level_right += score.level_right;
        total.wrong_guesses += score.wrong_guesses;
        total.missed += score.missed;
        total.timed_lines += score.timed_lines;
        total.time_right += score.time_right;
        total.invented_times += score.invented_times;
    }
    let level_accuracy = percent(total.level_right, total.lines);
    let time_accuracy = percent(total.time_right, total.timed_lines);
    table.push_str(&format!(
        "{:<15} {:>5}  {:>5.1}%  {:>5.1}%  {:>13}  {:>13}\n",
        "all", total.lines, level_accuracy, time_accuracy, total.wrong_guesses, total.missed
    ));
    table.push_str("\nkeyword rule    levels set  right  precision\n");
    for (rule, (right, set)) in &rules {
        table.push_str(&format!(
            "{rule:<15} {set:>10}  {right:>5}  {:>8.1}%\n",
            percent(*right, *set)
        ));
    }
    eprintln!("{table}\nwrong:\n{}", misses.join("\n"));
    assert_eq!(
        total.invented_times, 0,
        "no line gets a time it does not have"
    );
    assert!(
        level_accuracy >= 98.0,
        "levels right on {level_accuracy:.1} % of lines"
    );
    assert!(
        time_accuracy >= 95.0,
        "own time on {time_accuracy:.1} % of the lines that have one"
    );
}

fn percent(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        100.0
    } else {
        100.0 * part as f64 / whole as f64
    }
}
