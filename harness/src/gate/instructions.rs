//! `harness gate-instructions`: the latency gate's deterministic companion
//! (docs/gate.md#instruction-counts). The backends' own per-chunk Rust code (contract's SSE
//! encoder and decoder, backends/core's UI stream encoder, sidecar-host's relay, contract's
//! `frames` decoder in split and merged reads) runs as
//! workloads of the `per-chunk-instructions` binary under valgrind's callgrind, counting
//! instructions only inside each workload's `measured_<name>` function. A count does not move
//! with the machine's load, so a small change shows; it says nothing about the whole path, which
//! the latency gate still has to judge. Counts per chunk are compared with a committed baseline
//! file at [`THRESHOLD`].

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

/// The committed counts, relative to the repository root.
pub const BASELINE: &str = "reports/instructions.json";
/// A workload regressed when it executes more than this much more per chunk than the baseline.
/// Counts of one build repeat exactly and a rebuild of the same sources with the same toolchain
/// moved none (docs/gate.md#instruction-counts); 5% leaves room for a toolchain's codegen while
/// still flagging an added copy or allocation per chunk, which costs more.
pub const THRESHOLD: f64 = 0.05;
/// The workloads' crate and binary.
const PACKAGE: &str = "per-chunk-instructions";
/// Version of the baseline file's layout.
const FORMAT: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Counts {
    pub format: u32,
    /// `rustc --version` of the build counted: another toolchain may generate other code.
    pub rustc: String,
    /// Instructions per chunk, by workload.
    pub per_chunk: BTreeMap<String, f64>,
}

/// Builds the workloads in release and counts each under callgrind.
pub fn measure(root: &Path) -> Result<Counts> {
    if !crate::tools::present("valgrind") {
        bail!(
            "valgrind is not installed: `apt-get install valgrind` (Debian's package; .ci/run \
             installs it)"
        );
    }
    let status = Command::new("cargo")
        .args(["build", "--release", "--quiet", "-p", PACKAGE])
        .current_dir(root)
        .status()
        .context("cannot run cargo")?;
    if !status.success() {
        bail!("`cargo build --release -p {PACKAGE}` failed");
    }
    let bin = root.join("target/release").join(PACKAGE);
    let listed = Command::new(&bin).arg("list").output()?;
    let mut per_chunk = BTreeMap::new();
    for line in String::from_utf8_lossy(&listed.stdout).lines() {
        let mut words = line.split_whitespace();
        let (Some(name), Some(chunks)) = (words.next(), words.next()) else {
            continue;
        };
        let chunks: f64 = chunks.parse().context("the workload list's chunk count")?;
        let total = count(&bin, name)?;
        per_chunk.insert(name.to_owned(), total as f64 / chunks);
    }
    if per_chunk.is_empty() {
        bail!("{} listed no workloads", bin.display());
    }
    Ok(Counts {
        format: FORMAT,
        rustc: crate::tools::version(Some(root), "rustc").unwrap_or_default(),
        per_chunk,
    })
}

/// Instructions executed inside `measured_<workload>` (inclusive of what it calls).
fn count(bin: &Path, workload: &str) -> Result<u64> {
    let dir = tempfile::tempdir()?;
    let out = dir.path().join("callgrind.out");
    let function = format!("*measured_{}*", workload.replace('-', "_"));
    let result = Command::new("valgrind")
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(format!("--toggle-collect={function}"))
        .arg(bin)
        .arg(workload)
        .output()
        .context("cannot run valgrind")?;
    if !result.status.success() {
        bail!(
            "valgrind on {workload} failed: {}",
            String::from_utf8_lossy(&result.stderr).trim()
        );
    }
    let text = std::fs::read_to_string(&out)
        .with_context(|| format!("callgrind wrote no {}", out.display()))?;
    parse_total(&text).with_context(|| format!("no instruction total in {}", out.display()))
}

/// The `summary:` (or `totals:`) line of a callgrind output file: its first event, `Ir`.
pub fn parse_total(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| {
            l.strip_prefix("summary:")
                .or_else(|| l.strip_prefix("totals:"))
        })
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// One workload's verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub workload: String,
    pub baseline: Option<f64>,
    pub current: f64,
    /// current / baseline − 1.
    pub change: Option<f64>,
    pub regressed: bool,
}

/// Compares every measured workload with the baseline's.
pub fn judge(baseline: &Counts, current: &Counts) -> Vec<Verdict> {
    current
        .per_chunk
        .iter()
        .map(|(name, &now)| {
            let before = baseline.per_chunk.get(name).copied();
            let change = before.filter(|b| *b > 0.0).map(|b| now / b - 1.0);
            Verdict {
                workload: name.clone(),
                baseline: before,
                current: now,
                change,
                regressed: change.is_some_and(|c| c > THRESHOLD),
            }
        })
        .collect()
}

