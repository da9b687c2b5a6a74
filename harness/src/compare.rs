//! `harness compare`: every stage in one run (build -> conformance -> browser -> bench -> start ->
//! crash -> soak -> evidence -> cost -> report), each recorded in the run folder as it finishes. A stage that fails
//! does not hide the others' results: later stages run on whatever they can still measure, and
//! the exit code says what happened (0 all good, 1 a backend failed something, 2 the harness
//! could not do its job). A machine without Chromium skips the browser stage with the reason
//! recorded, rather than failing a run whose measurements do not need it. Each stage's wall time
//! is recorded beside its budget ([`crate::budget`]).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use conformance::manifest::Backend;
use contract::results::{StageSkip, stages as names};

use crate::budget::StageTimer;
use crate::run_dir::RunDir;
use crate::{bench, browser_stage, conformance_stage, cost, crash, evidence, soak, stages, start};

/// What a whole run is asked to do; the command line builds it (`harness compare`).
#[derive(Debug, Clone)]
pub struct Options {
    pub root: PathBuf,
    /// Fewer rounds, load points, cases and faults: minutes instead of tens of minutes.
    pub quick: bool,
    /// Conformance scenarios to run; empty runs them all.
    pub scenarios: Vec<String>,
    /// Seed of the bench stage's round orders, arrivals and bootstrap.
    pub seed: u64,
    /// How long a backend may take to print its ready line.
    pub ready_timeout: Duration,
}

/// How the run went, worst first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Verdict {
    AllGood,
    BackendFailed,
    HarnessFailed,
}

impl Verdict {
    fn code(self) -> ExitCode {
        match self {
            Verdict::AllGood => ExitCode::SUCCESS,
            Verdict::BackendFailed => ExitCode::from(1),
            Verdict::HarnessFailed => ExitCode::from(2),
        }
    }
}

