//! Which files a source reads: include globs (with `**`) minus exclude globs, found by walking
//! from each include pattern's literal base directory.

use globset::{Glob, GlobSet, GlobSetBuilder};
use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Discovery {
    include: GlobSet,
    exclude: GlobSet,
    bases: Vec<(PathBuf, usize)>,
}

/// How deep below a base directory `**` may reach: bounds the walk on odd trees.
const MAX_DEPTH: usize = 16;

impl Discovery {
    pub fn new(include: &[String], exclude: &[String]) -> Result<Self, globset::Error> {
        let mut include_set = GlobSetBuilder::new();
        let mut bases = Vec::new();
        for pattern in include {
            include_set.add(glob(pattern)?);
            let (base, depth) = literal_base(pattern);
            bases.push((base, depth));
        }
        let mut exclude_set = GlobSetBuilder::new();
        for pattern in exclude {
            exclude_set.add(glob(pattern)?);
        }
        Ok(Self {
            include: include_set.build()?,
            exclude: exclude_set.build()?,
            bases,
        })
    }

    /// Directories to watch for changes (each include pattern's base).
    pub fn base_dirs(&self) -> impl Iterator<Item = &Path> {
        self.bases.iter().map(|(base, _)| base.as_path())
    }

    pub fn matches(&self, path: &Path) -> bool {
        self.include.is_match(path) && !self.exclude.is_match(path)
    }

    /// Every regular file (following symlinks) that matches now, in a stable order.
    pub fn scan(&self) -> BTreeSet<PathBuf> {
        let mut found = BTreeSet::new();
        for (base, depth) in &self.bases {
            let walker = walkdir::WalkDir::new(base)
                .follow_links(true)
                .max_depth(*depth)
                .into_iter()
                .filter_map(Result::ok);
            for entry in walker {
                if entry.file_type().is_file() && self.matches(entry.path()) {
                    found.insert(entry.into_path());
                }
            }
        }
        found
    }
}

fn glob(pattern: &str) -> Result<Glob, globset::Error> {
    globset::GlobBuilder::new(pattern)
        .literal_separator(true)
        .build()
}

/// The directory before the first glob character, and how deep below it the pattern reaches.
fn literal_base(pattern: &str) -> (PathBuf, usize) {
    let path = Path::new(pattern);
    let mut base = PathBuf::new();
    let mut rest = 0;
    let mut in_glob = false;
    let mut recursive = false;
    for component in path.components() {
        let text = component.as_os_str().to_string_lossy();
        let is_glob = text.contains(['*', '?', '[', '{']);
        if in_glob || is_glob {
            in_glob = true;
            rest += 1;
            recursive |= text == "**";
        } else if !matches!(component, Component::CurDir) {
            base.push(component);
        }
    }
    if !in_glob {
        // A plain file name: watch its directory.
        let parent = base.parent().map(Path::to_path_buf).unwrap_or_default();
        return (
            if parent.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                parent
            },
            1,
        );
    }
    if base.as_os_str().is_empty() {
        base.push(".");
    }
    (base, if recursive { MAX_DEPTH } else { rest })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bases_and_depths() {
        assert_eq!(
            literal_base("/var/log/pods/**/*.log"),
            (PathBuf::from("/var/log/pods"), MAX_DEPTH)
        );
        assert_eq!(
            literal_base("/var/log/app/*.log"),
            (PathBuf::from("/var/log/app"), 1)
        );
        assert_eq!(
            literal_base("/var/log/app/app.log"),
            (PathBuf::from("/var/log/app"), 1)
        );
        assert_eq!(literal_base("logs/*/x.log"), (PathBuf::from("logs"), 2));
    }

    #[test]
    fn scans_with_recursive_globs_and_excludes() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for file in [
            "a/app.log",
            "a/b/c/deep.log",
            "a/app.log.gz",
            "a/b/skip.log",
            "other.txt",
        ] {
            let path = root.join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, b"x\n").unwrap();
        }
        let discovery = Discovery::new(
            &[format!("{}/a/**/*.log", root.display())],
            &[format!("{}/**/skip.log", root.display())],
        )
        .unwrap();
        let found: Vec<String> = discovery
            .scan()
            .iter()
            .map(|p| p.strip_prefix(root).unwrap().display().to_string())
            .collect();
        assert_eq!(found, vec!["a/app.log", "a/b/c/deep.log"]);
    }

    #[test]
    fn a_missing_base_directory_finds_nothing() {
        let discovery = Discovery::new(&["/nonexistent/vigia/*.log".to_owned()], &[]).unwrap();
        assert!(discovery.scan().is_empty());
    }
}
