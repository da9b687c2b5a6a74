//! `harness cost`: money per 1,000 conversations per backend, from the price table
//! (`config/prices.toml`) and what the run measured:
//!
//! - CPU: the bench stage's CPU time per conversation near the saturation rate
//!   (`capacity.predicted_ms_per_conversation`, the load the memory part assumes; without it
//!   the CPU at load's fixed 20/s, `cpu_at_load.ms_per_conversation`, then
//!   `cpu.ms_per_conversation`, over the latency rounds) at the CPU-hour price;
//! - memory: a deployment sized for its saturation rate holds its peak memory while it serves
//!   `saturation_rps` conversations a second, so one conversation costs peak GiB x (1 /
//!   saturation_rps) seconds at the GiB-hour price (PSS when the bench measured it, else RSS);
//! - tokens: the start stage's reference conversation (`tokens`, the mock's own usage count);
//! - wasted tokens: the tokens the provider generated for a client that had gone
//!   (`crash.client-disconnect`), at the table's assumed share of abandoned conversations.
//!
//! A part whose input is missing stays absent, and so does the total: never a zero.
//! Records `backends.<name>.cost`. Method and choices: `docs/cost.md`.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use contract::results::{Applicability, BackendResults, Cost, CostParts, Fault};
use serde::Deserialize;

use sut_kit::manifest::Backend;

use crate::run_dir::RunDir;
use crate::stages::{Context, Outcome, Stage, Takes};

/// The price table, relative to the repository root.
pub const PRICES_PATH: &str = "config/prices.toml";
const CONVERSATIONS: f64 = 1000.0;
const MS_PER_HOUR: f64 = 3_600_000.0;
const SECONDS_PER_HOUR: f64 = 3_600.0;
const BYTES_PER_GIB: f64 = 1024.0 * 1024.0 * 1024.0;
const TOKENS_PER_MILLION: f64 = 1_000_000.0;

/// `config/prices.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prices {
    pub currency: String,
    pub cpu_hour: Price,
    pub memory_gib_hour: Price,
    pub input_tokens_per_million: Price,
    pub output_tokens_per_million: Price,
    pub disconnect_share: Share,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub price: f64,
    /// Where the price was read.
    pub source: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Share {
    pub value: f64,
    pub source: String,
}

impl Prices {
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the price table {}", path.display()))?;
        let prices: Self = toml::from_str(&text).with_context(|| {
            format!("{} is not a price table (see docs/cost.md)", path.display())
        })?;
        let named = [
            ("cpu_hour", prices.cpu_hour.price),
            ("memory_gib_hour", prices.memory_gib_hour.price),
            (
                "input_tokens_per_million",
                prices.input_tokens_per_million.price,
            ),
            (
                "output_tokens_per_million",
                prices.output_tokens_per_million.price,
            ),
        ];
        if let Some((name, _)) = named.iter().find(|(_, p)| !(p.is_finite() && *p >= 0.0)) {
            anyhow::bail!(
                "{}: `{name}` must be a price of zero or more",
                path.display()
            );
        }
        let share = prices.disconnect_share.value;
        if !(0.0..=1.0).contains(&share) {
            anyhow::bail!(
                "{}: `disconnect_share` must lie between 0 and 1, not {share}",
                path.display()
            );
        }
        Ok(prices)
    }
}

/// Prices every backend of `backends` that has an entry in the run; returns what it recorded.
pub fn run(
    backends: &[Backend],
    run: &mut RunDir,
    prices_path: &Path,
    shown_as: &str,
) -> Result<Vec<(String, Cost)>> {
    let prices = Prices::load(prices_path)?;
    let mut priced = Vec::new();
    for backend in backends {
        let Some(results) = run.results.backends.get(backend.name()) else {
            continue;
        };
        let cost = price(results, &prices, shown_as);
        run.results.backend_mut(backend.name()).cost = Some(cost.clone());
        priced.push((backend.name().to_owned(), cost));
    }
    run.save()?;
    Ok(priced)
}

