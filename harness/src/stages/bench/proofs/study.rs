//! `harness proofs-study`: the bench's proofs over several runs (docs/proofs-study.md).
//! Runs `bench --proofs` k times one after another (or reads runs already made, `--from`),
//! pools each proof ([`pooled`](super::pooled)), prints the verdicts and writes
//! `proofs-study.json` into the last run's folder.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result, bail};
use contract::results::{PooledProof, ProofsStudy};
use sut_kit::manifest::Backend;

use super::pooled::{self, StudiedRun};
use crate::run_dir::RunDir;
use crate::stages::bench;

/// Where the study writes its findings, beside the last run it pooled.
pub const STUDY_FILE: &str = "proofs-study.json";

#[derive(Debug, Clone)]
pub struct Options {
    /// Runs to make (ignored with `from`).
    pub runs: usize,
    /// Pool these runs (ids under reports/, or `latest`) instead of making new ones.
    pub from: Vec<String>,
    /// How each run is measured: `proofs` on, the burn in `inject_cpu_us`; each run's seed is
    /// derived from the context's.
    pub bench: bench::Options,
}

/// Makes or reads the runs, pools their proofs, writes the study and returns it.
pub async fn run(backends: &[Backend], opts: &Options) -> Result<ProofsStudy> {
    let Some((backend, injected)) = opts.bench.inject_cpu_us.first().cloned() else {
        bail!("a proofs study needs a backend to burn (`--backend`, default rust-only)");
    };
    let reports = opts.bench.ctx.root.join("reports");
    let mut studied = Vec::new();
    let mut last = None;
    if opts.from.is_empty() {
        for k in 1..=opts.runs {
            eprintln!("\nproofs-study: run {k} of {}", opts.runs);
            let mut o = opts.bench.clone();
            o.ctx.seed = opts.bench.ctx.seed.wrapping_add(k as u64);
            let mut run = RunDir::create(&reports, &o.ctx.root, &o.ctx.profile)?;
            bench::run(backends, &mut run, &o)
                .await
                .with_context(|| format!("the bench run in {}", run.path.display()))?;
            studied.push(studied_run(run.path.as_path(), run.results, &backend));
            last = Some(run.path);
        }
    } else {
        for id in &opts.from {
            let run = RunDir::open(&reports, id)?;
            studied.push(studied_run(run.path.as_path(), run.results, &backend));
            last = Some(run.path);
        }
    }
    for r in &studied {
        let burnt = r.results.bench.as_ref().is_some_and(|b| {
            b.cpu_self_check
                .iter()
                .any(|c| c.backend == backend && c.injected_us == injected as f64)
        });
        if !burnt {
            bail!(
                "run {} has no CPU burn of {injected} µs read back from {backend}: pool runs of \
                 `harness bench --proofs` with the same burn",
                r.id
            );
        }
    }
    let study = ProofsStudy {
        proofs: pooled::pool(&studied, &backend, injected as f64),
        backend,
        injected_us: injected as f64,
        load_average: studied
            .iter()
            .map(|r| {
                let noise = &r.results.bench.as_ref()?.noise;
                noise
                    .load_avg_start
                    .zip(noise.load_avg_end)
                    .map(|(a, b)| [a, b])
            })
            .collect(),
        runs: studied.into_iter().map(|r| r.id).collect(),
    };
    if let Some(last) = last {
        let path = last.join(STUDY_FILE);
        crate::atomic::write_json(&path, &study)?;
        eprintln!("\nproofs-study: wrote {}", path.display());
    }
    Ok(study)
}

/// A run to pool, its proofs read again from its figures by this build ([`super::evaluate`]):
/// runs made before a proof's reading changed are then judged as the newest are.
fn studied_run(path: &Path, mut results: contract::results::Results, backend: &str) -> StudiedRun {
    let proofs = super::evaluate(&results, backend);
    if let Some(bench) = results.bench.as_mut() {
        bench.proofs = proofs;
    }
    StudiedRun {
        id: path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        results,
    }
}

/// The pooled verdicts as a table for the terminal: each proof, its runs' verdicts in order
/// (`+` held, `-` failed, `?` undecided), and what the runs measured pooled.
pub fn write_table(out: &mut impl Write, study: &ProofsStudy) -> std::io::Result<()> {
    writeln!(
        out,
        "proofs over {} runs ({} burnt {:.0} µs/chunk):",
        study.runs.len(),
        study.backend,
        study.injected_us
    )?;
    for p in &study.proofs {
        writeln!(
            out,
            "  {:<18} {:<9} {:<8} {}",
            p.name,
            verdict(p),
            runs(p),
            p.measured
        )?;
    }
    Ok(())
}

fn verdict(p: &PooledProof) -> &'static str {
    match p.holds {
        Some(true) => "holds",
        Some(false) => "FAILS",
        None => "undecided",
    }
}

fn runs(p: &PooledProof) -> String {
    p.verdicts
        .iter()
        .map(|v| match v {
            Some(true) => '+',
            Some(false) => '-',
            None => '?',
        })
        .collect()
}
