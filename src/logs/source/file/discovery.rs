//! Which files a source reads: include globs (with `**`) minus exclude globs, found by walking
//! from each include pattern's literal base directory.
//!
//! Symbolic links are where a shared log volume turns hostile: a service that can write there
//! can create `x.log -> /proc/self/environ` or a link to a mounted Secret, and a tailer that
//! follows links anywhere ships the agent's own secrets. By default a link is followed only
//! when its target is inside an include root (or a `symlink_roots` directory).

use globset::{Glob, GlobSet, GlobSetBuilder};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

/// Which symbolic links discovery follows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FollowSymlinks {
    /// Links whose target (every link resolved) is inside an include pattern's base
    /// directory or one of `symlink_roots`.
    #[default]
    WithinRoots,
    /// Every link, wherever it points (the behaviour of most tailers; trust the volume).
    Always,
    /// No link at all: only regular files reached without one.
    Never,
}

#[derive(Debug, Clone)]
pub struct Discovery {
    include: GlobSet,
    exclude: GlobSet,
    bases: Vec<(PathBuf, usize)>,
    follow: FollowSymlinks,
    /// Where link targets may be (canonical), with `WithinRoots`.
    roots: Vec<PathBuf>,
}

/// What one scan found.
#[derive(Debug, Default)]
pub struct Scan {
    pub files: BTreeSet<PathBuf>,
    /// Matching links that were not followed.
    pub refused_links: BTreeSet<PathBuf>,
}

/// How deep below a base directory `**` may reach: bounds the walk on odd trees.
const MAX_DEPTH: usize = 16;

impl Discovery {
    pub fn new(include: &[String], exclude: &[String]) -> Result<Self, globset::Error> {
        Self::with_symlinks(include, exclude, FollowSymlinks::default(), &[])
    }

    pub fn with_symlinks(
        include: &[String],
        exclude: &[String],
        follow: FollowSymlinks,
        symlink_roots: &[PathBuf],
    ) -> Result<Self, globset::Error> {
        let mut include_set = GlobSetBuilder::new();
        let mut bases = Vec::new();
        for pattern in include {
            include_set.add(glob(pattern)?);
            let (base, depth) = literal_base(pattern);
            // Patterns under one directory walk it once, as deep as the deepest needs.
            match bases.iter_mut().find(|(known, _)| *known == base) {
                Some((_, known_depth)) => *known_depth = depth.max(*known_depth),
                None => bases.push((base, depth)),
            }
        }
        let mut exclude_set = GlobSetBuilder::new();
        for pattern in exclude {
            exclude_set.add(glob(pattern)?);
        }
        let roots = bases
            .iter()
            .map(|(base, _)| base.clone())
            .chain(symlink_roots.iter().cloned())
            .map(|root| std::fs::canonicalize(&root).unwrap_or(root))
            .collect();
        Ok(Self {
            include: include_set.build()?,
            exclude: exclude_set.build()?,
            bases,
            follow,
            roots,
        })
    }

    /// Directories to watch for changes (each include pattern's base).
    pub fn base_dirs(&self) -> impl Iterator<Item = &Path> {
        self.bases.iter().map(|(base, _)| base.as_path())
    }

    pub fn matches(&self, path: &Path) -> bool {
        self.include.is_match(path) && !self.exclude.is_match(path)
    }

    /// Every regular file that matches now, in a stable order, and the links not followed.
    ///
    /// The walk itself never follows a link: a linked directory is walked only when the policy
    /// allows its target, so a link into `/etc` cannot bring its files in by the back door.
    pub fn scan(&self) -> Scan {
        let mut scan = Scan::default();
        for (base, depth) in &self.bases {
            self.walk(base, *depth, &mut scan);
        }
        scan
    }

