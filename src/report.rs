//! What the user sees of a run: a timestamped line when a build starts and ends, and a summary
//! table at the end. All of it on stderr; stdout carries only data (`list`, `--dry-run`).

use std::path::Path;
use std::time::Duration;

use crate::plan::{Build, Plan};
use crate::run::{Failure, Outcome, Report};

fn clock() -> String {
    jiff::Timestamp::now().strftime("%H:%M:%S").to_string()
}

pub fn line(message: &str) {
    eprintln!("[{}] {message}", clock());
}

pub fn started(build: &Build, log: Option<&Path>) {
    let log = log
        .map(|p| format!(" (log: {})", p.display()))
        .unwrap_or_default();
    line(&format!(
        "building {} py{} as {}{log}",
        build.target.image, build.target.python_version, build.request.tag
    ));
}

pub fn finished(build: &Build, result: &Result<(), Failure>, elapsed: Duration) {
    let what = format!("{} py{}", build.target.image, build.target.python_version);
    match result {
        Ok(()) => line(&format!("built {what} in {}", seconds(elapsed))),
        Err(failure) => line(&format!(
            "FAILED {what} after {}: {failure}",
            seconds(elapsed)
        )),
    }
}

fn seconds(elapsed: Duration) -> String {
    format!("{:.1}s", elapsed.as_secs_f64())
}

/// The table of every build: image, version, tag, result, duration.
pub fn summary(plan: &Plan, report: &Report) -> String {
    let rows: Vec<[String; 5]> = plan
        .builds
        .iter()
        .zip(&report.outcomes)
        .map(|(build, outcome)| {
            let (result, duration) = match outcome {
                Outcome::Built(d) => ("built".to_owned(), seconds(*d)),
                Outcome::Failed(d, _) => ("FAILED".to_owned(), seconds(*d)),
                Outcome::Skipped(why) => (format!("skipped: {why}"), "-".to_owned()),
            };
            [
                build.target.image.clone(),
                build.target.python_version.clone(),
                build.request.tag.clone(),
                result,
                duration,
            ]
        })
        .collect();
    table(["IMAGE", "PYTHON", "TAG", "RESULT", "TIME"], &rows)
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
