//! Contender node names: recognising every known format, ordering them, and
//! writing our own.
//!
//! Every ZooKeeper sequential node ends in the same counter: the parent's
//! child version, printed by the server as `%010d`. It is a signed 32-bit
//! number: `0000000042`, and after 2^31 children have come and gone it wraps
//! to `-2147483648` and counts up through `-000000005` (the sign counts in
//! the width). So the counter is parsed as an `i32` and compared with serial
//! arithmetic, never as text (text comparison breaks after the wrap, kazoo
//! #606 and #730).
//!
//! What precedes the counter says who wrote the node and whether it reads or
//! writes:
//!
//! | writer | exclusive / write | read |
//! |---|---|---|
//! | kazoo (zklock's default) | `<hex32>__lock__<seq>` | `<hex32>__rlock__<seq>` |
//! | Curator | `_c_<uuid>-lock-<seq>`, `_c_<uuid>-__WRIT__<seq>` | `_c_<uuid>-__READ__<seq>` |
//! | zktools, ZooKeeper's recipe, go-zookeeper | `<guid>-lock-<seq>`, `<guid>-write-<seq>` | `<guid>-read-<seq>` |
//! | zk (Ruby) | `ex<seq>` | `sh<seq>` |
//!
//! Children that match none of these (no counter, or no known marker right
//! before it) are not contenders and are ignored, never taken for holders.

/// Whether a contender reads (shares) or writes (excludes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// A shared (read) contender: only writers ahead of it block it.
    Reader,
    /// An exclusive (write) contender: anyone ahead of it blocks it.
    Writer,
}

/// A child of a lock directory that is a contender.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Contender {
    /// The child's name.
    pub name: String,
    /// Its sequence counter.
    pub seq: i32,
    /// Reader or writer, from its marker.
    pub role: Role,
}

/// Markers that end the text before the counter, and the role they mean.
pub const MARKERS: &[(&str, Role)] = &[
    ("__lock__", Role::Writer),
    ("__rlock__", Role::Reader),
    ("-lock-", Role::Writer),
    ("-write-", Role::Writer),
    ("-read-", Role::Reader),
    ("__WRIT__", Role::Writer),
    ("__READ__", Role::Reader),
];

/// Markers that are the whole text before the counter (no unique prefix).
const BARE_MARKERS: &[(&str, Role)] = &[
    ("lock-", Role::Writer),
    ("write-", Role::Writer),
    ("read-", Role::Reader),
    ("ex", Role::Writer),
    ("sh", Role::Reader),
];

fn role_of(prefix: &str) -> Option<Role> {
    MARKERS
        .iter()
        .find(|(m, _)| prefix.ends_with(m))
        .or_else(|| BARE_MARKERS.iter().find(|(m, _)| prefix == *m))
        .map(|(_, r)| *r)
}

/// The ways the server prints a counter at the end of a name: Java's
/// `%010d`, so ten digits (`0000000042`), or a minus and nine digits
/// (`-000000005`) or ten (`-2147483648`). Returns the readings that print
/// back exactly so, as (counter, length of its text); a minus may also belong
/// to a marker (`-lock-0000000042`), so the caller keeps the first reading
/// whose remaining prefix ends in one.
fn counter_candidates(name: &str) -> Vec<(i32, usize)> {
    let bytes = name.as_bytes();
    let digits = bytes
        .iter()
        .rev()
        .take_while(|b| b.is_ascii_digit())
        .count();
    let mut lengths = Vec::with_capacity(2);
    if digits == 10 {
        lengths.push(10);
    }
    if (digits == 9 || digits == 10)
        && bytes.len() > digits
        && bytes[bytes.len() - digits - 1] == b'-'
    {
        lengths.push(digits + 1);
    }
    lengths
        .into_iter()
        .filter_map(|len| {
            let text = &name[name.len() - len..];
            let v: i32 = text.parse().ok()?;
            (format!("{v:010}") == text).then_some((v, len))
        })
        .collect()
}

/// Parses a child name; `None` if it is not a contender of a known format.
///
/// ```
/// use zklock::lock::name::{parse, Role};
/// let c = parse("9f1c2e4b5a6d7e8f9a0b1c2d3e4f5a6b__rlock__0000000007").unwrap();
/// assert_eq!((c.seq, c.role), (7, Role::Reader));
/// assert_eq!(parse("_c_8eb6-lock--000000005").unwrap().seq, -5);
/// assert!(parse("config").is_none());
/// ```
pub fn parse(name: &str) -> Option<Contender> {
    parse_with(name, &[])
}

