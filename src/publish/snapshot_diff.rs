//! What changed between two snapshot files (`pip freeze` output): the packages added, removed
//! and at another version, matched by their normalized names as pip matches them.

use std::collections::BTreeMap;

/// One package's change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Added {
        name: String,
        version: String,
    },
    Removed {
        name: String,
        version: String,
    },
    Changed {
        name: String,
        from: String,
        to: String,
    },
}

/// The changes from `old` to `new`, by normalized package name.
pub fn diff(old: &str, new: &str) -> Vec<Change> {
    let (old, new) = (packages(old), packages(new));
    let mut changes = Vec::new();
    for (key, (name, version)) in &old {
        match new.get(key) {
            None => changes.push(Change::Removed {
                name: name.clone(),
                version: version.clone(),
            }),
            Some((new_name, new_version)) if new_version != version => {
                changes.push(Change::Changed {
                    name: new_name.clone(),
                    from: version.clone(),
                    to: new_version.clone(),
                })
            }
            Some(_) => {}
        }
    }
    for (key, (name, version)) in &new {
        if !old.contains_key(key) {
            changes.push(Change::Added {
                name: name.clone(),
                version: version.clone(),
            });
        }
    }
    changes.sort_by_key(|change| normalized(change.name()));
    changes
}

/// `changes` as lines for people: `+ name==version`, `- name==version`, `~ name old -> new`.
pub fn describe(changes: &[Change]) -> String {
    if changes.is_empty() {
        return "  no change\n".to_owned();
    }
    changes
        .iter()
        .map(|change| match change {
            Change::Added { name, version } => format!("  + {name}{version}\n"),
            Change::Removed { name, version } => format!("  - {name}{version}\n"),
            Change::Changed { name, from, to } => {
                format!("  ~ {name} {} -> {}\n", bare(from), bare(to))
            }
        })
        .collect()
}

impl Change {
    fn name(&self) -> &str {
        match self {
            Change::Added { name, .. } | Change::Removed { name, .. } => name,
            Change::Changed { name, .. } => name,
        }
    }
}

/// Normalized name -> (name as written, version with its operator: `==1.0`, ` @ url`).
fn packages(text: &str) -> BTreeMap<String, (String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with(['#', '-']))
        .map(|line| {
            let split = line.find("==").or_else(|| line.find(" @ "));
            let (name, version) = line.split_at(split.unwrap_or(line.len()));
            (
                normalized(name),
                (name.trim().to_owned(), version.to_owned()),
            )
        })
        .collect()
}

/// A version without its `==`, as people write it next to an arrow.
fn bare(version: &str) -> &str {
    version.strip_prefix("==").unwrap_or(version).trim()
}

/// The name as pip compares names: case-insensitive, runs of `-`, `_` and `.` alike.
fn normalized(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.trim().chars() {
        if matches!(c, '-' | '_' | '.') {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_added_removed_and_changed_packages_in_name_order() {
        let old = "alembic==1.4.2\nclick==7.1.2\nPyYAML==5.3.1\nsix==1.15.0\n";
        let new = "alembic==1.4.3\nclick==7.1.2\ncroniter==0.3.36\npyyaml==5.3.1\nzipp==3.4\n";
        assert_eq!(
            diff(old, new),
            [
                Change::Changed {
                    name: "alembic".into(),
                    from: "==1.4.2".into(),
                    to: "==1.4.3".into()
                },
                Change::Added {
                    name: "croniter".into(),
                    version: "==0.3.36".into()
                },
                Change::Removed {
                    name: "six".into(),
                    version: "==1.15.0".into()
                },
                Change::Added {
                    name: "zipp".into(),
                    version: "==3.4".into()
                },
            ]
        );
        assert_eq!(
            describe(&diff(old, new)),
            "  ~ alembic 1.4.2 -> 1.4.3\n  + croniter==0.3.36\n  - six==1.15.0\n  + zipp==3.4\n"
        );
    }

    #[test]
    fn names_match_as_pip_normalizes_them() {
        assert_eq!(diff("Foo_Bar==1\n", "foo-bar==1\nfoo.baz==2\n").len(), 1);
        assert_eq!(diff("a-_-b==1\n", "A.B==1\n"), []);
    }

    #[test]
    fn comments_options_and_urls_are_understood() {
        let old = "# frozen\n-e git+https://x#egg=y\ndagster @ file:///src/dagster\n\n";
        let new = "dagster @ file:///src/dagster2\n";
        assert_eq!(
            describe(&diff(old, new)),
            "  ~ dagster @ file:///src/dagster -> @ file:///src/dagster2\n"
        );
        assert_eq!(describe(&diff("", "")), "  no change\n");
        assert_eq!(
            describe(&diff("", "a==1\n")),
            "  + a==1\n",
            "a first snapshot adds everything"
        );
    }
}
