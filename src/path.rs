//! ZooKeeper path rules, checked before anything is sent, so bad input is a
//! typed [`Error::InvalidPath`] and never a server round trip or a panic.
//!
//! The rules are the server's (`PathUtils.validatePath`): absolute, no empty
//! segment, no trailing `/` (except the root, and the prefix of a sequential
//! create), no `.` or `..` segment, no NUL or other control characters, none
//! of the characters ZooKeeper reserves.

use crate::error::{Error, Result};

fn invalid(path: &str, reason: &'static str) -> Error {
    Error::InvalidPath {
        path: path.to_string(),
        reason,
    }
}

fn bad_char(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' | '\u{e000}'..='\u{f8ff}' | '\u{fff0}'..='\u{ffff}')
}

/// Checks a node path.
///
/// ```
/// assert!(zklock::path::validate("/app/locks").is_ok());
/// assert!(zklock::path::validate("app").is_err());
/// assert!(zklock::path::validate("/app/").is_err());
/// assert!(zklock::path::validate("/a//b").is_err());
/// ```
///
/// # Errors
/// [`Error::InvalidPath`] naming the rule broken.
pub fn validate(path: &str) -> Result<()> {
    validate_inner(path, false)
}

/// Checks the path given to a sequential create, which may end in `/`
/// (the server then names the node with the sequence number alone).
///
/// # Errors
/// [`Error::InvalidPath`] naming the rule broken.
pub fn validate_sequential(path: &str) -> Result<()> {
    validate_inner(path, true)
}

fn validate_inner(path: &str, sequential: bool) -> Result<()> {
    if path.is_empty() {
        return Err(invalid(path, "empty path"));
    }
    if !path.starts_with('/') {
        return Err(invalid(path, "path must start with '/'"));
    }
    if path == "/" {
        return Ok(());
    }
    if let Some(c) = path.chars().find(|c| bad_char(*c)) {
        return Err(if c == '\0' {
            invalid(path, "NUL byte in path")
        } else {
            invalid(path, "control or reserved character in path")
        });
    }
    if path.contains("//") {
        return Err(invalid(path, "empty segment ('//') in path"));
    }
    let body = &path[1..];
    let body = match body.strip_suffix('/') {
        Some(b) if sequential => b,
        Some(_) => return Err(invalid(path, "path must not end with '/'")),
        None => body,
    };
    if body.is_empty() {
        return Ok(());
    }
    for seg in body.split('/') {
        match seg {
            "" => return Err(invalid(path, "empty segment ('//') in path")),
            "." | ".." => return Err(invalid(path, "relative segment ('.' or '..') in path")),
            _ => {}
        }
    }
    Ok(())
}

/// Checks a path for a lock, a semaphore or any other recipe: a valid path,
/// not the root, and not in the tree ZooKeeper reserves for itself
/// (`/zookeeper`, where the server refuses new nodes) once `chroot` (the
/// connect string's, `""` for none) is put in front of it.
///
/// # Errors
/// [`Error::InvalidPath`] naming the rule broken.
pub(crate) fn validate_recipe(path: &str, chroot: &str) -> Result<()> {
    validate(path)?;
    if path == "/" {
        return Err(invalid(path, "a recipe cannot live at the root"));
    }
    let server = format!("{chroot}{path}");
    if server == "/zookeeper" || server.starts_with("/zookeeper/") {
        return Err(invalid(
            path,
            "the /zookeeper tree is reserved for ZooKeeper itself",
        ));
    }
    Ok(())
}

/// `path` and each of its ancestors below the root, top-down:
/// `/a/b/c` gives `/a`, `/a/b`, `/a/b/c`.
pub(crate) fn lineage(path: &str) -> Vec<&str> {
    path.match_indices('/')
        .skip(1)
        .map(|(i, _)| &path[..i])
        .chain((path != "/").then_some(path))
        .collect()
}

/// Joins a parent path and a child name.
pub(crate) fn join(parent: &str, child: &str) -> String {
    if parent == "/" {
        format!("/{child}")
    } else {
        format!("{parent}/{child}")
    }
}

/// The parent of a path ("/" for top-level nodes and the root).
pub(crate) fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

/// The last segment of a path.
pub(crate) fn basename(path: &str) -> &str {
    match path.rfind('/') {
        Some(i) => &path[i + 1..],
        None => path,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_good_paths() {
        for p in ["/", "/a", "/a/b-c_d.e", "/zk/ünïcode", "/a/.b", "/a/..b"] {
            validate(p).unwrap();
        }
        validate_sequential("/a/").unwrap();
        validate_sequential("/a/lock-").unwrap();
    }

    #[test]
    fn rejects_bad_paths() {
        for p in [
            "",
            "a",
            "a/b",
            "/a/",
            "//",
            "/a//b",
            "/a/./b",
            "/a/..",
            "/a\0b",
            "/a\u{1}",
            "/a\u{fff5}",
        ] {
            assert!(validate(p).is_err(), "{p:?} accepted");
        }
        assert!(validate_sequential("/a//").is_err());
    }

    #[test]
    fn parent_of_paths() {
        assert_eq!(join("/", "a"), "/a");
        assert_eq!(join("/a", "b"), "/a/b");
        assert_eq!(parent("/a/b"), "/a");
        assert_eq!(parent("/a"), "/");
    }

    #[test]
    fn lineage_is_top_down() {
        assert_eq!(lineage("/a/b/c"), vec!["/a", "/a/b", "/a/b/c"]);
        assert_eq!(lineage("/a"), vec!["/a"]);
        assert!(lineage("/").is_empty());
    }

    #[test]
    fn double_slashes_are_empty_segments() {
        for p in ["//", "/a//", "//a"] {
            match validate(p) {
                Err(Error::InvalidPath { reason, .. }) => {
                    assert_eq!(reason, "empty segment ('//') in path", "{p:?}")
                }
                other => panic!("{p:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn recipes_stay_out_of_the_reserved_tree() {
        for (p, chroot) in [
            ("/zookeeper", ""),
            ("/zookeeper/x", ""),
            ("/", ""),
            ("/x", "/zookeeper"),
        ] {
            assert!(
                validate_recipe(p, chroot).is_err(),
                "{p:?} under {chroot:?}"
            );
        }
        for (p, chroot) in [
            ("/zookeeper", "/app"),
            ("/zookeeperish", ""),
            ("/a/zookeeper", ""),
        ] {
            validate_recipe(p, chroot).unwrap();
        }
    }
}
