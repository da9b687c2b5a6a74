//! Reading what a seeded failure left in a backend's log: which component wrote each line,
//! whether a line names where the failure happened, whether the request id is in each
//! component's lines, and whether a stack trace crosses from JavaScript into Rust
//! (docs/report.md#debug-experience). Pure functions over the lines, so each check is tested
//! on lines written by hand, and [`new_lines`], which reads them from the log once it has
//! stopped growing (the seeded failures and the hop replays both read the log through it).

use std::path::Path;
use std::time::{Duration, Instant};

use contract::results::{DebugCheck, Verdict};

/// The log is read once it has not grown for this long: a sidecar's lines reach the server's
/// log through a pipe and a forwarding task.
const LOG_QUIET: Duration = Duration::from_millis(150);
/// The longest the log is waited for after an answer.
const LOG_WAIT: Duration = Duration::from_secs(2);

pub(super) fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// The lines written to `path` past `offset`, once the file has stopped growing.
pub async fn new_lines(path: &Path, offset: u64) -> Vec<String> {
    let deadline = Instant::now() + LOG_WAIT;
    let mut size = file_len(path);
    loop {
        tokio::time::sleep(LOG_QUIET).await;
        let now = file_len(path);
        if now == size || Instant::now() >= deadline {
            break;
        }
        size = now;
    }
    let bytes = std::fs::read(path).unwrap_or_default();
    let start = usize::try_from(offset)
        .unwrap_or(usize::MAX)
        .min(bytes.len());
    String::from_utf8_lossy(&bytes[start..])
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

/// Who wrote a log line, as the operator can tell from the line alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Component {
    /// A Rust log line (the server, or napi's addon).
    Rust,
    /// A sidecar's line, forwarded into the server's log under the `sidecar` target.
    Sidecar,
    /// A line napi's JavaScript host logged through the addon (`napi::js`).
    JsHost,
    /// Output no logger tagged: a panic message, an uncaught exception's trace.
    Untagged,
}

impl Component {
    pub fn name(self) -> &'static str {
        match self {
            Self::Rust => "rust",
            Self::Sidecar => "sidecar",
            Self::JsHost => "js host",
            Self::Untagged => "untagged output",
        }
    }
}

/// A line in the log format every backend shares (`launch::init_tracing`): timestamp, level,
/// target, then the rest.
struct Tagged<'a> {
    level: &'a str,
    target: &'a str,
}

fn tagged(line: &str) -> Option<Tagged<'_>> {
    let mut words = line.split_whitespace();
    let stamp = words.next()?;
    let level = words.next()?;
    let target = words.next()?.strip_suffix(':')?;
    let is_stamp = stamp.as_bytes().first().is_some_and(u8::is_ascii_digit) && stamp.contains('T');
    let is_level = matches!(level, "TRACE" | "DEBUG" | "INFO" | "WARN" | "ERROR");
    (is_stamp && is_level).then_some(Tagged { level, target })
}

pub fn component(line: &str) -> Component {
    match tagged(line) {
        // The sidecar's own logger writes `sidecar[<pid>]: ...`; anything else it printed (an
        // uncaught exception's trace) is the Node process's raw output, forwarded.
        Some(t) if t.target == "sidecar" && line.contains(": sidecar[") => Component::Sidecar,
        Some(t) if t.target == "sidecar" => Component::Untagged,
        Some(t) if t.target == "napi::js" => Component::JsHost,
        Some(_) => Component::Rust,
        None => Component::Untagged,
    }
}

/// The shell's lines every request gets, failed or not (`request`, and a stream that ended as
/// completed): an id in them says the request happened, not what went wrong with it.
pub fn routine(line: &str) -> bool {
    tagged(line).is_some_and(|t| {
        t.level == "INFO"
            && (t.target == "leanspec_core::server"
                || (t.target == "leanspec_core::chat_route"
                    && line.contains("ending=\"completed\"")))
    })
}

