//! The crash matrix for a terminal: one row per backend and fault.

use std::io::Write;

use contract::results::{Applicability, BlastScope, CrashOutcome, RecoveryKind};

use super::Matrix;

/// The statuses shown in a row, most frequent first.
const STATUSES_SHOWN: usize = 3;

pub fn write(out: &mut impl Write, matrix: &Matrix) -> std::io::Result<()> {
    writeln!(
        out,
        "{:<10} {:<18} {:<5} {:<8} {:>7} {:>7} {:>19} {:>8}  {:<34} {:<6} {:>6}",
        "backend",
        "fault",
        "surv",
        "scope",
        "failed",
        "detect",
        "recovery ms",
        "chat ms",
        "new requests",
        "cancel",
        "waste"
    )?;
    for (backend, row) in matrix {
        for (fault, o) in row {
            writeln!(out, "{backend:<10} {:<18} {}", fault.name(), summary(o))?;
        }
    }
    writeln!(
        out,
        "failed: other streams that did not complete / in flight; recovery: fault -> /health 200 \
         (cold start: a fresh process, no supervisor); chat: fault -> first completed new chat; \
         waste: provider tokens sent after the client's last delta"
    )
}

/// One outcome in a line, the columns of [`write`] after the fault.
pub fn summary(o: &CrashOutcome) -> String {
    match o.applicability {
        Applicability::NotApplicable => {
            return format!("n/a   {}", o.note.as_deref().unwrap_or(""));
        }
        Applicability::NotMeasured => {
            return format!("not measured: {}", o.note.as_deref().unwrap_or(""));
        }
        Applicability::Measured => {}
    }
    if let Some(streams) = o.reader_streams {
        return reader_summary(o, streams);
    }
    let ms = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.0}"));
    let survived = match o.survived {
        Some(true) => "yes",
        Some(false) => "no",
        None => "?",
    };
    let (scope, failed) = o.blast_radius.as_ref().map_or(("?", "-".to_owned()), |b| {
        let scope = match b.scope {
            BlastScope::None => "none",
            BlastScope::Request => "request",
            BlastScope::Runtime => "runtime",
            BlastScope::Process => "process",
        };
        (scope, format!("{}/{}", b.bystanders_failed, b.bystanders))
    });
    let kind = match o.recovery_kind {
        Some(RecoveryKind::Unaffected) => "unaffected",
        Some(RecoveryKind::SelfHealed) => "self",
        Some(RecoveryKind::ReplacementColdStart) => "cold start",
        Some(RecoveryKind::NotRecovered) | None => "never",
    };
    let recovery = format!("{} {kind}", ms(o.recovery_ms));
    let mut statuses: Vec<(&String, &u64)> = o.statuses.iter().collect();
    statuses.sort_by(|a, b| b.1.cmp(a.1));
    let statuses: Vec<String> = statuses
        .iter()
        .take(STATUSES_SHOWN)
        .map(|(k, v)| format!("{k}:{v}"))
        .collect();
    let cancel = match o.provider_cancelled {
        Some(true) => "yes",
        Some(false) => "NO",
        None => "-",
    };
    let waste = o
        .provider
        .as_ref()
        .map_or_else(|| "-".to_owned(), |p| p.wasted_tokens.to_string());
    format!(
        "{survived:<5} {scope:<8} {failed:>7} {:>7} {recovery:>19} {:>8}  {:<34} {cancel:<6} {waste:>6}",
        ms(o.detect_ms),
        ms(o.recovery_chat_ms),
        statuses.join(" ")
    )
}

/// A reader fault's line: memory per affected stream, backpressure, the healthy streams.
fn reader_summary(o: &CrashOutcome, streams: u32) -> String {
    // Absent for a target elsewhere, whose memory is not this machine's to read.
    let peak = o.peak_growth_bytes_per_stream.map_or_else(
        || "memory not read".to_owned(),
        |b| format!("peak +{:.0} KB/stream", b / 1e3),
    );
    let yes_no = |v: Option<bool>| match v {
        Some(true) => "yes",
        Some(false) => "no",
        None => "?",
    };
    let change = o.healthy_overhead_change_us.map_or_else(
        || "-".to_owned(),
        |c| match o.healthy_overhead_change_ci95_us {
            Some([lo, hi]) => format!("{c:+.0} us [{lo:+.0}, {hi:+.0}]"),
            None => format!("{c:+.0} us"),
        },
    );
    format!(
        "{:<5} {streams} stream(s): {peak}, provider throttled {} ({:.0}% sent), \
         still growing {}, healthy transit {change}",
        yes_no(o.survived),
        yes_no(o.provider_throttled),
        o.provider_sent_fraction.unwrap_or(f64::NAN) * 100.0,
        yes_no(o.memory_still_growing),
    )
}
