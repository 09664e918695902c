//! `publish -t integration|unit`: the seed's release of snapshot images as one run with one
//! timestamp T. Pins the snapshot builder's commit, builds it with its local bases, freezes it
//! into the snapshot files, builds the target image on those same bases, pushes it, and records
//! T where the repository names it. Each finished step is recorded in a state file, so that
//! `--resume` continues a failed run where it stopped. The pure parts are in
//! [`crate::publish`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::catalog::{Error as CatalogError, Image, file};
use crate::error::Result;
use crate::output::Output;
use crate::plan::{self, Plan};
use crate::publish::{
    self, FileEdit, SnapType, State, Step, defines, pin, references, snapshot_diff,
};
use crate::reference::{ImageName, Platform, Target, Timestamp};
use crate::report;

use super::config::{BuildSettings, Publish as PublishArgs};
use crate::ops::build::{self, BuildRequest};
use crate::ops::freeze;
use crate::ops::{Session, display, push, state_dir, state_path};

pub fn publish(session: &Session, args: &PublishArgs) -> Result<()> {
    let snap_type = args.snap_type;
    let state_path = State::path(&state_path(session.catalog()?), snap_type.as_str());
    let _lock = (!args.dry_run).then(|| lock(session)).transpose()?;
    let builder = session.catalog()?.image(&snap_type.builder())?;
    let target = session.catalog()?.image(&snap_type.target())?;
    let defines = session.catalog()?.repository_root().join(defines::PATH);
    let existing = match State::load(&state_path) {
        // A state this tool cannot read is what `--restart` is for.
        Err(publish::Error::BadState { .. }) if args.restart => None,
        loaded => loaded?,
    };
    let resumed = existing.is_some() && args.resume;
    let state = match existing {
        Some(state) if args.resume => resume(state, args)?,
        Some(state) if !args.restart => {
            return Err(unfinished(snap_type, state, state_path).into());
        }
        old => start(args, &target, &defines, old)?,
    };
    let mut release = Release {
        session,
        snap_type,
        builder,
        target,
        defines,
        state,
        resumed,
    };
    release.check()?;
    if args.dry_run {
        return release.print_dry_run();
    }
    state_dir(session.catalog()?).map_err(CatalogError::Io)?;
    release.state.save(&state_path)?;
    release.run(&state_path)?;
    State::remove(&state_path)?;
    session.out.data(&release.summary());
    Ok(())
}

/// One publish run: the images it makes, where T goes, and how far it got.
struct Release<'a> {
    session: &'a Session,
    snap_type: SnapType,
    builder: Image,
    target: Image,
    /// `.buildkite/defines.py` of the repository, which may not exist.
    defines: PathBuf,
    state: State,
    /// Continuing a run that stopped: what it built at T already is not built again.
    resumed: bool,
}

/// One publish at a time on a catalog: runs share its state files and the bases they build.
/// A lock on the catalog's folder, which writes nothing; held until dropped.
fn lock(session: &Session) -> Result<fs_err::File> {
    let path = session.catalog()?.dir();
    let folder = fs_err::File::open(path).map_err(CatalogError::Io)?;
    match folder.file().try_lock() {
        Ok(()) => Ok(folder),
        Err(_) => Err(publish::Error::Busy {
            path: path.to_owned(),
        }
        .into()),
    }
}

fn unfinished(snap_type: SnapType, state: State, path: PathBuf) -> publish::Error {
    publish::Error::Unfinished {
        snap_type: snap_type.as_str(),
        next: state.next_step().unwrap_or(Step::RecordTimestamp),
        timestamp: state.timestamp.to_string(),
        path,
    }
}

/// A new run: T from `--timestamp` or now, and the timestamps the target's tags move away from
/// (those of a run started over included, whose builds may have overwritten them).
fn start(
    args: &PublishArgs,
    target: &Image,
    defines: &Path,
    started_over: Option<State>,
) -> Result<State> {
    if args.resume {
        return Err(publish::Error::NothingToResume {
            snap_type: args.snap_type.as_str(),
        }
        .into());
    }
    if let Some(hash) = &args.git_hash {
        pin::check_commit(hash)?;
    }
    let mut previous: Vec<Timestamp> = started_over
        .map(|state| state.previous_timestamps)
        .unwrap_or_default();
    let built = target
        .versions
        .keys()
        .filter_map(|v| target.last_updated.get(v));
    previous.extend(built.cloned());
    if let Some(text) = file::read_text_if_exists(defines)? {
        let name = defines::variable(args.snap_type.as_str());
        previous.push(Timestamp::recorded(defines::value(defines, &text, name)?));
    }
    previous.sort();
    previous.dedup();
    Ok(State::new(
        args.timestamp.clone().unwrap_or_else(Timestamp::now),
        args.git_hash.clone(),
        args.dagster_version.clone(),
        args.platforms.clone(),
        previous,
    ))
}