/// One backend's cost per 1,000 conversations.
pub fn price(b: &BackendResults, prices: &Prices, shown_as: &str) -> Cost {
    let mut missing = Vec::new();
    let mut need = |value: Option<f64>, what: &str| {
        if value.is_none() {
            missing.push(what.to_owned());
        }
        value
    };
    // The CPU at the load the memory part assumes, near the saturation rate (docs/cost.md).
    let cpu_ms = b
        .capacity
        .as_ref()
        .and_then(|c| c.predicted_ms_per_conversation)
        .or(b.cpu_at_load.as_ref().map(|c| c.ms_per_conversation))
        .or(b.cpu.as_ref().map(|c| c.ms_per_conversation));
    let cpu = need(
        cpu_ms,
        "capacity.predicted_ms_per_conversation, cpu_at_load.ms_per_conversation or \
         cpu.ms_per_conversation (bench stage)",
    )
    .map(|ms| CONVERSATIONS * ms / MS_PER_HOUR * prices.cpu_hour.price);

    let peak = b.memory.as_ref().and_then(|m| {
        m.pss_peak_bytes
            .map(|v| (v, "pss_peak_bytes"))
            .or(m.rss_peak_bytes.map(|v| (v, "rss_peak_bytes")))
    });
    let peak_bytes = need(peak.map(|(v, _)| v as f64), "memory peak (bench stage)");
    let rate = need(
        b.saturation_rps.filter(|r| *r > 0.0),
        "saturation_rps (bench stage)",
    );
    let memory = peak_bytes.zip(rate).map(|(bytes, rps)| {
        bytes / BYTES_PER_GIB * (CONVERSATIONS / rps) / SECONDS_PER_HOUR
            * prices.memory_gib_hour.price
    });
    let memory_basis = peak.zip(rate).map(|((_, field), rps)| {
        format!("memory.{field} held for 1/saturation_rps ({rps:.1}/s) per conversation")
    });

    let per_million = |tokens: u64, price: &Price| {
        CONVERSATIONS * tokens as f64 * price.price / TOKENS_PER_MILLION
    };
    let tokens = b.tokens.as_ref();
    let input = need(
        tokens.map(|t| per_million(t.input, &prices.input_tokens_per_million)),
        "tokens (start stage)",
    );
    let output = tokens.map(|t| per_million(t.output, &prices.output_tokens_per_million));

    let wasted_per_disconnect = b
        .crash
        .get(Fault::ClientDisconnect.name())
        .filter(|o| o.applicability == Applicability::Measured)
        .and_then(|o| o.provider.as_ref())
        .map(|p| p.wasted_tokens);
    let share = prices.disconnect_share.value;
    let wasted = need(
        wasted_per_disconnect.map(|w| share * per_million(w, &prices.output_tokens_per_million)),
        "crash.client-disconnect (crash stage)",
    );

    let parts = [cpu, memory, input, output, wasted];
    let total = parts.iter().copied().sum::<Option<f64>>();
    Cost {
        prices: shown_as.to_owned(),
        currency: prices.currency.clone(),
        per_1000_conversations: CostParts {
            cpu,
            memory,
            input_tokens: input,
            output_tokens: output,
            wasted_tokens: wasted,
            total,
        },
        wasted_tokens_per_disconnect: wasted_per_disconnect,
        disconnect_share: share,
        memory_basis,
        missing,
    }
}

/// Where the price table is: `--prices`, else [`PRICES_PATH`] under the root.
pub fn prices_path(root: &Path, given: Option<&Path>) -> PathBuf {
    given.map_or_else(|| root.join(PRICES_PATH), Path::to_path_buf)
}

