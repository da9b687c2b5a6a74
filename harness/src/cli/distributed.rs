//! The commands that reach beyond the one machine (docs/distributed.md): `bench --target`,
//! which measures deployments the harness did not start, and `load`, the distributed run. Both
//! take the shared [`context`] like the stages, and no backend the harness starts.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};

use super::{BenchArgs, LoadArgs, context, exit, open_run};
use crate::{external, prereq};

/// `bench --target`: deployments the harness did not start.
pub(super) async fn external_bench(root: &Path, args: BenchArgs) -> Result<ExitCode> {
    let Some(mock_url) = args.external.mock_url.clone() else {
        anyhow::bail!("--target needs --mock-url: the mock provider the deployment was pointed at");
    };
    // Flags that act on backends the harness starts would be silently ignored here.
    let c = &args.measure.common;
    let ignored = [
        ("--backends", !c.backends.is_empty()),
        ("--rounds", args.rounds.is_some()),
        ("--inject-delay-us", !args.inject_delay_us.is_empty()),
        ("--inject-cpu-us", !args.inject_cpu_us.is_empty()),
        ("--sut-cpus", args.sut_cpus.is_some()),
        ("--force", args.measure.force),
        ("--no-load", args.no_load),
        ("--runtimes", !args.axis.runtimes.is_empty()),
    ];
    if let Some((flag, _)) = ignored.iter().find(|(_, set)| *set) {
        anyhow::bail!(
            "{flag} acts on backends the harness starts; it does not apply with --target"
        );
    }
    let opts = external::stage::Options {
        ctx: context(root, c, None, false, None),
        plan: external::measure::Plan::new(args.measure.common.quick),
        mock_url,
        targets: args.external.targets.clone(),
    };
    let mock = external::stage::check_inputs(&opts).await?;
    prereq::prepare(root)?;
    let mut run = open_run(root, &args.measure.common)?;
    eprintln!("run {}", run.path.display());
    let measured = external::stage::run(&mut run, &mock, &opts).await?;
    Ok(exit(measured < opts.targets.len()))
}

/// `load --locust`: the distributed run.
pub(super) async fn load(root: &Path, args: LoadArgs) -> Result<ExitCode> {
    if !args.common.backends.is_empty() || args.common.quick {
        anyhow::bail!("load measures its --target only; --backends and --quick do not apply");
    }
    if !(args.rate.is_finite() && args.rate > 0.0 && args.seconds.is_finite() && args.seconds > 0.0)
    {
        anyhow::bail!("--rate and --seconds must be positive");
    }
    if let Some(file) = &args.merge_reports {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        let shape = crate::load::RunShape {
            target: args.target.name.clone(),
            url: args.target.url.clone(),
            workers: args.workers,
            rate_rps: args.rate,
            seconds: args.seconds,
            windows: 1,
        };
        let d = crate::load::merge(&shape, &crate::load::parse_reports(&text)?);
        let mut run = open_run(root, &args.common)?;
        eprintln!("run {}", run.path.display());
        crate::load::record(&mut run, &d)?;
        crate::load::print_table(&d)?;
        return Ok(exit(d.partial || d.errors > 0));
    }
    if !args.locust {
        anyhow::bail!("load needs --locust (the one load engine it drives)");
    }
    let Some(mock_url) = args.mock_url.clone() else {
        anyhow::bail!("load needs --mock-url: the mock provider the deployment was pointed at");
    };
    let opts = crate::load::run::Options {
        ctx: context(root, &args.common, None, false, None),
        target: args.target.clone(),
        mock_url,
        workers: args.workers,
        rate_rps: args.rate,
        seconds: args.seconds,
        master: args.locust_master.clone(),
        kill_worker_after: args.kill_worker_after_s.map(Duration::from_secs_f64),
        harness_client: !args.no_harness_client,
        windows: args.windows,
    };
    crate::load::run::check_inputs(&opts).await?;
    let mut run = open_run(root, &args.common)?;
    eprintln!("run {}", run.path.display());
    let d = crate::load::run::run(&mut run, &opts).await?;
    crate::load::print_table(&d)?;
    Ok(exit(d.partial || d.errors > 0))
}
