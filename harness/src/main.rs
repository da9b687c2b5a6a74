//! `harness`: see the library's documentation for what each command does.

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    sut_kit::process::install_cleanup();
    let cli = harness::cli::Cli::parse();
    match harness::cli::run(cli).await {
        Ok(code) => code,
        Err(e) => {
            sut_kit::process::kill_all();
            eprintln!("harness: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}