    fn walk(&self, dir: &Path, depth: usize, scan: &mut Scan) {
        let walker = walkdir::WalkDir::new(dir)
            .follow_links(false)
            .max_depth(depth)
            .into_iter()
            .filter_map(Result::ok);
        for entry in walker {
            let file_type = entry.file_type();
            if file_type.is_file() {
                if self.matches(entry.path()) {
                    scan.files.insert(entry.into_path());
                }
                continue;
            }
            if !file_type.is_symlink() {
                continue;
            }
            let Ok(target) = std::fs::metadata(entry.path()) else {
                continue; // dangling
            };
            if target.is_file() && self.matches(entry.path()) {
                if self.may_follow(entry.path()) {
                    scan.files.insert(entry.into_path());
                } else {
                    scan.refused_links.insert(entry.into_path());
                }
            } else if target.is_dir()
                && entry.depth() < depth
                && entry.depth() > 0
                && self.may_follow(entry.path())
            {
                // A linked directory within the allowed roots (a `..data` link, say):
                // walked under its own name, as deep as the pattern still reaches.
                // (walkdir follows a root that is a link; below it the same rules apply.)
                self.walk(entry.path(), depth - entry.depth(), scan);
            }
        }
    }

    fn may_follow(&self, link: &Path) -> bool {
        match self.follow {
            FollowSymlinks::Always => true,
            FollowSymlinks::Never => false,
            FollowSymlinks::WithinRoots => std::fs::canonicalize(link)
                .is_ok_and(|target| self.roots.iter().any(|root| target.starts_with(root))),
        }
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
            .files
            .iter()
            .map(|p| p.strip_prefix(root).unwrap().display().to_string())
            .collect();
        assert_eq!(found, vec!["a/app.log", "a/b/c/deep.log"]);
    }

    #[test]
    fn a_missing_base_directory_finds_nothing() {
        let discovery = Discovery::new(&["/nonexistent/vigia/*.log".to_owned()], &[]).unwrap();
        assert!(discovery.scan().files.is_empty());
    }

    #[test]
    fn links_are_followed_only_into_the_include_roots_by_default() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let logs = root.join("logs");
        let secrets = root.join("secrets");
        std::fs::create_dir_all(logs.join("pods")).unwrap();
        std::fs::create_dir_all(&secrets).unwrap();
        std::fs::write(secrets.join("token"), b"hunter2\n").unwrap();
        std::fs::write(logs.join("pods/real.log"), b"x\n").unwrap();
        // A neighbour on the shared volume plants links to what the agent can read.
        std::os::unix::fs::symlink(secrets.join("token"), logs.join("token.log")).unwrap();
        std::os::unix::fs::symlink(&secrets, logs.join("stolen")).unwrap();
        std::os::unix::fs::symlink("/proc/self/environ", logs.join("environ.log")).unwrap();
        // And the kind of link Kubernetes makes: inside the roots.
        std::os::unix::fs::symlink(logs.join("pods/real.log"), logs.join("app.log")).unwrap();
        let include = [
            format!("{}/**/*.log", logs.display()),
            format!("{}/**/token", logs.display()),
        ];
        let names = |scan: &Scan| -> Vec<String> {
            scan.files
                .iter()
                .map(|p| p.strip_prefix(&logs).unwrap().display().to_string())
                .collect()
        };

        let default = Discovery::new(&include, &[]).unwrap().scan();
        assert_eq!(names(&default), ["app.log", "pods/real.log"]);
        assert_eq!(
            default.refused_links.len(),
            2,
            "{:?}",
            default.refused_links
        );

        let never = Discovery::with_symlinks(&include, &[], FollowSymlinks::Never, &[])
            .unwrap()
            .scan();
        assert_eq!(names(&never), ["pods/real.log"]);

        let widened = Discovery::with_symlinks(
            &include,
            &[],
            FollowSymlinks::WithinRoots,
            std::slice::from_ref(&secrets),
        )
        .unwrap()
        .scan();
        assert_eq!(
            names(&widened),
            ["app.log", "pods/real.log", "stolen/token", "token.log"]
        );
    }
}
