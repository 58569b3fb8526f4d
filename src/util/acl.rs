//! Permissions and ACL entries as text, as k3zkutil writes them:
//! letters `cdrwa` ⇄ bits ⇄ names (`create`, `delete`, `read`, `write`,
//! `admin`), the digest of `user:password`, and entries
//! `scheme:id:perms` (`digest:alice:<digest>:rw`).

use crate::client::{Acl, perms};
use crate::error::{Error, Result};

/// Each permission: its letter, its name, its bit.
const PERMS: [(char, &str, i32); 5] = [
    ('c', "create", perms::CREATE),
    ('d', "delete", perms::DELETE),
    ('r', "read", perms::READ),
    ('w', "write", perms::WRITE),
    ('a', "admin", perms::ADMIN),
];

fn bad(what: &str) -> Error {
    Error::InvalidArgument(format!("not a permission: {what:?} (use c, d, r, w, a)"))
}

/// Letters to names (k3zkutil's `perm_to_long`): `"rw"` gives
/// `["read", "write"]`; upper-case letters are accepted.
///
/// # Errors
/// [`Error::InvalidArgument`] for a letter that is not one of `cdrwa`.
pub fn perm_to_long(letters: &str) -> Result<Vec<&'static str>> {
    letters
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            PERMS
                .iter()
                .find(|p| p.0 == c)
                .map(|p| p.1)
                .ok_or_else(|| bad(&c.to_string()))
        })
        .collect()
}

/// Names to letters (k3zkutil's `perm_to_short`): `["read", "write"]`
/// gives `"rw"`; any case.
///
/// # Errors
/// [`Error::InvalidArgument`] for a name that is not a permission.
pub fn perm_to_short<S: AsRef<str>>(names: &[S]) -> Result<String> {
    names
        .iter()
        .map(|n| {
            let n = n.as_ref().to_ascii_lowercase();
            PERMS
                .iter()
                .find(|p| p.1 == n)
                .map(|p| p.0)
                .ok_or_else(|| bad(&n))
        })
        .collect()
}

/// Letters to [`perms`] bits: `"cdrwa"` is [`perms::ALL`].
///
/// # Errors
/// [`Error::InvalidArgument`] for a letter that is not one of `cdrwa`.
pub fn perms_from_letters(letters: &str) -> Result<i32> {
    letters.chars().try_fold(0, |bits, c| {
        let c = c.to_ascii_lowercase();
        PERMS
            .iter()
            .find(|p| p.0 == c)
            .map(|p| bits | p.2)
            .ok_or_else(|| bad(&c.to_string()))
    })
}

/// [`perms`] bits to letters, in the order `cdrwa`.
pub fn perms_to_letters(bits: i32) -> String {
    PERMS
        .iter()
        .filter(|p| bits & p.2 != 0)
        .map(|p| p.0)
        .collect()
}

/// The digest of `user:password` (k3zkutil's `make_digest`): base64 of its
/// SHA-1, what the server keeps as the id of a `digest` ACL entry after the
/// user's name.
///
/// # Errors
/// [`Error::InvalidArgument`] if `account` has no `:`.
pub fn make_digest(account: &str) -> Result<String> {
    let (user, password) = account
        .split_once(':')
        .ok_or_else(|| Error::InvalidArgument(format!("not user:password: {account:?}")))?;
    let id = Acl::digest(user, password, 0).id;
    Ok(id[user.len() + 1..].to_string())
}

/// A digest ACL entry as text (k3zkutil's `make_acl_entry`):
/// `digest:<user>:<digest>:<letters>`.
///
/// # Errors
/// [`Error::InvalidArgument`] for a letter that is not one of `cdrwa`.
pub fn make_acl_entry(user: &str, password: &str, letters: &str) -> Result<String> {
    perms_from_letters(letters)?;
    let digest = make_digest(&format!("{user}:{password}"))?;
    Ok(format!(
        "digest:{user}:{digest}:{}",
        letters.to_ascii_lowercase()
    ))
}

