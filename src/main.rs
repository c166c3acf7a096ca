#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    vigia::cli::main()
}