/// The run of `state`, which the options given must not contradict.
fn resume(state: State, args: &PublishArgs) -> Result<State> {
    let given = [
        ("git-hash", &args.git_hash, &state.git_hash),
        (
            "dagster-version",
            &args.dagster_version,
            &state.dagster_version,
        ),
        (
            "timestamp",
            &args.timestamp.as_ref().map(Timestamp::to_string),
            &Some(state.timestamp.to_string()),
        ),
    ];
    for (option, given, recorded) in given {
        if given.is_some() && given != recorded {
            let recorded = match recorded {
                Some(value) => format!("`--{option} {value}`"),
                None => format!("no `--{option}`"),
            };
            return Err(publish::Error::ResumedDifferently { option, recorded }.into());
        }
    }
    if !args.platforms.is_empty() && args.platforms != state.platforms {
        let recorded = match state.platforms.as_slice() {
            [] => "no `--platform`".to_owned(),
            platforms => {
                let spelled: Vec<String> = platforms.iter().map(Platform::to_string).collect();
                format!("`--platform {}`", spelled.join(" --platform "))
            }
        };
        let option = "platform";
        return Err(publish::Error::ResumedDifferently { option, recorded }.into());
    }
    Ok(state)
}

impl Release<'_> {
    /// Everything that can be checked before the first step: the edits can be made, the
    /// builds planned, the registry known. Bad input is found before anything is built.
    fn check(&self) -> Result<()> {
        let pending = |step| !self.state.finished.contains(&step);
        if let (Some(commit), true) = (&self.state.git_hash, pending(Step::PinCommit)) {
            self.pin_edit(commit)?;
        }
        for step in [Step::BuildBuilder, Step::BuildTarget] {
            if pending(step) {
                self.build_plan(step)?;
            }
        }
        if pending(Step::Push) {
            self.session.registry()?;
        }
        self.record_edits()?;
        Ok(())
    }

    /// Runs the steps not finished yet, recording each in the state file at `state_path`.
    fn run(&mut self, state_path: &Path) -> Result<()> {
        let steps = self.state.steps();
        for (number, step) in steps.iter().copied().enumerate() {
            if self.state.finished.contains(&step) {
                continue;
            }
            let describe = self.describe(step);
            report::line(&format!("step {}/{}: {describe}", number + 1, steps.len()));
            if let Err(error) = self.run_step(step, false) {
                self.session.out.say(format_args!(
                    "note: the step `{step}` did not finish; continue with `publish -t {} \
                     --resume` (same timestamp, finished steps not redone)",
                    self.snap_type.as_str()
                ));
                return Err(error);
            }
            self.state.finished.push(step);
            self.state.save(state_path)?;
        }
        Ok(())
    }

    /// `--dry-run`: every step with its commands and file edits, on stdout.
    fn print_dry_run(&mut self) -> Result<()> {
        let steps = self.state.steps();
        for (number, step) in steps.iter().copied().enumerate() {
            let header = format!(
                "# step {}/{}: {}",
                number + 1,
                steps.len(),
                self.describe(step)
            );
            if self.state.finished.contains(&step) {
                self.session.out.data(&format!("{header} (done)\n"));
                continue;
            }
            self.session.out.data(&format!("{header}\n"));
            self.run_step(step, true)?;
        }
        Ok(())
    }

    fn describe(&self, step: Step) -> String {
        let (builder, target) = (&self.builder.name, &self.target.name);
        let timestamp = &self.state.timestamp;
        match step {
            Step::PinCommit => format!(
                "pin `{builder}` to commit `{}`",
                self.state.git_hash.as_deref().unwrap_or_default()
            ),
            Step::BuildBuilder => {
                format!("build every version of `{builder}` and its local bases at `{timestamp}`")
            }
            Step::Snapshot => format!("freeze `{builder}` into the snapshot files of `{target}`"),
            Step::BuildTarget => format!(
                "build every version of `{target}` at `{timestamp}`, on the bases just built"
            ),
            Step::Push => match self.session.registry() {
                Ok(registry) => format!("push `{target}` to `{registry}`"),
                Err(_) => format!("push `{target}`"),
            },
            Step::RecordTimestamp => format!("record `{timestamp}` where the repository names it"),
        }
    }

    fn run_step(&mut self, step: Step, dry_run: bool) -> Result<()> {
        match step {
            Step::PinCommit => match &self.state.git_hash {
                Some(commit) => apply(&self.session.out, &[self.pin_edit(commit)?], dry_run),
                None => Ok(()),
            },
            Step::BuildBuilder | Step::BuildTarget => self.build(step, dry_run),
            Step::Snapshot => self.snapshot(dry_run),
            Step::Push => {
                let target = &self.target.name;
                let built_at = (&self.state.timestamp, self.state.platforms.as_slice());
                let pushed = push::push_every_version_at(self.session, target, built_at, dry_run)?;
                self.state.pushed = pushed;
                Ok(())
            }
            Step::RecordTimestamp => {
                let (edits, warnings) = self.record_edits()?;
                warnings
                    .iter()
                    .for_each(|w| self.session.out.say(format_args!("warning: {w}")));
                apply(&self.session.out, &edits, dry_run)
            }
        }
    }

    /// The builder's Dockerfile pinned to `commit`.
    fn pin_edit(&self, commit: &str) -> Result<FileEdit> {
        let path = self.builder.dir.join("Dockerfile");
        let old = file::read_text(&path)?;
        let new = pin::with_commit(&path, &old, commit)?;
        Ok(FileEdit { path, old, new })
    }

    fn build(&self, step: Step, dry_run: bool) -> Result<()> {
        let (request, images, plan) = self.build_plan(step)?;
        if plan.builds.is_empty() {
            report::line("every image-version is built at this timestamp already");
            return Ok(());
        }
        build::run_plan(self.session, &request, &images, plan, dry_run)
    }

    /// The builds of a build step: every version of its image with its local bases at T,
    /// less what an earlier step builds and, when resuming, what is recorded at T already.
    /// The target builds on the bases of the builder as the builder's step built them: the
    /// snapshot is installed on the very images it was frozen on.
    fn build_plan(&self, step: Step) -> Result<(BuildRequest, BTreeMap<ImageName, Image>, Plan)> {
        let (name, earlier) = match step {
            Step::BuildTarget => (&self.target.name, self.planned_targets(&self.builder.name)?),
            _ => (&self.builder.name, Vec::new()),
        };
        let request = self.build_request(name)?;
        let (images, plan) = build::resolve(self.session, &request)?;
        let timestamp = Some(&self.state.timestamp);
        let keep: Vec<bool> = plan
            .builds
            .iter()
            .map(|build| {
                let target = &build.target;
                let recorded = images
                    .get(target.image.as_str())
                    .and_then(|image| image.last_updated.get(target.python_version.as_str()));
                let built_by_an_earlier_step = earlier.contains(target);
                let built_before_stopping = self.resumed && recorded == timestamp;
                !(built_by_an_earlier_step || built_before_stopping)
            })
            .collect();
        let plan = plan::retain(&plan, &keep);
        Ok((request, images, plan))
    }

    /// Every image-version that building `name` with its local bases makes.
    fn planned_targets(&self, name: &ImageName) -> Result<Vec<Target>> {
        let (_, plan) = build::resolve(self.session, &self.build_request(name)?)?;
        Ok(plan.builds.into_iter().map(|build| build.target).collect())
    }

    fn build_request(&self, name: &ImageName) -> Result<BuildRequest> {
        let settings = BuildSettings {
            timestamp: Timestamp::parse(&self.state.timestamp)?,
            dagster_version: self.state.dagster_version.clone(),
            platforms: self.state.platforms.clone(),
        };
        Ok(BuildRequest::all(Some(name.clone()), settings).with_bases(true))
    }

    /// Freezes the builder into the snapshot files and prints what changed in each.
    fn snapshot(&self, dry_run: bool) -> Result<()> {
        let timestamp = Some(&self.state.timestamp);
        let freezes = freeze::freezes(self.session, &self.builder, &self.target, timestamp)?;
        if dry_run {
            self.session.out.data(&freeze::describe(&freezes));
            return Ok(());
        }
        let frozen = freeze::run(&self.builder, freezes)?;
        let mut changes = String::new();
        for file in &frozen {
            let old = file::read_text_if_exists(&file.path)?.unwrap_or_default();
            changes += &format!(
                "changes in the snapshot of Python {} ({}):\n",
                file.version,
                display(&file.path)
            );
            changes += &snapshot_diff::describe(&snapshot_diff::diff(&old, &file.text));
        }
        freeze::write(&frozen)?;
        self.session.out.data(&changes);
        Ok(())
    }

    /// The edits recording T: the variable in `defines.py` (when there is one), and the
    /// target's tags in the files its `image.yaml` lists under `references`; with a warning for
    /// each tag that is left as it is.
    fn record_edits(&self) -> Result<(Vec<FileEdit>, Vec<String>)> {
        let timestamp = &self.state.timestamp;
        let mut edits = Vec::new();
        if let Some(old) = file::read_text_if_exists(&self.defines)? {
            let name = defines::variable(self.snap_type.as_str());
            let new = defines::with_value(&self.defines, &old, name, timestamp)?;
            let path = self.defines.clone();
            edits.push(FileEdit { path, old, new });
        }
        let mut warnings = Vec::new();
        for path in &self.target.config.references {
            let old = file::read_text(path)?;
            let previous = &self.state.previous_timestamps;
            let rewrite = references::rewrite(&old, &self.target.name, previous, timestamp);
            warnings.extend(self.reference_warnings(path, &rewrite));
            let new = rewrite.text;
            edits.push(FileEdit {
                path: path.clone(),
                old,
                new,
            });
        }
        Ok((edits, warnings))
    }

    fn reference_warnings(&self, path: &Path, rewrite: &references::Rewrite) -> Vec<String> {
        let previous = match self.state.previous_timestamps.as_slice() {
            [] => "none known".to_owned(),
            all => {
                let all: Vec<&str> = all.iter().map(Timestamp::as_str).collect();
                format!("`{}`", all.join("`, `"))
            }
        };
        let mut warnings: Vec<String> = rewrite
            .left
            .iter()
            .map(|(line, reference)| {
                format!(
                    "`{}:{line}` names `{reference}`, not a tag at an earlier timestamp of this \
                     image ({previous}) or pinned by digest; left as it is",
                    display(path)
                )
            })
            .collect();
        if rewrite.moved + rewrite.current + rewrite.left.len() == 0 {
            warnings.push(format!(
                "`{}` names no tag of `{}`",
                display(path),
                self.target.name
            ));
        }
        warnings
    }

    /// The timestamp and what was pushed, for the end of a run.
    fn summary(&self) -> String {
        let pushed: String = self
            .state
            .pushed
            .iter()
            .map(|reference| format!("  {reference}\n"))
            .collect();
        format!(
            "published `{}` at `{}`:\n{pushed}",
            self.target.name, self.state.timestamp
        )
    }
}

