//! The bench stage's options: the shared context and the flags of `harness bench`, with the
//! defaults of a whole run; apart from the stage's code so the flags read in one place.

use crate::stages;

/// The bench stage's options: the shared context and the flags of `harness bench`.
#[derive(Debug, Clone)]
pub struct Options {
    /// `ctx.force`: measure backends that have not passed conformance; `ctx.explicit`: a named
    /// backend that cannot be measured is an error; `ctx.seed`: round orders, arrivals, bootstrap.
    pub ctx: stages::Context,
    /// Latency rounds (default: the plan's).
    pub rounds: Option<usize>,
    /// `NAME=N`: run backend NAME with each text chunk held N µs, beside a clean instance.
    pub inject_delay_us: Vec<(String, u64)>,
    pub load: bool,
    /// `--sut-cpus`: the CPUs the targets are pinned to (None: the last one).
    pub sut_cpus: Option<Vec<usize>>,
    /// `NAME=N`: run backend NAME burning N µs of CPU per text chunk, beside a clean instance.
    pub inject_cpu_us: Vec<(String, u64)>,
    /// `--proofs`: an A/A twin beside each burnt backend, the references' capacity searched,
    /// and the proofs read from the run ([`super::proofs`]).
    pub proofs: bool,
    /// `--pool 1,2,4`: each backend that takes `--sidecars` also run with each size
    /// ([`super::pool`]); empty for none.
    pub pool: Vec<u32>,
}

impl Options {
    /// A whole run's bench: the plan's rounds, the load sweeps, no injection, no proofs.
    pub fn new(ctx: &stages::Context) -> Self {
        Self {
            ctx: ctx.clone(),
            rounds: None,
            inject_delay_us: Vec::new(),
            load: true,
            sut_cpus: None,
            inject_cpu_us: Vec::new(),
            proofs: false,
            pool: Vec::new(),
        }
    }
}

/// Parses `NAME=N` (microseconds).
pub fn parse_injection(value: &str) -> Result<(String, u64), String> {
    let (name, us) = value
        .split_once('=')
        .ok_or_else(|| format!("`{value}` is not NAME=MICROSECONDS (e.g. unix=100)"))?;
    let us: u64 = us
        .trim()
        .parse()
        .map_err(|_| format!("`{us}` in `{value}` is not a whole number of microseconds"))?;
    if name.trim().is_empty() || us == 0 {
        return Err(format!(
            "`{value}` needs a backend name and a delay above 0"
        ));
    }
    Ok((name.trim().to_owned(), us))
}