/// The lines written while the request was being answered: up to the shell's line that ended
/// its stream, or all of them when no such line came (a process that died takes its shell with
/// it), and after it only the lines that name the request. What else follows, a restarted
/// sidecar's start-up lines among them, is not about the failure, and whether it lands inside
/// the log window is a matter of timing. A sidecar's own line about the failure can land just
/// after the end: it reaches the server's log through a forwarding task while the stream's end
/// takes the socket (on the `frames` wire the two are microseconds apart, docs/frames.md).
pub fn until_answer_ended(lines: &[String], request_id: &str) -> Vec<String> {
    let ended = lines.iter().position(|l| {
        tagged(l).is_some_and(|t| t.target == "leanspec_core::chat_route")
            && l.contains("chat stream ended")
            && l.contains(request_id)
    });
    match ended {
        None => lines.to_vec(),
        Some(at) => lines[..=at]
            .iter()
            .chain(lines[at + 1..].iter().filter(|l| l.contains(request_id)))
            .cloned()
            .collect(),
    }
}

/// `file.ext:LINE` somewhere in `text` for one of `exts`.
fn names_file_line(text: &str, exts: &[&str]) -> bool {
    text.split(|c: char| c.is_whitespace() || c == '(' || c == ')')
        .any(|word| {
            exts.iter().any(|ext| {
                word.split_once(ext).is_some_and(|(path, rest)| {
                    !path.is_empty()
                        && rest
                            .strip_prefix(':')
                            .and_then(|r| r.split(':').next())
                            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                })
            })
        })
}

const JS: [&str; 3] = [".mjs", ".cjs", ".js"];
const RUST: [&str; 1] = [".rs"];

/// A JavaScript stack frame or location (`at f (file:///x/chat.mjs:12:3)`, ` at dist/chat.mjs:12:3`).
pub fn js_frame(line: &str) -> bool {
    line.contains("at ") && names_file_line(line, &JS)
}

/// A line that names where a failure happened: a Rust warning or error (whose logger prints the
/// file and line of the call that reported it), a Rust panic's location, or a JavaScript frame.
/// An informational Rust line names a file too, but only where routine logging happens.
pub fn names_where(line: &str) -> bool {
    let rust_report = tagged(line).is_some_and(|t| matches!(t.level, "WARN" | "ERROR"))
        && names_file_line(line, &RUST);
    let panic = line.contains("panicked at ") && names_file_line(line, &RUST);
    rust_report || panic || js_frame(line)
}

/// A Rust backtrace frame as `RUST_BACKTRACE=1` prints it (`  12: crate::f` / `at src/x.rs:3:4`).
fn rust_frame(line: &str) -> bool {
    let t = line.trim_start();
    let numbered = t.split_once(": ").is_some_and(|(n, f)| {
        !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) && f.contains("::")
    });
    numbered || (t.starts_with("at ") && names_file_line(t, &RUST))
}

/// (a): one of the lines the failure added names where it failed.
pub fn check_where(lines: &[String]) -> DebugCheck {
    let check = "a log line names where it failed (file and line)".to_owned();
    match lines.iter().find(|l| names_where(l)) {
        Some(line) => met(check, cut(line)),
        None if lines.is_empty() => failed(check, "the failure added nothing to the log".into()),
        None => failed(
            check,
            format!(
                "{} lines, none names a file and line of the failure",
                lines.len()
            ),
        ),
    }
}

/// (b): the client got the id back, and every component that wrote about the failure named it
/// in at least one of its lines. Untagged output (a panic message, an uncaught exception) has no
/// component to hold to it, but a failure only such output reports misses the id; so does one
/// whose id is only in the shell's [`routine`] lines.
pub fn check_request_id(lines: &[String], request_id: &str, echoed: Option<&str>) -> DebugCheck {
    let check = "the request id the client saw is in each component's lines".to_owned();
    let lines: Vec<&String> = lines.iter().filter(|l| !routine(l)).collect();
    if echoed != Some(request_id) {
        return failed(
            check,
            format!("the response carried x-request-id {echoed:?}, not {request_id:?}"),
        );
    }
    let mut components: Vec<Component> = lines
        .iter()
        .map(|l| component(l))
        .filter(|c| *c != Component::Untagged)
        .collect();
    components.sort();
    components.dedup();
    let without: Vec<&str> = components
        .iter()
        .filter(|c| {
            !lines
                .iter()
                .any(|l| component(l) == **c && l.contains(request_id))
        })
        .map(|c| c.name())
        .collect();
    let anywhere = lines.iter().any(|l| l.contains(request_id));
    let named: Vec<&str> = components.iter().map(|c| c.name()).collect();
    if !anywhere {
        failed(check, "no log line carries it".into())
    } else if !without.is_empty() {
        failed(
            check,
            format!("missing from the lines of: {}", without.join(", ")),
        )
    } else {
        met(check, format!("in the lines of: {}", named.join(", ")))
    }
}