/// As [`parse`], also accepting `extra` markers (as writers).
pub fn parse_with(name: &str, extra: &[String]) -> Option<Contender> {
    counter_candidates(name).into_iter().find_map(|(seq, len)| {
        let prefix = &name[..name.len() - len];
        let role = role_of(prefix).or_else(|| {
            extra
                .iter()
                .any(|m| prefix.ends_with(m.as_str()))
                .then_some(Role::Writer)
        })?;
        Some(Contender {
            name: name.to_string(),
            seq,
            role,
        })
    })
}

/// Sorts contenders into queue order, by counter. The counters of one
/// directory's live contenders lie well within 2^31 steps of each other, so
/// a set spanning more than that numerically has wrapped (from `2147483647`
/// to `-2147483648`): its negative counters are the newest, and comparing
/// the counters as unsigned puts them last.
pub fn sort(contenders: &mut [Contender]) {
    let min = contenders.iter().map(|c| c.seq as i64).min().unwrap_or(0);
    let max = contenders.iter().map(|c| c.seq as i64).max().unwrap_or(0);
    let wrapped = max - min > i32::MAX as i64;
    let key = |c: &Contender| {
        if wrapped {
            c.seq as u32 as i64
        } else {
            c.seq as i64
        }
    };
    contenders.sort_by(|a, b| key(a).cmp(&key(b)).then_with(|| a.name.cmp(&b.name)));
}

/// Parses and sorts a directory listing into the queue.
pub fn queue(children: &[String], extra: &[String]) -> Vec<Contender> {
    let mut q: Vec<Contender> = children
        .iter()
        .filter_map(|c| parse_with(c, extra))
        .collect();
    sort(&mut q);
    q
}

/// Whose node-name format a lock writes. Every format is read, whatever
/// the flavour; the flavour decides what the others see of us.
///
/// ```
/// use zklock::Flavor;
/// assert_eq!(Flavor::default(), Flavor::Kazoo);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Flavor {
    /// kazoo's names (the default): `<32 hex>__lock__<seq>` for exclusive
    /// and write locks, `<32 hex>__rlock__<seq>` for read locks; the
    /// semaphore in kazoo's `Semaphore` layout. kazoo clients queue with
    /// zklock on the same path unchanged.
    #[default]
    Kazoo,
    /// Curator's names: `_c_<uuid>-lock-<seq>` (`InterProcessMutex`),
    /// `_c_<uuid>-__WRIT__<seq>` and `_c_<uuid>-__READ__<seq>`
    /// (`InterProcessReadWriteLock`); the semaphore in
    /// `InterProcessSemaphoreV2`'s layout. Curator clients queue with zklock
    /// on the same path unchanged.
    Curator,
}

/// Which lock a contender takes part in; Curator names the three apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// An exclusive lock.
    Exclusive,
    /// The read side of a read/write lock.
    Read,
    /// The write side of a read/write lock.
    Write,
}

impl Kind {
    /// Reader or writer.
    pub fn role(self) -> Role {
        match self {
            Kind::Read => Role::Reader,
            Kind::Exclusive | Kind::Write => Role::Writer,
        }
    }
}