/// Parses an ACL entry `scheme:id:letters` (the id may hold `:`, as digest
/// ids do): `digest:alice:X/Hr...=:rw`, `world:anyone:cdrwa`, `ip:10.0.0.1:r`.
///
/// # Errors
/// [`Error::InvalidArgument`] for an entry without three parts or with a
/// bad letter.
pub fn parse_acl_entry(entry: &str) -> Result<Acl> {
    let malformed = || Error::InvalidArgument(format!("not scheme:id:perms: {entry:?}"));
    let (scheme, rest) = entry.split_once(':').ok_or_else(malformed)?;
    let (id, letters) = rest.rsplit_once(':').ok_or_else(malformed)?;
    if scheme.is_empty() {
        return Err(malformed());
    }
    Ok(Acl {
        perms: perms_from_letters(letters)?,
        scheme: scheme.to_string(),
        id: id.to_string(),
    })
}

/// Digest ACL entries for `(user, password, letters)` triples (k3zkutil's
/// `make_kazoo_digest_acl`), ready for a lock's `.acl(..)`.
///
/// # Errors
/// [`Error::InvalidArgument`] for a bad letter.
pub fn digest_acl(entries: &[(&str, &str, &str)]) -> Result<Vec<Acl>> {
    entries
        .iter()
        .map(|(user, password, letters)| {
            Ok(Acl::digest(user, password, perms_from_letters(letters)?))
        })
        .collect()
}

/// `(scheme, user, letters)` for each entry (k3zkutil's `parse_kazoo_acl`):
/// the user is the id up to its first `:`.
pub fn describe_acl(acl: &[Acl]) -> Vec<(String, String, String)> {
    acl.iter()
        .map(|a| {
            let user = a.id.split(':').next().unwrap_or_default();
            (
                a.scheme.clone(),
                user.to_string(),
                perms_to_letters(a.perms),
            )
        })
        .collect()
}

/// An entry as text, `scheme:id:letters` ([`parse_acl_entry`]'s inverse).
pub fn format_acl_entry(a: &Acl) -> String {
    format!("{}:{}:{}", a.scheme, a.id, perms_to_letters(a.perms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_names_and_bits() {
        assert_eq!(
            perm_to_long("cdRWa").unwrap(),
            ["create", "delete", "read", "write", "admin"]
        );
        assert_eq!(perm_to_short(&["READ", "write"]).unwrap(), "rw");
        assert_eq!(perms_from_letters("cdrwa").unwrap(), perms::ALL);
        assert_eq!(perms_to_letters(perms::READ | perms::ADMIN), "ra");
        assert!(matches!(perm_to_long("rx"), Err(Error::InvalidArgument(_))));
        assert!(matches!(
            perm_to_short(&["read", "own"]),
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(
            perms_from_letters("q"),
            Err(Error::InvalidArgument(_))
        ));
    }

    #[test]
    fn digests_match_the_servers() {
        // ZooKeeper's DigestAuthenticationProvider: base64(sha1("super:test")).
        assert_eq!(
            make_digest("super:test").unwrap(),
            "D/InIHSb7yEEbrWz8b9l71RjZJU="
        );
        assert!(matches!(
            make_digest("nocolon"),
            Err(Error::InvalidArgument(_))
        ));
        let entry = make_acl_entry("super", "test", "rw").unwrap();
        assert_eq!(entry, "digest:super:D/InIHSb7yEEbrWz8b9l71RjZJU=:rw");
        let acl = parse_acl_entry(&entry).unwrap();
        assert_eq!(
            acl,
            Acl::digest("super", "test", perms::READ | perms::WRITE)
        );
        assert_eq!(format_acl_entry(&acl), entry);
    }

    #[test]
    fn entries_parse_or_fail_typed() {
        let world = parse_acl_entry("world:anyone:cdrwa").unwrap();
        assert_eq!(world, Acl::open_unsafe()[0]);
        assert_eq!(parse_acl_entry("ip:10.0.0.1:r").unwrap().id, "10.0.0.1");
        for bad in ["", "world", "world:anyone", ":x:r", "world:anyone:rz"] {
            assert!(
                matches!(parse_acl_entry(bad), Err(Error::InvalidArgument(_))),
                "{bad}"
            );
        }
        let acl = digest_acl(&[("xp", "123", "cdrwa"), ("foo", "passw", "rw")]).unwrap();
        let described = describe_acl(&acl);
        assert_eq!(described[0], ("digest".into(), "xp".into(), "cdrwa".into()));
        assert_eq!(described[1].2, "rw");
        assert!(digest_acl(&[("x", "y", "k")]).is_err());
    }
}