/// (c): a stack trace in the lines holds both JavaScript and Rust frames.
pub fn crosses_boundary(lines: &[String]) -> bool {
    lines.iter().any(|l| js_frame(l)) && lines.iter().any(|l| rust_frame(l))
}

pub fn met(check: String, detail: String) -> DebugCheck {
    DebugCheck {
        check,
        verdict: Verdict::Met,
        detail,
    }
}

pub fn failed(check: String, detail: String) -> DebugCheck {
    DebugCheck {
        check,
        verdict: Verdict::Failed,
        detail,
    }
}

pub fn not_applicable(check: String, why: &str) -> DebugCheck {
    DebugCheck {
        check,
        verdict: Verdict::NotApplicable,
        detail: why.to_owned(),
    }
}

/// At most [`LINE_KEPT`] bytes of a line, on a character boundary.
pub fn cut(line: &str) -> String {
    let line = line.trim_end();
    let mut end = line.len().min(LINE_KEPT);
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    line[..end].to_owned()
}

/// How much of a log line results.json keeps: enough for the message, its fields and a location.
pub const LINE_KEPT: usize = 400;

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(str::to_owned).collect()
    }

    const RELAY: &str = "2026-12-06T14:30:00.1Z  WARN sidecar_host::relay: backends/sidecar-host/src/relay.rs:251: chat stream from the sidecar failed: cut request_id=dbg-1";
    const ENDED: &str = "2026-12-06T14:30:00.2Z  INFO leanspec_core::chat_route: backends/core/src/chat_route.rs:300: chat stream ended request_id=dbg-1 ending=\"completed\"";
    const SIDECAR: &str = "2026-12-06T14:30:00.1Z  INFO sidecar: backends/sidecar-host/src/sidecar.rs:282: sidecar[9]: chat stream failed [request dbg-1]: APICallError: 500 at file:///srv/dist/server.mjs:812:13 member=0 pid=9";

    #[test]
    fn lines_after_the_answer_ended_are_not_about_the_failure() {
        let restarted = "2026-12-06T14:30:00.4Z  INFO sidecar: backends/sidecar-host/src/sidecar.rs:282: sidecar[10]: listening on unix:/tmp/x.sock member=0 pid=10";
        // A sidecar that died leaves the relay's line; the one started after it logs no id.
        let all = lines(&[RELAY, ENDED, restarted].join("\n"));
        assert_eq!(until_answer_ended(&all, "dbg-1"), &all[..2]);
        assert_eq!(
            check_request_id(&until_answer_ended(&all, "dbg-1"), "dbg-1", Some("dbg-1")).verdict,
            Verdict::Met
        );
        assert_eq!(
            check_request_id(&all, "dbg-1", Some("dbg-1")).verdict,
            Verdict::Failed
        );
        // Another request's end does not cut; without an end every line counts.
        assert_eq!(until_answer_ended(&all, "dbg-2").len(), 3);
    }

    #[test]
    fn a_line_naming_the_request_just_after_its_end_is_about_the_failure() {
        // The sidecar's line, forwarded a little after the shell ended the stream.
        let all = lines(&[ENDED, SIDECAR].join("\n"));
        let about = until_answer_ended(&all, "dbg-1");
        assert_eq!(about, all);
        assert_eq!(check_where(&about).verdict, Verdict::Met);
        assert_eq!(
            check_request_id(&about, "dbg-1", Some("dbg-1")).verdict,
            Verdict::Met
        );
    }

    #[test]
    fn components_come_from_the_target() {
        assert_eq!(component(RELAY), Component::Rust);
        assert_eq!(component(SIDECAR), Component::Sidecar);
        assert_eq!(
            component("2026-12-06T1Z  WARN napi::js: backends/napi/src/backend.rs:138: x"),
            Component::JsHost
        );
        assert_eq!(
            component("thread 'w' panicked at backends/core/src/tools.rs:151:25:"),
            Component::Untagged
        );
    }

    #[test]
    fn a_routine_info_line_does_not_name_where_a_failure_is() {
        assert!(!names_where(ENDED));
        assert!(names_where(RELAY));
        assert!(names_where(SIDECAR), "the JS location inside it counts");
        assert!(names_where(
            "thread 'w' panicked at backends/core/src/tools.rs:151:25:"
        ));
        assert!(names_where(
            "    at Immediate.<anonymous> (file:///srv/dist/chat.mjs:40:11)"
        ));
        assert!(!names_where("Error: runtime crash requested by tool"));
    }

    #[test]
    fn a_backend_that_logs_nothing_fails_the_location_and_the_id() {
        let none: Vec<String> = Vec::new();
        assert_eq!(check_where(&none).verdict, Verdict::Failed);
        assert_eq!(
            check_request_id(&none, "dbg-1", Some("dbg-1")).verdict,
            Verdict::Failed
        );
        let routine = lines(ENDED);
        assert_eq!(check_where(&routine).verdict, Verdict::Failed);
    }

    #[test]
    fn the_id_must_be_in_every_components_lines_and_echoed() {
        let both = lines(&format!("{RELAY}\n{SIDECAR}"));
        assert_eq!(
            check_request_id(&both, "dbg-1", Some("dbg-1")).verdict,
            Verdict::Met
        );
        assert_eq!(
            check_request_id(&both, "dbg-1", None).verdict,
            Verdict::Failed,
            "the client never saw the id"
        );
        let sidecar_without = SIDECAR.replace("[request dbg-1]", "[request -]");
        let check = check_request_id(
            &lines(&format!("{RELAY}\n{sidecar_without}")),
            "dbg-1",
            Some("dbg-1"),
        );
        assert_eq!(check.verdict, Verdict::Failed);
        assert!(check.detail.contains("sidecar"), "{}", check.detail);
        // A runtime that dies prints its trace raw, with no id; only the server's routine line
        // names the request: that is not a line about the failure.
        let crash = lines(&format!(
            "{ENDED}\n2026-12-06T1Z  INFO sidecar: backends/sidecar-host/src/sidecar.rs:282:     at f (file:///srv/chat.mjs:1:2)"
        ));
        assert_eq!(component(&crash[1]), Component::Untagged);
        assert_eq!(
            check_request_id(&crash, "dbg-1", Some("dbg-1")).verdict,
            Verdict::Failed
        );
        // Untagged output is not a component, but cannot carry the whole check either.
        let panic_only = lines("thread 'w' panicked at backends/core/src/tools.rs:1:2:");
        assert_eq!(
            check_request_id(&panic_only, "dbg-1", Some("dbg-1")).verdict,
            Verdict::Failed
        );
    }

    #[test]
    fn a_stack_crosses_the_boundary_only_with_frames_of_both_languages() {
        let js_only = lines("Error: x\n    at f (file:///srv/main.js:10:3)");
        assert!(!crosses_boundary(&js_only));
        let rust_only = lines(
            "   0: backend_napi::chat::call_js\n             at backends/napi/src/chat.rs:140:5",
        );
        assert!(!crosses_boundary(&rust_only));
        let both = [js_only, rust_only].concat();
        assert!(crosses_boundary(&both));
    }

    #[test]
    fn cut_keeps_a_character_boundary() {
        let long = format!("{}é", "a".repeat(LINE_KEPT - 1));
        assert_eq!(cut(&long), "a".repeat(LINE_KEPT - 1));
    }
}