/// A fresh unique prefix for a contender node of `kind`, in `flavor`'s
/// format; the server appends the sequence counter.
///
/// ```
/// use zklock::lock::name::{contender_prefix, Kind};
/// use zklock::Flavor;
/// let k = contender_prefix(Flavor::Kazoo, Kind::Read);
/// assert!(k.len() == 41 && k.ends_with("__rlock__"));
/// let c = contender_prefix(Flavor::Curator, Kind::Exclusive);
/// assert!(c.starts_with("_c_") && c.ends_with("-lock-") && c.len() == 45);
/// ```
pub fn contender_prefix(flavor: Flavor, kind: Kind) -> String {
    let id = uuid::Uuid::new_v4();
    match (flavor, kind) {
        (Flavor::Kazoo, Kind::Read) => format!("{}__rlock__", id.simple()),
        (Flavor::Kazoo, _) => format!("{}__lock__", id.simple()),
        (Flavor::Curator, Kind::Exclusive) => format!("_c_{id}-lock-"),
        (Flavor::Curator, Kind::Write) => format!("_c_{id}-__WRIT__"),
        (Flavor::Curator, Kind::Read) => format!("_c_{id}-__READ__"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seqs(names: &[&str]) -> Vec<i32> {
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        queue(&names, &[]).iter().map(|c| c.seq).collect()
    }

    #[test]
    fn every_known_format() {
        let cases = [
            (
                "0123456789abcdef0123456789abcdef__lock__0000000001",
                1,
                Role::Writer,
            ),
            (
                "0123456789abcdef0123456789abcdef__rlock__0000000002",
                2,
                Role::Reader,
            ),
            (
                "_c_1b2e5c8a-3f4d-4e5a-9b6c-7d8e9f0a1b2c-lock-0000000003",
                3,
                Role::Writer,
            ),
            (
                "_c_1b2e5c8a-3f4d-4e5a-9b6c-7d8e9f0a1b2c-__WRIT__0000000004",
                4,
                Role::Writer,
            ),
            (
                "_c_1b2e5c8a-3f4d-4e5a-9b6c-7d8e9f0a1b2c-__READ__0000000005",
                5,
                Role::Reader,
            ),
            ("8eb6a1-lock-0000000006", 6, Role::Writer),
            ("8eb6a1-write-0000000007", 7, Role::Writer),
            ("8eb6a1-read-0000000008", 8, Role::Reader),
            ("lock-0000000009", 9, Role::Writer),
            ("__WRIT__0000000010", 10, Role::Writer),
            ("ex0000000011", 11, Role::Writer),
            ("sh0000000012", 12, Role::Reader),
        ];
        for (name, seq, role) in cases {
            let c = parse(name).unwrap_or_else(|| panic!("{name} not parsed"));
            assert_eq!((c.seq, c.role), (seq, role), "{name}");
        }
    }

    #[test]
    fn negative_counters_in_every_width() {
        assert_eq!(parse("x__lock__-000000005").unwrap().seq, -5);
        assert_eq!(parse("x__lock__-2147483648").unwrap().seq, i32::MIN);
        assert_eq!(parse("x-lock--000000005").unwrap().seq, -5);
        assert_eq!(parse("x-lock--2147483648").unwrap().seq, i32::MIN);
        // "-lock-" + a positive counter is not read as a negative one.
        assert_eq!(parse("x-lock-2147483647").unwrap().seq, i32::MAX);
        assert_eq!(parse("x-lock-1500000000").unwrap().seq, 1_500_000_000);
    }

    #[test]
    fn not_contenders() {
        for name in [
            "config",
            "x__lock__",
            "x__lock__123",
            "x__lock__00000000001", // eleven digits
            "x__lock__2147483648",  // out of range
            "x__other__0000000001",
            "lease-0000000001",
            "block-0000000001x",
            "0000000001",
            "x__lock__+000000001",
            "x-write--0000000051", // -51 prints as -000000051
            "x__lock__-0000000005",
        ] {
            assert!(parse(name).is_none(), "{name} parsed");
        }
    }

    #[test]
    fn extra_markers() {
        let extra = vec!["-lease-".to_string()];
        assert!(parse("x-lease-0000000001").is_none());
        assert_eq!(
            parse_with("x-lease-0000000001", &extra).unwrap().role,
            Role::Writer
        );
    }

    #[test]
    fn order_is_numeric_not_textual() {
        assert_eq!(
            seqs(&[
                "a__lock__0000000010",
                "b__lock__0000000002",
                "c-lock-0000000001"
            ]),
            vec![1, 2, 10]
        );
        // Mixed formats sort by counter alone.
        assert_eq!(
            seqs(&[
                "z__rlock__0000000003",
                "ex0000000001",
                "_c_x-__WRIT__0000000002"
            ]),
            vec![1, 2, 3]
        );
    }

    #[test]
    fn order_across_the_wrap() {
        let names = [
            "a__lock__-2147483647",
            "b__lock__2147483646",
            "c__lock__-2147483648",
            "d__lock__2147483647",
        ];
        assert_eq!(
            seqs(&names),
            vec![2147483646, 2147483647, i32::MIN, i32::MIN + 1]
        );
        // Within the negative range, plain numeric order.
        assert_eq!(
            seqs(&[
                "a__lock__-000000003",
                "b__lock__-000000005",
                "c__lock__0000000001"
            ]),
            vec![-5, -3, 1]
        );
    }

    #[test]
    fn prefixes_are_unique_and_shaped_like_their_flavour() {
        let a = contender_prefix(Flavor::Kazoo, Kind::Write);
        let b = contender_prefix(Flavor::Kazoo, Kind::Read);
        assert_eq!(a.len(), 40);
        assert!(a.ends_with("__lock__") && b.ends_with("__rlock__"));
        assert!(
            a[..32]
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_ne!(a[..32], b[..32]);
        for kind in [Kind::Exclusive, Kind::Read, Kind::Write] {
            for flavor in [Flavor::Kazoo, Flavor::Curator] {
                let p = contender_prefix(flavor, kind);
                let c = parse(&format!("{p}0000000001")).expect("our own names parse");
                assert_eq!(c.role, kind.role(), "{p}");
            }
        }
        // Curator sorts by what follows its lock name: exactly the counter.
        let w = contender_prefix(Flavor::Curator, Kind::Write);
        let r = contender_prefix(Flavor::Curator, Kind::Read);
        assert_eq!(
            w.len(),
            r.len(),
            "Curator needs __READ__ and __WRIT__ alike long"
        );
        assert!(w.starts_with("_c_") && w.ends_with("-__WRIT__") && r.ends_with("-__READ__"));
    }
}