/// Writes every edit that changes its file (atomically, unless the file changed since it was
/// read), or prints them as diffs (`dry_run`).
fn apply(out: &Output, edits: &[FileEdit], dry_run: bool) -> Result<()> {
    for edit in edits.iter().filter(|edit| edit.changes_anything()) {
        if dry_run {
            out.data(&edit.unified_diff());
        } else {
            file::replace(&edit.path, |current| {
                if current.unwrap_or_default() == edit.old {
                    Ok(edit.new.clone())
                } else {
                    Err(CatalogError::Invalid {
                        path: edit.path.clone(),
                        problem: "changed by someone else while publish was editing it; \
                                  run publish again with --resume"
                            .into(),
                    })
                }
            })?;
            report::line(&format!("wrote {}", display(&edit.path)));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(platforms: &[&str]) -> PublishArgs {
        PublishArgs {
            snap_type: SnapType::Unit,
            platforms: platforms
                .iter()
                .map(|p| Platform::parse(p).unwrap())
                .collect(),
            git_hash: None,
            dagster_version: None,
            timestamp: None,
            resume: true,
            restart: false,
            dry_run: false,
        }
    }

    #[test]
    fn a_resumed_run_keeps_its_platforms_and_refuses_others() {
        let platforms = vec![
            Platform::linux_amd64(),
            Platform::parse("linux/arm64").unwrap(),
        ];
        let state = State::new(
            Timestamp::recorded("T"),
            None,
            None,
            platforms.clone(),
            Vec::new(),
        );
        assert_eq!(
            resume(state.clone(), &args(&[])).unwrap().platforms,
            platforms
        );
        let same = resume(state.clone(), &args(&["linux/amd64", "linux/arm64"]));
        assert!(same.is_ok());
        let error = resume(state, &args(&["linux/amd64"]))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("`--platform linux/amd64 --platform linux/arm64`"),
            "{error}"
        );
    }
}
