//! The top-level modules form layers: no two import each other, directly or through others.
//! (`settings` at the bottom, then `telemetry`, `latency`, `metrics`, `logs`, `sink`, then
//! `config` which assembles the components, then `app`, `cmd`, `cli`.)

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Each top-level module's `crate::<module>` references to other top-level modules.
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let tops: BTreeSet<String> = std::fs::read_dir(&src)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter_map(|p| Some(p.file_stem()?.to_str()?.to_owned()))
        .filter(|name| name != "lib" && name != "main")
        .collect();
    let mut imports: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for top in &tops {
        let file = src.join(format!("{top}.rs"));
        let paths: Vec<std::path::PathBuf> = if file.exists() {
            vec![file]
        } else {
            walkdir::WalkDir::new(src.join(top))
                .into_iter()
                .map(|e| e.unwrap().into_path())
                .filter(|p| p.extension().is_some_and(|e| e == "rs"))
                .collect()
        };
        let entry = imports.entry(top.clone()).or_default();
        for path in paths {
            let text = std::fs::read_to_string(&path).unwrap();
            for (at, _) in text.match_indices("crate::") {
                let name: String = text[at + 7..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if tops.contains(&name) && &name != top {
                    entry.insert(name);
                }
            }
        }
    }
    imports
}

#[test]
fn no_two_top_level_modules_import_each_other_even_through_others() {
    let imports = imports();
    assert!(imports.len() >= 10, "{imports:?}");
    for start in imports.keys() {
        // Everything `start` reaches; reaching itself is a cycle.
        let mut seen = BTreeSet::new();
        let mut todo: Vec<(String, Vec<String>)> = vec![(start.clone(), vec![start.clone()])];
        while let Some((module, path)) = todo.pop() {
            for next in imports.get(&module).into_iter().flatten() {
                let mut through = path.clone();
                through.push(next.clone());
                assert!(next != start, "import cycle: {}", through.join(" → "));
                if seen.insert(next.clone()) {
                    todo.push((next.clone(), through));
                }
            }
        }
    }
    // The bottom layer depends on nothing of the crate.
    assert!(imports["settings"].is_empty(), "{:?}", imports["settings"]);
}
