use std::os::unix::fs::{PermissionsExt, symlink};

use super::*;

/// Copies the folder `source` to `target` (which must not exist) as a copy's walk does.
fn copy_folder(source: &Path, target: &Path, exclude: &DockerIgnore) -> Result<(), Problem> {
    let from = Folder::open(source)?;
    let parent = Folder::open(target.parent().unwrap())?;
    let made = parent.make_folder(target.file_name().unwrap())?;
    let mut ours = HashSet::new();
    Walk::new(exclude, Some(&mut ours)).folder(&from, Some(&made), Path::new(""))?;
    made.set_mode(0o755)?;
    Ok(())
}

fn refusal(result: Result<(), Problem>) -> String {
    match result {
        Err(Problem::Refused(why)) => why,
        Err(Problem::InTheWay(path)) => panic!("in the way: {}", path.display()),
        Err(Problem::Io(e)) => panic!("failed: {e}"),
        Ok(()) => panic!("not refused"),
    }
}

#[test]
fn copies_trees_with_links_and_modes() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("src");
    fs_err::create_dir_all(source.join("pkg")).unwrap();
    fs_err::write(source.join("pkg/run.sh"), "#!/bin/sh\n").unwrap();
    fs_err::set_permissions(
        source.join("pkg/run.sh"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    symlink("pkg/run.sh", source.join("link")).unwrap();
    symlink("../link", source.join("pkg/up")).unwrap();
    let copied = dir.path().join("copy");
    assert!(copy_folder(&source, &copied, &DockerIgnore::default()).is_ok());
    assert_eq!(
        fs_err::read_to_string(copied.join("pkg/run.sh")).unwrap(),
        "#!/bin/sh\n"
    );
    let mode = fs_err::metadata(copied.join("pkg/run.sh"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755);
    assert_eq!(
        fs_err::read_link(copied.join("link")).unwrap(),
        Path::new("pkg/run.sh")
    );
    assert_eq!(
        fs_err::read_link(copied.join("pkg/up")).unwrap(),
        Path::new("../link")
    );
}

#[test]
fn excluded_files_and_folders_are_left_out_of_a_copy() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("scala_modules");
    for file in [
        "target/out.jar",
        ".idea/ws.xml",
        "Top.class",
        "sub/Deep.class",
        "sub/keep.txt",
        "src/Main.scala",
    ] {
        let path = source.join(file);
        fs_err::create_dir_all(path.parent().unwrap()).unwrap();
        fs_err::write(path, file).unwrap();
    }
    // Left out, so never read: a FIFO there is no problem.
    nix::unistd::mkfifo(&source.join("target/pipe"), nix::sys::stat::Mode::S_IRWXU).unwrap();
    let exclude = DockerIgnore::from_patterns(&["*target*", ".idea", "*.class", "**/*.class"]);
    let copied = dir.path().join("copy");
    assert!(copy_folder(&source, &copied, &exclude).is_ok());
    let mut kept: Vec<String> = walk_files(&copied);
    kept.sort();
    assert_eq!(kept, ["src/Main.scala", "sub/keep.txt"]);
}

#[test]
fn links_leading_out_of_the_copied_folder_are_refused() {
    for (at, target) in [
        ("out", "/outside"),
        ("vy", "../versions.yaml"),
        ("pkg/up", "../../x"),
        ("pkg/sneaky", "a/../../.."),
        ("empty_dir_link", "../pkg/../.."),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("src");
        fs_err::create_dir_all(source.join("pkg")).unwrap();
        symlink(target, source.join(at)).unwrap();
        let why = refusal(copy_folder(
            &source,
            &dir.path().join("copy"),
            &DockerIgnore::default(),
        ));
        assert!(why.contains("is a symlink to"), "{at} -> {target}: {why}");
        assert!(why.contains("only links staying inside"), "{why}");
    }
}

#[test]
fn fifos_in_a_copied_folder_are_refused_without_waiting() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("src");
    fs_err::create_dir_all(source.join("deep")).unwrap();
    nix::unistd::mkfifo(&source.join("deep/pipe"), nix::sys::stat::Mode::S_IRWXU).unwrap();
    let why = refusal(copy_folder(
        &source,
        &dir.path().join("copy"),
        &DockerIgnore::default(),
    ));
    assert!(
        why.contains("deep/pipe` is a FIFO, socket or device"),
        "{why}"
    );
}

#[test]
fn a_link_stays_inside_when_it_climbs_first_and_no_higher_than_the_top() {
    assert!(check_link(Path::new("a/b/link"), Path::new("../../c")).is_ok());
    assert!(check_link(Path::new("link"), Path::new("a/./b")).is_ok());
    assert!(check_link(Path::new("a/link"), Path::new("../../c")).is_err());
    assert!(check_link(Path::new("a/link"), Path::new("b/../c")).is_err());
    assert!(check_link(Path::new("link"), Path::new("/etc")).is_err());
    assert!(check_link(Path::new("link"), Path::new("")).is_err());
}

#[test]
fn removal_follows_no_link_and_spares_what_is_not_the_recorded_identity() {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("image");
    let outside = dir.path().join("outside");
    fs_err::create_dir_all(image.join("real")).unwrap();
    fs_err::create_dir_all(outside.join("victim")).unwrap();
    symlink(&outside, image.join("d")).unwrap();
    let victim = Folder::open(&outside).unwrap();
    let identity = victim.stat(OsStr::new("victim")).unwrap().unwrap().identity;
    let folder = Folder::open(&image).unwrap();
    remove_if_same(&folder, Path::new("d/victim"), identity).unwrap();
    assert!(outside.join("victim").exists(), "reached through a link");
    let real = folder.stat(OsStr::new("real")).unwrap().unwrap().identity;
    fs_err::remove_dir(image.join("real")).unwrap();
    fs_err::create_dir(image.join("real")).unwrap();
    fs_err::write(image.join("real/mine"), "").unwrap();
    let again = folder.stat(OsStr::new("real")).unwrap().unwrap().identity;
    if again != real {
        remove_if_same(&folder, Path::new("real"), real).unwrap();
        assert!(
            image.join("real/mine").exists(),
            "another folder in its place"
        );
    }
    remove_if_same(&folder, Path::new("real"), again).unwrap();
    assert!(!image.join("real").exists());
}

fn walk_files(dir: &Path) -> Vec<String> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(folder) = pending.pop() {
        for entry in fs_err::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let relative = path.strip_prefix(dir).unwrap();
                files.push(relative.display().to_string());
            }
        }
    }
    files
}

#[test]
fn a_folder_or_file_reached_through_a_link_is_a_link_error_never_followed() {
    let dir = tempfile::tempdir().unwrap();
    fs_err::create_dir(dir.path().join("real")).unwrap();
    fs_err::write(dir.path().join("real/id_rsa"), "secret").unwrap();
    symlink("real", dir.path().join("folder_link")).unwrap();
    symlink("real/id_rsa", dir.path().join("file_link")).unwrap();
    let folder = Folder::open(dir.path()).unwrap();
    let error = folder.child(OsStr::new("folder_link")).err().unwrap();
    assert!(nofollow::is_link_error(&error), "{error}");
    let error = folder.open_file(OsStr::new("file_link")).err().unwrap();
    assert!(nofollow::is_link_error(&error), "{error}");
    let through = Folder::open_resolved(&dir.path().join("folder_link/id_rsa"));
    assert!(through.is_err_and(|e| nofollow::is_link_error(&e)));
}