/// Runs the whole pipeline on `backends` into `run`.
pub async fn run(backends: &[Backend], run: &mut RunDir, opts: &Options) -> ExitCode {
    let root = opts.root.as_path();
    let quick = opts.quick;
    let ready_timeout = opts.ready_timeout;
    let mut verdict = Verdict::AllGood;
    let mut note = |v: Verdict, stage: &str, why: Option<&anyhow::Error>| {
        if let Some(e) = why {
            eprintln!("\ncompare: the {stage} stage could not finish: {e:#}");
        }
        verdict = verdict.max(v);
    };

    // Every build step runs, --quick or not: an artifact's presence says nothing of the profile
    // that made it (the napi addon has one path for debug and release, and the tests build it
    // in debug), and cargo and npm make an up-to-date step cost seconds. A clean build study
    // takes minutes per backend: compare reuses one cached for these sources and measures none
    // (`harness build --clean-builds` does).
    let timer = StageTimer::start(names::BUILD, quick);
    // A variant (`unix+frames`, or `unix@bun` on another runtime) is its base backend started
    // with other flags or another runtime: built with it, and measured only by conformance and
    // the bench (docs/frames.md#in-the-harness, docs/design.md#runtimes).
    let (variants, bases): (Vec<Backend>, Vec<Backend>) =
        backends.iter().cloned().partition(Backend::is_variant);
    let backends = bases.as_slice();
    let build_failed = match stages::build(root, backends, run, false, false).await {
        Ok(failed) => failed,
        Err(e) => {
            note(Verdict::HarnessFailed, "build", Some(&e));
            Vec::new()
        }
    };
    if !build_failed.is_empty() {
        note(Verdict::BackendFailed, "build", None);
    }
    let mut built = Vec::new();
    for b in backends {
        if build_failed.contains(&b.name().to_owned()) {
            run.results.backend_mut(b.name()).skipped.push(StageSkip {
                stage: conformance_stage::STAGE.into(),
                reason: "its build failed; see logs/build".into(),
            });
        } else {
            built.push(b.clone());
        }
    }
    let wired: Vec<Backend> = built
        .iter()
        .cloned()
        .chain(
            variants
                .iter()
                .filter(|v| built.iter().any(|x| x.name() == v.base_name()))
                .cloned(),
        )
        .collect();
    timer.finish(&mut run.results);
    if let Err(e) = run.save() {
        note(Verdict::HarnessFailed, "build", Some(&e));
    }

    let timer = StageTimer::start(names::CONFORMANCE, quick);
    let conformance_opts = conformance_stage::Options {
        root: root.to_owned(),
        scenarios: opts.scenarios.clone(),
        quick,
        ready_timeout,
        explicit: false,
    };
    match stages::conformance(&wired, run, &conformance_opts).await {
        Ok(false) => {}
        Ok(true) => note(Verdict::BackendFailed, "conformance", None),
        Err(e) => note(Verdict::HarnessFailed, "conformance", Some(&e)),
    }
    timer.finish(&mut run.results);

    let timer = StageTimer::start(names::BROWSER, quick);
    browser(&built, run, opts, &mut note).await;
    timer.finish(&mut run.results);

    let timer = StageTimer::start(names::BENCH, quick);
    let bench_opts = bench::Options {
        root: root.to_owned(),
        quick,
        rounds: None,
        inject_delay_us: vec![],
        force: false,
        // A backend that failed conformance is recorded as skipped by the bench; in compare
        // that is the conformance stage's failure, not a harness failure.
        explicit: false,
        load: true,
        ready_timeout,
        seed: opts.seed,
        sut_cpus: None,
        inject_cpu_us: Vec::new(),
        proofs: false,
    };
    if let Err(e) = stages::bench(&wired, run, &bench_opts).await {
        note(Verdict::HarnessFailed, "bench", Some(&e));
    }
    timer.finish(&mut run.results);

    let timer = StageTimer::start(names::START, quick);
    let start_opts = start::Options {
        root: root.to_owned(),
        starts: if quick {
            start::QUICK_STARTS
        } else {
            start::STARTS
        },
        ready_timeout,
        force: false,
    };
    // Cold start on each runtime of the axis too (no `+frames` variant: it starts as its base).
    let started: Vec<Backend> = built
        .iter()
        .chain(wired.iter().filter(|b| b.js_runtime.is_some()))
        .cloned()
        .collect();
    if let Err(e) = stages::start(&started, run, &start_opts).await {
        note(Verdict::HarnessFailed, "start", Some(&e));
    }
    timer.finish(&mut run.results);

    let timer = StageTimer::start(names::CRASH, quick);
    let crash_opts = crash::Options {
        root: root.to_owned(),
        quick,
        settings: if quick {
            crash::Settings::quick()
        } else {
            crash::Settings::full()
        },
        faults: Vec::new(),
        pool: None,
        ready_timeout,
        force: false,
    };
    if let Err(e) = stages::crash(&built, run, &crash_opts).await {
        note(Verdict::HarnessFailed, "crash", Some(&e));
    }
    timer.finish(&mut run.results);

    // The four backends soaked at once (docs/soak.md): one minute with --quick, ten without.
    let timer = StageTimer::start(names::SOAK, quick);
    let soak_opts = soak::Options::new(root.to_owned(), quick, ready_timeout);
    match stages::soak(&built, run, &soak_opts).await {
        Ok(false) => {}
        Ok(true) => note(Verdict::BackendFailed, "soak", None),
        Err(e) => note(Verdict::HarnessFailed, "soak", Some(&e)),
    }
    timer.finish(&mut run.results);

    // Instances side by side and another user's probes: the same in a quick run and a full
    // one, since each part is one start per instance (docs/report.md#evidence).
    let timer = StageTimer::start(names::EVIDENCE, quick);
    let evidence_opts = evidence::Options {
        root: root.to_owned(),
        instances: evidence::INSTANCES,
        ready_timeout,
        force: false,
    };
    if let Err(e) = stages::evidence(&built, run, &evidence_opts).await {
        note(Verdict::HarnessFailed, "evidence", Some(&e));
    }
    timer.finish(&mut run.results);

    let timer = StageTimer::start(names::COST, quick);
    let prices = cost::prices_path(root, None);
    if let Err(e) = stages::cost(root, backends, run, &prices) {
        note(Verdict::HarnessFailed, "cost", Some(&e));
    }
    timer.finish(&mut run.results);

    // The report reads whatever the stages above recorded, failed ones included; its own time
    // reaches results.json only, after it rendered.
    let timer = StageTimer::start(names::REPORT, quick);
    if let Err(e) = stages::report(root, run, false) {
        note(Verdict::HarnessFailed, "report", Some(&e));
    }
    timer.finish(&mut run.results);
    if let Err(e) = run.save() {
        note(Verdict::HarnessFailed, "report", Some(&e));
    }

    eprintln!("\ncompare: stage times");
    let _ = crate::budget::write_table(&mut std::io::stderr().lock(), &run.results.stages);
    eprintln!(
        "\ncompare: {} (run {})",
        match verdict {
            Verdict::AllGood => "every stage passed",
            Verdict::BackendFailed => "a backend failed a stage (see above)",
            Verdict::HarnessFailed => "a stage could not do its job (see above)",
        },
        run.path.display()
    );
    verdict.code()
}

/// The browser stage on every built backend, or its skip recorded for each when the machine has
/// no Chromium.
async fn browser(
    built: &[Backend],
    run: &mut RunDir,
    opts: &Options,
    note: &mut impl FnMut(Verdict, &str, Option<&anyhow::Error>),
) {
    if let Err(missing) = conformance::chromium::find() {
        eprintln!("\ncompare: the browser stage is skipped: {missing}");
        for b in built {
            run.results.backend_mut(b.name()).skipped.push(StageSkip {
                stage: browser_stage::STAGE.into(),
                reason: missing.to_string(),
            });
        }
        if let Err(e) = run.save() {
            note(Verdict::HarnessFailed, browser_stage::STAGE, Some(&e));
        }
        return;
    }
    let browser_opts = browser_stage::Options {
        root: opts.root.clone(),
        cases: browser_stage::cases_for(opts.quick),
        ready_timeout: opts.ready_timeout,
        explicit: false,
    };
    match stages::browser(built, run, &browser_opts).await {
        Ok(false) => {}
        Ok(true) => note(Verdict::BackendFailed, browser_stage::STAGE, None),
        Err(e) => note(Verdict::HarnessFailed, browser_stage::STAGE, Some(&e)),
    }
}
