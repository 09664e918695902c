//! What the user sees of a run, all on stderr (stdout carries only data: `list`, `--dry-run`).
//! On a terminal: a live view with one line per running build (image, version, current
//! Dockerfile step, elapsed) under an overall done/total bar. Elsewhere: timestamped lines, and
//! the builds' output, prefixed with the build's name when several run at once.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::engine;
use crate::plan::Build;

/// Progress of a plan's builds, told from the builds' threads.
pub struct Progress {
    view: View,
}

enum View {
    Live(Bars),
    Plain { prefix_output: bool },
}

/// The live view: a line per running build (by its index in the plan) above the overall bar.
struct Bars {
    multi: MultiProgress,
    overall: ProgressBar,
    running: Mutex<Vec<(usize, ProgressBar)>>,
}

impl Bars {
    /// A line for build `index`, named `name`, until it finishes.
    fn start(&self, index: usize, name: String) {
        let bar = self
            .multi
            .insert_before(&self.overall, ProgressBar::new_spinner());
        bar.set_style(style("{spinner} {prefix}  {elapsed:>4}  {wide_msg}"));
        bar.set_prefix(name);
        bar.set_message("starting");
        bar.enable_steady_tick(Duration::from_millis(200));
        lock(&self.running).push((index, bar));
    }

    /// Removes the line of build `index`, counts it done and prints `message` above the view.
    fn finish(&self, index: usize, message: &str) {
        let mut running = lock(&self.running);
        if let Some(position) = running.iter().position(|(i, _)| *i == index) {
            let (_, bar) = running.remove(position);
            bar.finish_and_clear();
            self.multi.remove(&bar);
        }
        self.overall.inc(1);
        let _ = self.multi.println(message);
    }
}

impl Progress {
    /// A live view when stderr is a terminal, else plain lines.
    pub fn new(total: usize, parallel: bool) -> Self {
        if !std::io::stderr().is_terminal() {
            return Self {
                view: View::Plain {
                    prefix_output: parallel,
                },
            };
        }
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let overall = multi.add(ProgressBar::new(total as u64));
        overall.set_style(style("{bar:30} {pos}/{len} built  {elapsed}"));
        let running = Mutex::new(Vec::new());
        Self {
            view: View::Live(Bars {
                multi,
                overall,
                running,
            }),
        }
    }

    pub fn started(&self, index: usize, build: &Build, log: &Path) {
        match &self.view {
            View::Live(bars) => bars.start(index, name(build)),
            View::Plain { .. } => line(&format!(
                "building {} as {} (log: {})",
                name(build),
                build.request.tag,
                log.display()
            )),
        }
    }

    /// A line of a build's output.
    pub fn output(&self, index: usize, build: &Build, text: &str) {
        match &self.view {
            View::Live(bars) => {
                if let Some(step) = engine::build_step(text)
                    && let Some((_, bar)) = lock(&bars.running).iter().find(|(i, _)| *i == index)
                {
                    bar.set_message(step.to_owned());
                }
            }
            View::Plain {
                prefix_output: true,
            } => say!("{} | {text}", name(build)),
            View::Plain {
                prefix_output: false,
            } => say!("{text}"),
        }
    }

    pub fn finished(&self, index: usize, build: &Build, succeeded: bool, elapsed: Duration) {
        let message = match succeeded {
            true => format!("built {} in {}", name(build), seconds(elapsed)),
            false => format!("FAILED {} after {}", name(build), seconds(elapsed)),
        };
        match &self.view {
            View::Live(bars) => bars.finish(index, &message),
            View::Plain { .. } => line(&message),
        }
    }

    /// Clears the live view before the summary is printed.
    pub fn finish(&self) {
        if let View::Live(bars) = &self.view {
            bars.overall.finish_and_clear();
        }
    }
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar())
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

fn name(build: &Build) -> String {
    let platform = build
        .platform
        .as_ref()
        .map(|p| format!(" {p}"))
        .unwrap_or_default();
    format!(
        "{} py{}{platform}",
        build.target.image, build.target.python_version
    )
}

fn clock() -> String {
    jiff::Timestamp::now().strftime("%H:%M:%S").to_string()
}

/// A timestamped line on stderr.
pub fn line(message: &str) {
    say!("[{}] {message}", clock());
}

/// A duration as the user reads it: `12.3s`.
pub fn seconds(elapsed: Duration) -> String {
    format!("{:.1}s", elapsed.as_secs_f64())
}

/// Left-aligned columns, separated by two spaces.
pub fn table<const N: usize>(header: [&str; N], rows: &[[String; N]]) -> String {
    let mut widths = header.map(str::len);
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.len());
        }
    }
    let format_row = |cells: [&str; N]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:w$}"))
            .collect();
        padded.join("  ").trim_end().to_owned() + "\n"
    };
    let mut out = format_row(header);
    for row in rows {
        out += &format_row(row.each_ref().map(String::as_str));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns() {
        let rows = [
            ["app".to_owned(), "3.10".to_owned()],
            ["base-image".to_owned(), "3.9".to_owned()],
        ];
        assert_eq!(
            table(["IMAGE", "PY"], &rows),
            "IMAGE       PY\napp         3.10\nbase-image  3.9\n"
        );
    }
}
