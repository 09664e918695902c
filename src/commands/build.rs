//! `build` and `build-all`: the request's plan, printed (`--dry-run`) or run.

use crate::error::Result;

use crate::ops::Session;
use crate::ops::build::{BuildRequest, resolve, resolve_to_show, run_plan};

pub fn build(session: &Session, request: &BuildRequest, dry_run: bool) -> Result<()> {
    let (images, plan) = match dry_run {
        true => resolve_to_show(session, request)?,
        false => resolve(session, request)?,
    };
    run_plan(session, request, &images, plan, dry_run)
}
