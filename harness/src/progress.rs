//! A live progress line for long work: a bar on a terminal, and on a log (CI) one line at each
//! step change rather than a redraw per tick.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How often the bar redraws its elapsed time on a terminal.
const TICK: Duration = Duration::from_millis(250);

/// Where progress goes: a bar redrawn on a terminal, or one line per step on a log (CI). Decided
/// once, from whether stderr is a terminal, and carried in the stages' shared context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Bar,
    Lines,
}

impl Output {
    /// A bar when stderr is a terminal, lines otherwise.
    pub fn detect() -> Self {
        if std::io::stderr().is_terminal() {
            Self::Bar
        } else {
            Self::Lines
        }
    }
}

/// One stage's progress: `stage: step (n/total) message`.
#[derive(Debug)]
pub struct Progress {
    bar: ProgressBar,
    stage: String,
    terminal: bool,
}

impl Progress {
    /// Progress on the [`Output`] stderr calls for.
    pub fn new(stage: &str, total: u64) -> Self {
        Self::to(Output::detect(), stage, total)
    }

    /// Progress on `output`.
    pub fn to(output: Output, stage: &str, total: u64) -> Self {
        let terminal = output == Output::Bar;
        let bar = ProgressBar::with_draw_target(
            Some(total),
            if terminal {
                ProgressDrawTarget::stderr()
            } else {
                ProgressDrawTarget::hidden()
            },
        );
        let style = ProgressStyle::with_template(
            "{prefix:.bold} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.set_prefix(stage.to_owned());
        if terminal {
            bar.enable_steady_tick(TICK);
        }
        Self {
            bar,
            stage: stage.to_owned(),
            terminal,
        }
    }

    /// A new step (what is being done now); printed as a line when not on a terminal.
    pub fn step(&self, message: impl Into<String>) {
        let message = message.into();
        if !self.terminal {
            eprintln!("{}: {message}", self.stage);
        }
        self.bar.set_message(message);
    }

    /// One unit of the total done.
    pub fn advance(&self) {
        self.bar.inc(1);
    }

    /// A line that stays above the bar (a warning, a result).
    pub fn note(&self, line: impl AsRef<str>) {
        if self.terminal {
            self.bar.println(line.as_ref());
        } else {
            eprintln!("{}", line.as_ref());
        }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
