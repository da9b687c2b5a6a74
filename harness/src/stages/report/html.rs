//! report.html: one self-contained page (inline CSS and SVG, screenshots as data URLs; no
//! script, font, style sheet or image from anywhere else), read top to bottom: the verdict and the matrix, then the
//! evidence, then how the run was made.

use std::fmt::Write;
use std::path::Path;

use base64::Engine;

use contract::results::{Matrix, Results};

use super::charts::evidence::Figure;
use super::format::NOT_MEASURED;
use super::sections;
use super::tables::{self, Table};
use super::verdict::verdict;

const STYLE: &str = "
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:0 auto;max-width:1080px;padding:1rem 1.5rem 4rem;color:#1d1d1f;line-height:1.45}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{margin-top:2.4rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}
.meta{color:#555;margin-top:0}
.verdict{background:#f4f7fb;border-left:4px solid #0072b2;padding:.6rem 1rem}
.verdict .headline{font-size:1.2rem;font-weight:600}
table{border-collapse:collapse;margin:.8rem 0;font-size:.92rem}
th,td{border:1px solid #d0d0d0;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f0f0f0}
td small{display:block;color:#555}
td.up{background:#e3f4e8}td.down{background:#fbe4e4}td.off{background:#fff1d6}
td.nm{color:#777;font-style:italic}td.lead{font-weight:700;background:#e3f4e8}
td.ok{background:#cdebd6}td.warn{background:#ffe3a8}td.bad{background:#f6c4c4}
figure.chart{margin:1.2rem 0}figure.chart svg{max-width:100%;height:auto;display:block}
figcaption{color:#333;margin-top:.3rem}
.not-measured{color:#777;font-style:italic}
.screenshots{display:grid;grid-template-columns:repeat(auto-fit,minmax(240px,1fr));gap:1rem}
figure.screenshot{margin:0}figure.screenshot img{width:100%;height:auto;border:1px solid #d0d0d0}
ul.tight li{margin:.15rem 0}
";

/// Past this a screenshot is not embedded: a report is one file a person mails or attaches, and
/// a full-page PNG of the chat page is far smaller (docs/report.md#the-chat-page).
pub const MAX_SCREENSHOT_BYTES: u64 = 4 * 1024 * 1024;

/// One backend's chat-page screenshot, read from the run folder for embedding, or why not.
#[derive(Debug, Clone)]
pub struct Screenshot {
    pub backend: String,
    pub png: Result<Vec<u8>, String>,
}

impl Screenshot {
    /// Reads `file` (relative to the run folder `run`).
    pub fn load(backend: String, file: &str, run: Option<&Path>) -> Self {
        let png = match run {
            None => Err(format!(
                "{file} is in a run folder this report was not given"
            )),
            Some(run) => {
                let path = run.join(file);
                match std::fs::metadata(&path) {
                    Err(e) => Err(format!("cannot read {file}: {e}")),
                    Ok(m) if m.len() > MAX_SCREENSHOT_BYTES => Err(format!(
                        "{file} is {} bytes, more than a report embeds; open it from the run folder",
                        m.len()
                    )),
                    Ok(_) => std::fs::read(&path).map_err(|e| format!("cannot read {file}: {e}")),
                }
            }
        };
        Self { backend, png }
    }
}

/// The whole page.
pub fn page(results: &Results, figures: &[Figure], shots: &[Screenshot]) -> String {
    let run = &results.run;
    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>Arena report {id}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
         <h1>Chat-architecture arena: which way to wire the AI SDK into a Rust server</h1>\n\
         <p class=\"meta\">Run {id} · commit {sha} · started {at} · {profile} build</p>\n",
        id = esc(&run.id),
        sha = esc(&run.git_sha),
        at = esc(&run.started_at),
        profile = esc(&run.profile),
    );
    match &results.matrix {
        Some(m) => matrix_sections(&mut h, m),
        None => h.push_str(
            "<section id=\"verdict\"><h2>Verdict</h2><p class=\"not-measured\">No decision \
             matrix in this run: run <code>harness report</code> to compute it.</p></section>\n",
        ),
    }
    h.push_str("<h2 id=\"evidence\">The evidence</h2>\n");
    for f in figures {
        figure(&mut h, f);
    }
    section(&mut h, "crash", "Crash matrix", &sections::crash(results));
    section(
        &mut h,
        "proxies",
        "Measured proxies: maintainability, cross-platform, port conflicts, security",
        &sections::proxies(results),
    );
    section(
        &mut h,
        "load-points",
        "Load points",
        &sections::load_points(results),
    );
    if let Some(body) = sections::runtimes(results) {
        section(&mut h, "runtimes", "By JavaScript runtime", &body);
    }
    if let Some(body) = sections::sidecar_pool(results) {
        section(&mut h, "sidecar-pool", "The sidecar pool", &body);
    }
    if let Some(body) = sections::beyond_one_machine(results) {
        section(&mut h, "beyond-one-machine", "Beyond one machine", &body);
    }
    if let Some(body) = sections::deploying(results) {
        section(&mut h, "deploying", "Deploying it", &body);
    }
    section(
        &mut h,
        "calibration",
        "Calibration: the transports' own floor",
        &sections::calibration(results),
    );
    section(
        &mut h,
        "conformance",
        "Conformance",
        &sections::conformance(results),
    );
    chat_page(&mut h, results, shots);
    if let Some(m) = &results.matrix {
        section(
            &mut h,
            "method",
            "How the stars were given",
            &sections::method(m),
        );
    }
    section(&mut h, "run", "The run", &sections::run(results));
    h.push_str("</body>\n</html>\n");
    h
}

fn matrix_sections(h: &mut String, m: &Matrix) {
    let v = verdict(m);
    let _ = write!(
        h,
        "<section id=\"verdict\" class=\"verdict\">\n<h2>Verdict</h2>\n<p class=\"headline\">{}</p>\n<p>{}</p>\n<p>{}</p>\n",
        esc(&v.headline),
        esc(&v.paper),
        esc(&v.counted)
    );
    for line in &v.not_competing {
        let _ = writeln!(h, "<p>{}</p>", esc(line));
    }
    if !v.off_guesses.is_empty() {
        h.push_str("<p>Guesses of the notes off by more than 2×:</p>\n");
        list(h, &v.off_guesses);
    }
    h.push_str("</section>\n");
    let _ = write!(
        h,
        "<section id=\"matrix\">\n<h2>Decision matrix</h2>\n<p>Stars 1-5: the notes' → measured, \
         computed from the figure under each (thresholds in the last section). Green: better \
         than the notes said; red: worse; grey: {NOT_MEASURED} (hover for why).</p>\n"
    );
    table(h, &tables::decision(m), "table-decision");
    h.push_str("</section>\n<section id=\"sensitivity\">\n<h2>How firm the result is</h2>\n");
    let _ = writeln!(h, "<p>{}</p>", esc(&v.sensitivity.summary));
    for (heading, lines) in v.sensitivity.groups() {
        let _ = writeln!(h, "<p>{heading}</p>");
        list(h, lines);
    }
    if let Some(unmoved) = &v.sensitivity.unmoved {
        let _ = writeln!(h, "<p>{}</p>", esc(unmoved));
    }
    h.push_str(
        "</section>\n<section id=\"benchmarks\">\n<h2>Performance benchmarks</h2>\n<p>The \
                notes' \"Performance Benchmarks (Expected)\": their guess → measured (measured ÷ \
                guess). Amber: off by more than 2×.</p>\n",
    );
    table(h, &tables::benchmarks(m), "table-benchmarks");
    if !v.unmeasurable.is_empty() {
        h.push_str("<p>Rows this machine cannot measure:</p>\n");
        list(h, &v.unmeasurable);
    }
    h.push_str("</section>\n");
}

fn figure(h: &mut String, f: &Figure) {
    let _ = write!(
        h,
        "<figure class=\"chart\" id=\"{}\">\n<h3>{}</h3>\n",
        f.id,
        esc(f.title)
    );
    if f.svgs.is_empty() {
        let _ = writeln!(h, "<p class=\"not-measured\">{}</p>", esc(&f.caption));
    } else {
        for svg in &f.svgs {
            h.push_str(svg);
            h.push('\n');
        }
        let _ = writeln!(h, "<figcaption>{}</figcaption>", esc(&f.caption));
    }
    h.push_str("</figure>\n");
}

fn section(h: &mut String, id: &str, title: &str, body: &sections::Body) {
    section_with(h, id, title, body, "");
}

/// A section whose `extra` markup (already escaped) follows its tables and notes.
fn section_with(h: &mut String, id: &str, title: &str, body: &sections::Body, extra: &str) {
    let _ = write!(h, "<section id=\"{id}\">\n<h2>{}</h2>\n", esc(title));
    for p in &body.before {
        let _ = writeln!(h, "<p>{}</p>", esc(p));
    }
    for (i, t) in body.tables.iter().enumerate() {
        table(h, t, &format!("table-{id}-{i}"));
    }
    if !body.items.is_empty() {
        list(h, &body.items);
    }
    for p in &body.after {
        let _ = writeln!(h, "<p class=\"not-measured\">{}</p>", esc(p));
    }
    h.push_str(extra);
    h.push_str("</section>\n");
}

/// The browser suite's table, then each backend's page as the suite's `second-turn` case left it.
fn chat_page(h: &mut String, results: &Results, shots: &[Screenshot]) {
    let mut body = sections::browser(results);
    body.after.extend(shots.iter().filter_map(|s| {
        Some(format!(
            "{}: no screenshot, {}",
            s.backend,
            s.png.as_ref().err()?
        ))
    }));
    let mut pictures = String::new();
    for shot in shots {
        let Ok(png) = &shot.png else { continue };
        let _ = writeln!(
            pictures,
            "<figure class=\"screenshot\"><img alt=\"The chat page on {b} after its second-turn case\" \
             src=\"data:image/png;base64,{data}\"><figcaption>{b}</figcaption></figure>",
            b = esc(&shot.backend),
            data = base64::engine::general_purpose::STANDARD.encode(png),
        );
    }
    if !pictures.is_empty() {
        pictures = format!("<div class=\"screenshots\">\n{pictures}</div>\n");
    }
    section_with(
        h,
        "chat-page",
        "The chat page in a browser",
        &body,
        &pictures,
    );
}

fn list(h: &mut String, items: &[String]) {
    h.push_str("<ul class=\"tight\">\n");
    for item in items {
        let _ = writeln!(h, "<li>{}</li>", esc(item));
    }
    h.push_str("</ul>\n");
}

fn table(h: &mut String, t: &Table, id: &str) {
    let _ = writeln!(h, "<table id=\"{id}\">");
    // A table of facts (name, value) needs no header row.
    if t.header.iter().any(|c| !c.is_empty()) {
        h.push_str("<thead><tr>");
        for cell in &t.header {
            let _ = write!(h, "<th>{}</th>", esc(cell));
        }
        h.push_str("</tr></thead>\n");
    }
    h.push_str("<tbody>\n");
    for row in &t.rows {
        h.push_str("<tr>");
        for c in row {
            let class = c
                .class
                .map(|k| format!(" class=\"{k}\""))
                .unwrap_or_default();
            let title = c
                .note
                .as_ref()
                .map(|n| format!(" title=\"{}\"", esc(n)))
                .unwrap_or_default();
            let detail = c
                .detail
                .as_ref()
                .map(|d| format!("<small>{}</small>", esc(d)))
                .unwrap_or_default();
            let _ = write!(h, "<td{class}{title}>{}{detail}</td>", esc(&c.text));
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</tbody>\n</table>\n");
}

/// Text made safe for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            esc("<a href=\"x\">O'K & co</a>"),
            "&lt;a href=&quot;x&quot;&gt;O&#39;K &amp; co&lt;/a&gt;"
        );
    }
}
