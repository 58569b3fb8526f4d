//! The one global order in which a program takes several locks, so that two
//! programs taking overlapping sets never wait for each other in a cycle:
//! by path, compared as byte strings (the order `str`'s `Ord` gives).
//!
//! [`is_backward_locking`] is k3zkutil's helper for programs that take
//! locks one by one: it tells whether the next one would break the order.

/// Whether taking `next` while holding `held` breaks the global order:
/// `true` when `next` sorts before a key already held (k3zkutil's
/// `is_backward_locking`). A program that only ever takes locks forward
/// cannot deadlock with another that does the same. Taking a key equal to
/// one held is not backward (with a reentrant lock it is a re-entry).
///
/// ```
/// use zklock::lock::is_backward_locking;
/// assert!(!is_backward_locking(["/locks/a"], "/locks/b"));
/// assert!(is_backward_locking(["/locks/a", "/locks/c"], "/locks/b"));
/// assert!(!is_backward_locking(Vec::<String>::new(), "/locks/a"));
/// ```
pub fn is_backward_locking<I>(held: I, next: &str) -> bool
where
    I: IntoIterator,
    I::Item: AsRef<str>,
{
    held.into_iter().any(|h| next < h.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forward_and_backward() {
        // (held, next, backward?)
        let cases: [(&[&str], &str, bool); 7] = [
            (&[], "/a", false),
            (&["/a"], "/b", false),
            (&["/b"], "/a", true),
            (&["/a"], "/a", false),
            (&["/a", "/c"], "/b", true),
            (&["/a", "/b"], "/c", false),
            // Byte order: a parent sorts before its children.
            (&["/a/b"], "/a", true),
        ];
        for (held, next, backward) in cases {
            assert_eq!(
                is_backward_locking(held.iter(), next),
                backward,
                "{held:?} then {next}"
            );
        }
    }

    #[test]
    fn owned_and_borrowed_keys() {
        let held: Vec<String> = vec!["/x".into()];
        assert!(is_backward_locking(&held, "/w"));
        assert!(!is_backward_locking(held, "/y"));
    }
}
