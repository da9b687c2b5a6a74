//! `soak --target` and `crash --target`: the stages against deployments the harness did not
//! start, through the bench's verification ([`external::stage`]); bad input exits 2 before any
//! run folder is made.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Result, bail};

use super::args::{Common, CrashArgs, ExternalTargets, SoakArgs};
use super::{context, exit, open_run};
use crate::external;
use crate::prereq;
use crate::stages::crash::control::Control;

/// The external options of `command`, after refusing flags that act on started backends.
fn options(
    root: &Path,
    command: &str,
    t: &ExternalTargets,
    c: &Common,
    ignored: &[(&str, bool)],
) -> Result<external::stage::Options> {
    let Some(mock_url) = t.mock_url.clone() else {
        bail!("--target needs --mock-url: the mock provider the deployment was pointed at");
    };
    if let Some((flag, _)) = ignored.iter().find(|(_, set)| *set) {
        bail!("{flag} acts on backends the harness starts; {command} --target does not take it");
    }
    Ok(external::stage::Options {
        ctx: context(root, c, None, false, None),
        plan: external::measure::Plan::new(c.quick),
        mock_url,
        targets: t.targets.clone(),
    })
}

/// `soak --target`: the soak's load from outside (errors and latency drift; no memory).
pub async fn soak(root: &Path, args: SoakArgs) -> Result<ExitCode> {
    let c = &args.measure.common;
    let ignored = [
        ("--backends", !c.backends.is_empty()),
        ("--force", args.measure.force),
        ("--runtimes", !args.axis.runtimes.is_empty()),
    ];
    let opts = options(root, "soak", &args.external, c, &ignored)?;
    let soak = args.soak_options(root);
    soak.check()?;
    let mock = external::stage::check_inputs(&opts).await?;
    prereq::prepare(root)?;
    let mut run = open_run(root, c)?;
    eprintln!("run {}", run.path.display());
    let measured = external::soak::run(&mut run, &mock, &opts, soak.minutes, soak.rate_rps).await?;
    crate::stages::soak::write_table(&mut std::io::stdout().lock(), &measured)?;
    let failed = measured.len() < opts.targets.len() || measured.iter().any(|(_, s)| !s.passed);
    Ok(exit(failed))
}

/// `crash --target`: the suite, then each fault played from outside, or recorded as what it
/// is from outside; `--control` plays the runtime faults.
pub async fn crash(root: &Path, args: CrashArgs) -> Result<ExitCode> {
    let c = &args.measure.common;
    let ignored = [
        ("--backends", !c.backends.is_empty()),
        ("--force", args.measure.force),
        ("--runtimes", !args.axis.runtimes.is_empty()),
        ("--pool", args.pool.is_some()),
    ];
    let opts = options(root, "crash", &args.external, c, &ignored)?;
    let faults = crate::stages::crash::parse_faults(&args.faults)?;
    let mut settings = crate::stages::crash::Options::new(&opts.ctx).settings;
    if let Some(s) = args.reader_hold_s {
        settings.readers.watch = std::time::Duration::from_secs(s);
    }
    let control = match &args.control {
        Some(cmd) if cmd.trim().is_empty() => {
            bail!("--control is empty: give the shell command that plays the fault")
        }
        Some(cmd) => Some(Control::new(cmd.clone())),
        None => None,
    };
    let mock = external::stage::check_inputs(&opts).await?;
    prereq::prepare(root)?;
    let mut run = open_run(root, c)?;
    eprintln!("run {}", run.path.display());
    let verified =
        external::crash::run(&mut run, &mock, &opts, &faults, &settings, control.as_ref()).await?;
    Ok(exit(verified < opts.targets.len()))
}
