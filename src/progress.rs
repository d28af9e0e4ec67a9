//! Progress on long work: bars and spinners on stderr when it is a terminal
//! and the user did not ask for quiet, nothing otherwise (a scheduler's log
//! gets the tracing lines alone).

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Whether progress is drawn, decided once from the flags and the terminal.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    shown: bool,
}

impl Progress {
    /// Progress is shown unless `quiet` or stderr is not a terminal.
    pub fn new(quiet: bool) -> Self {
        Self {
            shown: !quiet && std::io::stderr().is_terminal(),
        }
    }

    /// A bar of `length` steps that stays hidden until its first step, so
    /// that the log lines printed before the work starts do not tear it.
    pub fn bar(&self, length: usize, what: &str) -> Bar {
        let bar = ProgressBar::with_draw_target(Some(length as u64), ProgressDrawTarget::hidden());
        bar.set_style(
            ProgressStyle::with_template("{msg:>10} [{bar:40}] {pos}/{len} ({eta})")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_message(what.to_string());
        Bar {
            bar,
            shown: self.shown,
        }
    }

    /// A spinner for work whose length is not known in advance; it stops
    /// when dropped.
    pub fn spinner(&self, what: &str) -> Spinner {
        if !self.shown {
            return Spinner(ProgressBar::hidden());
        }
        let spinner = ProgressBar::new_spinner().with_message(what.to_string());
        spinner.enable_steady_tick(std::time::Duration::from_millis(120));
        Spinner(spinner)
    }
}

/// A progress bar; cleared when dropped.
pub struct Bar {
    bar: ProgressBar,
    shown: bool,
}

impl Bar {
    /// Moves the bar to `done` steps.
    pub fn step(&self, done: usize) {
        if self.bar.is_hidden() && self.shown {
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
        }
        self.bar.set_position(done as u64);
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

/// A spinner; cleared when dropped.
pub struct Spinner(ProgressBar);

impl Drop for Spinner {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}
