//! The soak stage on a backend with a JS runtime and one without, side by side, for a few
//! seconds: what it records agrees with itself and with the schema, and bad lengths and rates
//! are refused before anything starts.

// Test helpers: a failed setup step should stop the test where it happened.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::Duration;

use harness::run_dir::RunDir;
use harness::stages::Context;
use harness::stages::soak::{self, Options};
use sut_kit::manifest::{self, Backend};

/// The profile whose build of `backends` (and of the mock provider) exists, if any.
fn built_profile(root: &Path, backends: &[&Backend]) -> Option<&'static str> {
    ["release", "debug"].into_iter().find(|p| {
        root.join(format!("target/{p}/mock-provider")).is_file()
            && backends
                .iter()
                .all(|b| b.missing_artifacts(root, p).is_empty())
    })
}

fn options(root: &Path, minutes: f64, rate_rps: f64) -> Options {
    Options {
        minutes,
        rate_rps,
        ..Options::new(&Context {
            quick: true,
            force: true,
            ready_timeout: Duration::from_secs(60),
            ..Context::new(root.to_owned())
        })
    }
}

#[tokio::test]
async fn a_short_soak_of_two_backends_side_by_side_records_what_it_saw() {
    let root = sut_kit::repo_root();
    let all = manifest::discover(&root.join("backends")).unwrap();
    let pick = |n: &str| all.iter().find(|b| b.name() == n).unwrap().clone();
    let chosen = [pick("unix"), pick("rust-only")];
    let Some(profile) = built_profile(&root, &chosen.iter().collect::<Vec<_>>()) else {
        eprintln!("SKIPPED: unix, rust-only or the mock provider is not built; run scripts/setup");
        return;
    };
    let reports = tempfile::tempdir().unwrap();
    let mut run = RunDir::create(reports.path(), &root, profile).unwrap();
    // 6 s at 5 conversations/s: about 30 each, and a sample a second.
    let opts = options(&root, 0.1, 5.0);
    let measured = soak::run(&chosen, &mut run, &opts).await.unwrap();
    let mut table = Vec::new();
    soak::write_table(&mut table, &measured).unwrap();
    eprintln!("{}", String::from_utf8_lossy(&table));
    assert_eq!(measured.len(), 2);
    for (name, s) in &measured {
        assert_eq!(s, run.results.backends[name].soak.as_ref().unwrap());
        assert!(s.requests >= 10, "{name}: {} sent", s.requests);
        assert_eq!(s.errors, s.error_kinds.values().sum::<u64>(), "{name}");
        assert!(s.samples.len() >= 3, "{name}: {} samples", s.samples.len());
        assert!(s.samples.windows(2).all(|w| w[0].t_s < w[1].t_s));
        for x in &s.samples {
            assert!(
                x.rss_bytes > 0 && x.pss_bytes <= x.rss_bytes,
                "{name}: {x:?}"
            );
            assert!(x.fds >= x.sockets && x.sockets > 0, "{name}: {x:?}");
        }
        // The JavaScript heap: unix's sidecar reports it through /health/runtime, rust-only
        // has none.
        let heaps: Vec<_> = s.samples.iter().filter_map(|x| x.heap).collect();
        if name == "rust-only" {
            assert!(heaps.is_empty(), "{name}: {heaps:?}");
            assert!(s.heap_used_slope_mb_per_h.is_none());
        } else {
            assert!(!heaps.is_empty(), "{name}: no sample has its heap");
            for h in &heaps {
                assert_eq!(h.runtimes, 1, "{name}: one sidecar");
                assert!(0 < h.heap_used_bytes && h.heap_used_bytes <= h.heap_total_bytes);
                assert!(h.array_buffers_bytes <= h.external_bytes, "{name}: {h:?}");
            }
        }
        assert!(s.rss_slope_mb_per_h.is_some(), "{name}: a slope is fitted");
        // Six seconds leave no warm-up long enough to judge growth: errors alone decide.
        assert_eq!(s.passed, s.errors == 0, "{name}: {}", s.verdict);
        if s.passed {
            assert!(s.verdict.contains("not judged"), "{name}: {}", s.verdict);
        }
    }
    let record = run.results.soak.as_ref().unwrap();
    assert!(record.concurrent && record.quick);
    assert_eq!(record.mix.values().sum::<u32>(), 10);
    let json = serde_json::to_value(&run.results).unwrap();
    assert_eq!(harness::schema::violations(&json), Vec::<String>::new());
}

#[tokio::test]
async fn bad_lengths_and_rates_are_refused_before_anything_starts() {
    let root = sut_kit::repo_root();
    let reports = tempfile::tempdir().unwrap();
    let mut run = RunDir::create(reports.path(), &root, "debug").unwrap();
    for (minutes, rate) in [
        (0.0, 2.0),
        (-1.0, 2.0),
        (f64::NAN, 2.0),
        (1.0, 0.0),
        (1.0, 1e6),
    ] {
        let err = soak::run(&[], &mut run, &options(&root, minutes, rate))
            .await
            .unwrap_err();
        let message = format!("{err:#}");
        assert!(
            message.contains("--minutes") || message.contains("--rate"),
            "{message}"
        );
    }
    assert!(run.results.soak.is_none());
}
