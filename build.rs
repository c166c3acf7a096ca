//! Stamps the binary with its git commit and build date, which `vigia version` prints and the
//! deployment guide requires on every artifact. Docker builds have no `.git`, so both can be
//! passed in as `VIGIA_GIT_COMMIT` / `VIGIA_BUILD_DATE` (the Dockerfile's build args).
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=VIGIA_GIT_COMMIT");
    println!("cargo:rerun-if-env-changed=VIGIA_BUILD_DATE");
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs/heads");

    let commit = non_empty_env("VIGIA_GIT_COMMIT")
        .or_else(|| command_output("git", &["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_else(|| "unknown".to_owned());
    let date = non_empty_env("VIGIA_BUILD_DATE")
        .or_else(|| {
            // SOURCE_DATE_EPOCH keeps reproducible builds reproducible.
            match non_empty_env("SOURCE_DATE_EPOCH") {
                Some(epoch) => command_output(
                    "date",
                    &["-u", "-d", &format!("@{epoch}"), "+%Y-%m-%dT%H:%M:%SZ"],
                ),
                None => command_output("date", &["-u", "+%Y-%m-%dT%H:%M:%SZ"]),
            }
        })
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=VIGIA_GIT_COMMIT={commit}");
    println!("cargo:rustc-env=VIGIA_BUILD_DATE={date}");
}

fn non_empty_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn command_output(program: &str, args: &[&str]) -> Option<String> {
    let output = Command::new(program).args(args).output().ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}
