//! Executes a build plan: up to `jobs` builds at once, each started as soon as the builds it
//! waits for are done; after a failure, either nothing new starts or (keep-going) everything
//! that does not depend on the failure still runs. Knows nothing of the catalog: what to do
//! after a successful build is the caller's `on_built`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::engine::{self, Docker};
use crate::lock::Lock;
use crate::plan::{Build, BuildSpec, Plan};
use crate::process;
use crate::reference::Platform;
use crate::report::{Progress, seconds, table};

/// How to run a plan.
#[derive(Debug, Clone)]
pub struct Options {
    pub jobs: usize,
    pub keep_going: bool,
    /// Each build's output goes to `<log_dir>/<image>-py<version>.log`.
    pub log_dir: PathBuf,
}

/// What became of one build.
#[derive(Debug)]
pub enum Outcome {
    Built(Duration),
    Failed(Duration, Failure),
    /// Not started: a build it waits for failed, or the run stopped after a failure.
    Skipped(&'static str),
}

#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error(transparent)]
    Process(#[from] process::Error),
    #[error(transparent)]
    Engine(#[from] engine::Error),
    #[error(
        "`{tag}` was built for {}, not {expected}: the engine started it from an image of \
         another platform; it is not recorded, and its tags are removed",
        .actual.as_deref().unwrap_or("no platform (the engine has no such image)")
    )]
    WrongPlatform {
        tag: String,
        expected: String,
        actual: Option<String>,
    },
    #[error("the build stopped on an internal error (a bug: please report it)")]
    Panicked,
    #[error("`{tag}` was built, but recording it failed")]
    Record {
        tag: String,
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl Failure {
    pub fn kind(&self) -> crate::exit::Kind {
        match self {
            Failure::Process(e) => e.kind(),
            Failure::Engine(e) => e.kind(),
            Failure::Record { .. } | Failure::WrongPlatform { .. } | Failure::Panicked => {
                crate::exit::Kind::Failed
            }
        }
    }

    /// What to do about it, when the message alone does not say.
    pub fn hint(&self) -> Option<String> {
        match self {
            Failure::WrongPlatform { expected, .. } => Some(format!(
                "an image it starts from is here for another platform (the classic builder uses \
                 whatever platform a local tag holds): pull it for {expected} (`docker pull \
                 --platform {expected} IMAGE`), or tag that platform's image under its name, \
                 and build again"
            )),
            Failure::Process(e) => engine::broken_store_hint(e),
            Failure::Engine(e) => e.hint(),
            Failure::Record { .. } | Failure::Panicked => None,
        }
    }
}

/// Every build's outcome, in plan order.
pub struct Report {
    pub outcomes: Vec<Outcome>,
    pub interrupted: bool,
}

impl Report {
    /// The table of every build: image, version, tag, result, duration.
    pub fn summary(&self, plan: &Plan) -> String {
        let rows: Vec<[String; 5]> = plan
            .builds
            .iter()
            .zip(&self.outcomes)
            .map(|(build, outcome)| {
                let (result, duration) = match outcome {
                    Outcome::Built(d) => ("built".to_owned(), seconds(*d)),
                    Outcome::Failed(d, _) => ("FAILED".to_owned(), seconds(*d)),
                    Outcome::Skipped(why) => (format!("skipped: {why}"), "-".to_owned()),
                };
                [
                    build.target.image.to_string(),
                    build.target.python_version.to_string(),
                    build.request.tag.clone(),
                    result,
                    duration,
                ]
            })
            .collect();
        table(["IMAGE", "PYTHON", "TAG", "RESULT", "TIME"], &rows)
    }
}

/// Runs `plan`; `on_built` is called right after each successful build, on this thread, once no
/// other build of the same image is running in this run: it writes into the image's folder,
/// which is the build context that a build of another Python version may still be sending to
/// docker. (Each build holds a shared lock on its context, which keeps the writers of other
/// processes waiting; waiting for our own builds here would stall the scheduling.)
pub fn execute<F, E>(plan: &Plan, docker: &Docker, options: &Options, on_built: F) -> Report
where
    F: Fn(&Build) -> Result<(), E> + Sync,
    E: std::error::Error + Send + Sync + 'static,
{
    let jobs = options.jobs.max(1);
    let progress = Progress::new(plan.builds.len(), jobs > 1 && plan.builds.len() > 1);
    let mut scheduler = Scheduler::new(plan, options.keep_going);
    let mut running_per_image: HashMap<&str, usize> = HashMap::new();
    let mut unrecorded: Vec<usize> = Vec::new();
    let (done_tx, done_rx) = mpsc::channel::<(usize, Result<(), Failure>, Duration)>();
    std::thread::scope(|scope| {
        let mut running = 0;
        loop {
            while running < jobs && !process::is_interrupted() {
                let Some(index) = scheduler.next_ready() else {
                    break;
                };
                let build = &plan.builds[index];
                let (tx, progress) = (done_tx.clone(), &progress);
                let log = options.log_dir.join(log_name(build));
                progress.started(index, build, &log);
                running += 1;
                *running_per_image.entry(&build.target.image).or_default() += 1;
                scope.spawn(move || {
                    let started = Instant::now();
                    let mut on_line = |line: &str| progress.output(index, build, line);
                    // A panic here must still report the build, or the loop below waits forever.
                    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        run_one(docker, build, &log, &mut on_line)
                    }))
                    .unwrap_or(Err(Failure::Panicked));
                    let _ = tx.send((index, result, started.elapsed()));
                });
            }
            if running == 0 {
                break;
            }
            let Ok((index, result, elapsed)) = done_rx.recv() else {
                break;
            };
            running -= 1;
            let build = &plan.builds[index];
            if let Some(count) = running_per_image.get_mut(build.target.image.as_str()) {
                *count -= 1;
            }
            progress.finished(index, build, result.is_ok(), elapsed);
            if result.is_ok() {
                unrecorded.push(index);
            }
            scheduler.complete(index, result, elapsed);
            let idle = |i: &usize| {
                running_per_image.get(plan.builds[*i].target.image.as_str()) == Some(&0)
            };
            record(&mut unrecorded, idle, &on_built, &mut scheduler);
        }
    });
    record(&mut unrecorded, |_| true, &on_built, &mut scheduler);
    progress.finish();
    Report {
        outcomes: scheduler.into_outcomes(),
        interrupted: process::is_interrupted(),
    }
}

