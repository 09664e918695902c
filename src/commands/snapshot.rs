//! `snapshot -t integration|unit`: the `pip freeze` of every Python version of the snapshot
//! builder image, as last built, written to the target image's `snapshot-reqs-<version>.txt`.

use crate::error::Result;
use crate::publish::SnapType;

use crate::ops::{Session, freeze};

pub fn snapshot(session: &Session, snap_type: SnapType, dry_run: bool) -> Result<()> {
    let builder = session.catalog()?.image(&snap_type.builder())?;
    let target = session.catalog()?.image(&snap_type.target())?;
    let freezes = freeze::freezes(session, &builder, &target, None)?;
    if dry_run {
        session.out.data(&freeze::describe(&freezes));
        return Ok(());
    }
    freeze::write(&freeze::run(&builder, freezes)?)
}