pub fn read_baseline(path: &Path) -> Result<Counts> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "cannot read {}; write it with `harness gate-instructions --update`",
            path.display()
        )
    })?;
    let counts: Counts = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not an instruction-count file of this harness; rewrite it with \
             `harness gate-instructions --update`",
            path.display()
        )
    })?;
    if counts.format != FORMAT {
        bail!(
            "{} has format {}, this harness reads {FORMAT}; rewrite it with `harness \
             gate-instructions --update`",
            path.display(),
            counts.format
        );
    }
    Ok(counts)
}

/// The command: measure, then write the baseline (`update`) or judge against it. Exit 0 pass,
/// 1 a workload regressed, 2 could not judge (no baseline, no valgrind, another format).
pub async fn run(root: &Path, update: bool) -> Result<ExitCode> {
    let path: PathBuf = root.join(BASELINE);
    let baseline = if update {
        None
    } else {
        match read_baseline(&path) {
            Ok(b) => Some(b),
            Err(e) => {
                eprintln!("harness gate-instructions: {e:#}");
                return Ok(ExitCode::from(2));
            }
        }
    };
    let root_owned = root.to_owned();
    let current = match tokio::task::spawn_blocking(move || measure(&root_owned)).await? {
        Ok(c) => c,
        Err(e) => {
            eprintln!("harness gate-instructions: {e:#}");
            return Ok(ExitCode::from(2));
        }
    };
    let mut out = std::io::stdout().lock();
    let Some(baseline) = baseline else {
        crate::atomic::write(&path, serde_json::to_string_pretty(&current)? + "\n")?;
        for (name, n) in &current.per_chunk {
            writeln!(out, "{name:14} {n:>10.1} instructions per chunk")?;
        }
        writeln!(out, "wrote {BASELINE} ({})", current.rustc)?;
        return Ok(ExitCode::SUCCESS);
    };
    let verdicts = judge(&baseline, &current);
    write_table(&mut out, &verdicts)?;
    if baseline.rustc != current.rustc {
        writeln!(
            out,
            "note: the baseline was counted with {}, this with {}: a toolchain's codegen moves \
             counts; refresh the baseline with `harness gate-instructions --update` if that is \
             the only change",
            baseline.rustc, current.rustc
        )?;
    }
    Ok(if verdicts.iter().any(|v| v.regressed) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

pub fn write_table(out: &mut impl Write, verdicts: &[Verdict]) -> std::io::Result<()> {
    writeln!(
        out,
        "{:14} {:>12} {:>12} {:>8}  verdict (instructions per chunk; regression above {:+.0}%)",
        "workload",
        "baseline",
        "current",
        "change",
        THRESHOLD * 100.0
    )?;
    for v in verdicts {
        writeln!(
            out,
            "{:14} {:>12} {:>12.1} {:>8}  {}",
            v.workload,
            v.baseline.map_or("-".into(), |b| format!("{b:.1}")),
            v.current,
            v.change
                .map_or("-".into(), |c| format!("{:+.1}%", c * 100.0)),
            match (v.regressed, v.baseline) {
                (true, _) => "REGRESSION",
                (false, None) => "new (not in the baseline)",
                (false, Some(_)) => "pass",
            }
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_total_is_read_from_summary_or_totals() {
        assert_eq!(parse_total("events: Ir\nsummary: 12345\n"), Some(12345));
        assert_eq!(parse_total("events: Ir\ntotals: 77 1\n"), Some(77));
        assert_eq!(parse_total("events: Ir\n"), None);
    }

    fn counts(pairs: &[(&str, f64)]) -> Counts {
        Counts {
            format: FORMAT,
            rustc: "rustc 1".into(),
            per_chunk: pairs.iter().map(|(n, v)| ((*n).to_owned(), *v)).collect(),
        }
    }

    #[test]
    fn above_the_threshold_is_a_regression_and_below_is_not() {
        let base = counts(&[("a", 1000.0), ("b", 1000.0)]);
        let now = counts(&[
            ("a", 1000.0 * (1.0 + THRESHOLD) + 1.0),
            ("b", 1040.0),
            ("c", 5.0),
        ]);
        let v = judge(&base, &now);
        assert!(v[0].regressed);
        assert!(!v[1].regressed);
        assert!(!v[2].regressed && v[2].baseline.is_none());
    }
}