/// The terminal table of the stage.
pub fn write_table(
    out: &mut impl std::io::Write,
    priced: &[(String, Cost)],
) -> std::io::Result<()> {
    let cell = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.4}"));
    writeln!(
        out,
        "per 1,000 conversations{}",
        priced
            .first()
            .map_or(String::new(), |(_, c)| format!(" ({})", c.currency))
    )?;
    writeln!(
        out,
        "{:<10} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "backend", "cpu", "memory", "input", "output", "wasted", "total"
    )?;
    for (name, c) in priced {
        let p = &c.per_1000_conversations;
        writeln!(
            out,
            "{name:<10} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
            cell(p.cpu),
            cell(p.memory),
            cell(p.input_tokens),
            cell(p.output_tokens),
            cell(p.wasted_tokens),
            cell(p.total)
        )?;
        if !c.missing.is_empty() {
            writeln!(out, "           missing: {}", c.missing.join(", "))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use contract::results::{
        Capacity, ConversationTokens, CpuCost, CrashOutcome, Memory, ProviderWaste,
    };

    fn prices() -> Prices {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        Prices::load(&root.join(PRICES_PATH)).unwrap()
    }

    #[test]
    fn the_committed_price_table_loads_and_names_every_source() {
        let p = prices();
        for source in [
            &p.cpu_hour.source,
            &p.memory_gib_hour.source,
            &p.disconnect_share.source,
        ] {
            assert!(!source.trim().is_empty());
        }
    }

    #[test]
    fn every_part_comes_from_its_measured_input_and_missing_ones_stay_absent() {
        let p = prices();
        let mut b = BackendResults::default();
        let empty = price(&b, &p, PRICES_PATH);
        assert_eq!(empty.per_1000_conversations, CostParts::default());
        assert_eq!(empty.missing.len(), 5, "{:?}", empty.missing);

        b.cpu = Some(CpuCost {
            ms_per_1000_chunks: 1.0,
            ms_per_conversation: 3.6,
        });
        b.memory = Some(Memory {
            rss_peak_bytes: Some(1 << 30),
            ..Memory::default()
        });
        b.saturation_rps = Some(10.0);
        b.tokens = Some(ConversationTokens {
            scenario: "text".into(),
            chunks: 20,
            provider_requests: 1,
            input: 100,
            output: 20,
        });
        let mut disconnect = CrashOutcome::measured();
        disconnect.provider = Some(ProviderWaste {
            wasted_tokens: 40,
            ..ProviderWaste::default()
        });
        b.crash
            .insert(Fault::ClientDisconnect.name().into(), disconnect);
        let c = price(&b, &p, PRICES_PATH);
        let parts = &c.per_1000_conversations;
        let close = |a: Option<f64>, b: f64| (a.unwrap() - b).abs() < 1e-12;
        // 1000 x 3.6 ms = 3.6 s = 0.001 h of one CPU.
        assert!(close(parts.cpu, 0.001 * p.cpu_hour.price));
        // 1 GiB for 1000 / 10 = 100 s.
        assert!(close(
            parts.memory,
            100.0 / 3600.0 * p.memory_gib_hour.price
        ));
        assert!(close(
            parts.input_tokens,
            0.1 * p.input_tokens_per_million.price
        ));
        assert!(close(
            parts.output_tokens,
            0.02 * p.output_tokens_per_million.price
        ));
        let share = p.disconnect_share.value;
        assert!(close(
            parts.wasted_tokens,
            share * 0.04 * p.output_tokens_per_million.price
        ));
        assert!(c.missing.is_empty());
        assert!(c.memory_basis.unwrap().contains("rss_peak_bytes"));
        assert!(parts.total.is_some());

        b.crash.clear();
        let c = price(&b, &p, PRICES_PATH);
        assert_eq!(
            c.per_1000_conversations.total, None,
            "a missing part leaves no total"
        );
    }

    #[test]
    fn cpu_is_priced_near_the_saturation_rate_the_memory_part_assumes() {
        let p = prices();
        let mut b = BackendResults {
            cpu: Some(CpuCost {
                ms_per_1000_chunks: 1.0,
                ms_per_conversation: 36.0,
            }),
            ..BackendResults::default()
        };
        // In hours of one CPU per 1,000 conversations.
        let hours = |b: &BackendResults| {
            price(b, &p, PRICES_PATH)
                .per_1000_conversations
                .cpu
                .unwrap()
                / p.cpu_hour.price
        };
        assert!(
            (hours(&b) - 0.01).abs() < 1e-12,
            "the rounds' CPU, nothing better"
        );
        b.capacity = Some(Capacity {
            per_core_rps_observed: Some(250.0),
            per_core_rps_observed_ci95: None,
            per_core_rps_predicted: Some(1_000.0 / 3.6),
            predicted_at_rps: Some(240.0),
            predicted_ms_per_conversation: Some(3.6),
            ratio: None,
            limit: None,
            generator_bound: false,
        });
        assert!(
            (hours(&b) - 0.001).abs() < 1e-12,
            "the CPU near capacity first"
        );
    }

    #[test]
    fn a_bad_table_is_refused_with_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("p.toml");
        let text = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/prices.toml"),
        )
        .unwrap();
        std::fs::write(&file, text.replace("value = 0.05", "value = 5")).unwrap();
        let err = Prices::load(&file).unwrap_err().to_string();
        assert!(err.contains("disconnect_share"), "{err}");
        std::fs::write(&file, "currency = 1").unwrap();
        assert!(Prices::load(&file).is_err());
    }
}

/// The cost stage: what the run measured priced with the table, then its table on stdout.
#[derive(Debug)]
pub struct CostStage;

/// The cost stage's options.
#[derive(Debug, Clone)]
pub struct Options {
    pub ctx: Context,
    /// The price table (default: config/prices.toml).
    pub prices: Option<PathBuf>,
}

impl Stage for CostStage {
    const NAME: &'static str = contract::results::stages::COST;
    // Every selected backend, as `compare` has always priced them; one with no entry in the
    // run is passed over by `run`.
    const TAKES: Takes = Takes::Bases;
    type Options = Options;

    fn options(ctx: &Context) -> Options {
        Options {
            ctx: ctx.clone(),
            prices: None,
        }
    }

    async fn run(opts: &Options, backends: &[Backend], run: &mut RunDir) -> Result<Outcome> {
        let root = opts.ctx.root.as_path();
        let prices = prices_path(root, opts.prices.as_deref());
        let shown = prices
            .strip_prefix(root)
            .unwrap_or(&prices)
            .display()
            .to_string();
        let priced = self::run(backends, run, &prices, &shown)?;
        write_table(&mut std::io::stdout().lock(), &priced)?;
        Ok(Outcome::Passed)
    }
}