/// Calls `on_built` for the successful builds that `ready` lets through; a failure to record
/// turns the build's outcome into a failure.
fn record<F, E>(
    unrecorded: &mut Vec<usize>,
    ready: impl Fn(&usize) -> bool,
    on_built: &F,
    scheduler: &mut Scheduler,
) where
    F: Fn(&Build) -> Result<(), E>,
    E: std::error::Error + Send + Sync + 'static,
{
    let (now, later): (Vec<usize>, Vec<usize>) = unrecorded.iter().partition(|i| ready(i));
    *unrecorded = later;
    for index in now {
        if let Err(error) = on_built(&scheduler.plan.builds[index]) {
            scheduler.fail_recording(index, Box::new(error));
        }
    }
}

/// Longest log file name before `.log`, within the 255 bytes of a file name.
const MAX_LOG_STEM_LEN: usize = 200;

/// `<image>-py<version>[-<os>-<arch>].log`: one log per build (its start and a hash when longer
/// than a file name may be).
fn log_name(build: &Build) -> String {
    let platform = build
        .platform
        .as_ref()
        .map(|p| format!("-{}", p.tag_suffix()));
    let stem = format!(
        "{}-py{}{}",
        build.target.image,
        build.target.python_version,
        platform.unwrap_or_default()
    );
    format!(
        "{}.log",
        crate::reference::shortened(&stem, MAX_LOG_STEM_LEN)
    )
}

fn run_one(
    docker: &Docker,
    build: &Build,
    log: &Path,
    on_line: &mut dyn FnMut(&str),
) -> Result<(), Failure> {
    let step = format!("building `{}`", build.request.tag);
    let failed = |source| process::Error::Io {
        step: step.clone(),
        source,
    };
    if let Some(dir) = log.parent() {
        fs_err::create_dir_all(dir).map_err(failed)?;
    }
    // Another run may be replacing a file of this context (recording a timestamp); docker
    // reads the context during the whole build, so the lock is held until it ends.
    let _reading = Lock::folder_shared(&build.request.context).map_err(failed)?;
    crate::cached_build::build(docker, &build.request, &step, log, on_line)?;
    verify_platform(docker, &build.request)?;
    crate::cached_build::export(docker, &build.request, log);
    Ok(())
}

