//! `gen-specs`: writes a large LeanSpec corpus for scale runs, deterministic from a seed.
//!
//! `cargo run -p leanspec-core --bin gen-specs -- --count 10000 --out DIR [--seed N]`

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use leanspec_core::corpus_gen::generate_corpus;

#[derive(Debug, Parser)]
#[command(about = "Generate a LeanSpec corpus (always including the known fixture spec)")]
struct Cli {
    /// Number of specs, the known fixture spec included.
    #[arg(long, default_value_t = 10_000)]
    count: usize,
    /// Directory to write `<id>/README.md` folders into (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// The same seed always gives the same corpus.
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    anyhow::ensure!(cli.count >= 1, "--count must be at least 1");
    // Mixing two corpora would make a scale run measure something nobody asked for.
    if let Ok(mut entries) = std::fs::read_dir(&cli.out) {
        anyhow::ensure!(
            entries.next().is_none(),
            "{} is not empty; pass a new or empty directory",
            cli.out.display()
        );
    }
    generate_corpus(&cli.out, cli.count, cli.seed)
        .with_context(|| format!("cannot write the corpus into {}", cli.out.display()))?;
    eprintln!("wrote {} specs into {}", cli.count, cli.out.display());
    Ok(())
}
