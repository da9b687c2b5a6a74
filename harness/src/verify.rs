//! Verify before benchmark: a stage that measures backends asks here which ones passed
//! conformance in the current run. A backend that failed (or was never verified) is skipped,
//! and the skip is recorded in results.json, unless the caller forces it.

use contract::results::{Results, StageSkip};

/// Which of `candidates` `stage` may measure. Skipped backends get a [`StageSkip`] in
/// `results`; forced ones are kept and named on stderr.
pub fn verified_backends(
    results: &mut Results,
    candidates: &[String],
    stage: &str,
    force: bool,
) -> Vec<String> {
    let mut keep = Vec::new();
    for name in candidates {
        let problem = match results
            .backends
            .get(name)
            .and_then(|b| b.conformance.as_ref())
        {
            Some(c) if c.is_verified() => None,
            Some(c) => Some(format!("failed {} conformance case(s)", c.failed)),
            None => Some("conformance has not run in this run".to_owned()),
        };
        match problem {
            None => keep.push(name.clone()),
            Some(why) if force => {
                eprintln!("[{name}] {why}; measured anyway (--force)");
                keep.push(name.clone());
            }
            Some(why) => {
                let reason = format!("{why}; pass --force to measure it anyway");
                eprintln!("[{name}] {stage} skipped: {reason}");
                results.backend_mut(name).skipped.push(StageSkip {
                    stage: stage.to_owned(),
                    reason,
                });
            }
        }
    }
    keep
}

#[cfg(test)]
mod tests {
    use super::*;
    use contract::results::{CaseResult, Conformance, Outcome, RunInfo};

    fn results() -> Results {
        let mut r = Results::new(RunInfo {
            id: "x".into(),
            git_sha: "x".into(),
            started_at: "x".into(),
            profile: "debug".into(),
            machine: Default::default(),
            versions: Default::default(),
        });
        let case = |o| CaseResult {
            scenario: "text".into(),
            outcome: o,
            reason: None,
            raw_stream: None,
        };
        r.backend_mut("good").conformance = Some(Conformance::from_cases(vec![case(Outcome::Ok)]));
        r.backend_mut("bad").conformance =
            Some(Conformance::from_cases(vec![case(Outcome::Failed)]));
        r
    }

    #[test]
    fn skips_failed_and_unverified_backends_and_records_why() {
        let mut r = results();
        let names = ["good", "bad", "new"].map(String::from);
        assert_eq!(verified_backends(&mut r, &names, "bench", false), ["good"]);
        assert_eq!(r.backends["bad"].skipped[0].stage, "bench");
        assert!(r.backends["bad"].skipped[0].reason.contains("failed 1"));
        assert!(r.backends["new"].skipped[0].reason.contains("has not run"));
        assert!(r.backends["good"].skipped.is_empty());
    }

    #[test]
    fn force_keeps_them_without_recording_a_skip() {
        let mut r = results();
        let names = ["good", "bad"].map(String::from);
        assert_eq!(verified_backends(&mut r, &names, "bench", true), names);
        assert!(r.backends["bad"].skipped.is_empty());
    }
}