/// Refuses an image built for another platform than its build's (docker's classic builder
/// starts from whatever platform a local tag holds), and removes its tags, so that nothing
/// records or pushes it.
pub fn verify_platform(docker: &Docker, request: &BuildSpec) -> Result<(), Failure> {
    let Some(expected) = &request.platform else {
        return Ok(());
    };
    let actual = docker.platform_of(&request.tag)?;
    if actual
        .as_ref()
        .is_some_and(|actual| expected.matches(actual))
    {
        return Ok(());
    }
    for tag in std::iter::once(&request.tag).chain(&request.extra_tags) {
        // Best effort: the error says what went wrong whether or not a tag stays.
        let _ = docker.remove_image(tag);
    }
    Err(Failure::WrongPlatform {
        tag: request.tag.clone(),
        expected: expected.to_string(),
        actual: actual.as_ref().map(Platform::to_string),
    })
}

/// Which builds may start, given what has finished.
struct Scheduler<'a> {
    plan: &'a Plan,
    keep_going: bool,
    outcomes: Vec<Option<Outcome>>,
    started: Vec<bool>,
    stopped: bool,
}

impl<'a> Scheduler<'a> {
    fn new(plan: &'a Plan, keep_going: bool) -> Self {
        let n = plan.builds.len();
        Self {
            plan,
            keep_going,
            outcomes: (0..n).map(|_| None).collect(),
            started: vec![false; n],
            stopped: false,
        }
    }

    /// The first build in plan order that has not started and whose dependencies are built.
    fn next_ready(&mut self) -> Option<usize> {
        if self.stopped {
            return None;
        }
        let ready = (0..self.plan.builds.len()).find(|&i| {
            !self.started[i]
                && self.plan.builds[i]
                    .after
                    .iter()
                    .all(|&d| matches!(self.outcomes[d], Some(Outcome::Built(_))))
        })?;
        self.started[ready] = true;
        Some(ready)
    }

    fn complete(&mut self, index: usize, result: Result<(), Failure>, elapsed: Duration) {
        self.outcomes[index] = Some(match result {
            Ok(()) => Outcome::Built(elapsed),
            Err(failure) => {
                if !self.keep_going {
                    self.stopped = true;
                }
                self.skip_dependents_of(index);
                Outcome::Failed(elapsed, failure)
            }
        });
    }

    /// A build that succeeded but whose timestamp could not be recorded.
    fn fail_recording(&mut self, index: usize, source: Box<dyn std::error::Error + Send + Sync>) {
        let elapsed = match self.outcomes[index] {
            Some(Outcome::Built(elapsed)) => elapsed,
            _ => Duration::ZERO,
        };
        let tag = self.plan.builds[index].request.tag.clone();
        self.complete(index, Err(Failure::Record { tag, source }), elapsed);
    }

    /// Marks every build that waits (transitively) on `failed` as skipped. Dependents come
    /// later in the plan, so one forward pass reaches them all.
    fn skip_dependents_of(&mut self, failed: usize) {
        let mut blocked = vec![false; self.plan.builds.len()];
        blocked[failed] = true;
        for i in failed + 1..self.plan.builds.len() {
            if !self.started[i] && self.plan.builds[i].after.iter().any(|&d| blocked[d]) {
                blocked[i] = true;
                self.started[i] = true;
                self.outcomes[i] = Some(Outcome::Skipped("a build it depends on failed"));
            }
        }
    }

    fn into_outcomes(self) -> Vec<Outcome> {
        self.outcomes
            .into_iter()
            .map(|o| {
                o.unwrap_or(Outcome::Skipped(if process::is_interrupted() {
                    "interrupted"
                } else {
                    "stopped after a failure"
                }))
            })
            .collect()
    }
}
