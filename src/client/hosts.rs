//! The connect string: `host:port[,host:port...][/chroot]`, as every
//! ZooKeeper client accepts it. The port defaults to 2181; IPv6 addresses go
//! in brackets (`[::1]:2181`).

use crate::error::{Error, Result};
use crate::path;
use std::net::ToSocketAddrs;

/// A parsed connect string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConnectString {
    pub hosts: Vec<(String, u16)>,
    /// "" for none, else a valid absolute path without a trailing slash.
    pub chroot: String,
}

impl ConnectString {
    pub fn parse(s: &str) -> Result<ConnectString> {
        let bad = |why: &str| Error::InvalidArgument(format!("connect string {s:?}: {why}"));
        let (list, chroot) = match s.find('/') {
            Some(i) => (&s[..i], &s[i..]),
            None => (s, ""),
        };
        let chroot = if chroot == "/" { "" } else { chroot };
        if !chroot.is_empty() {
            path::validate(chroot)?;
        }
        let mut hosts = Vec::new();
        for part in list.split(',') {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let (host, port) = if let Some(rest) = part.strip_prefix('[') {
                let end = rest.find(']').ok_or_else(|| bad("unclosed '['"))?;
                let host = &rest[..end];
                let after = &rest[end + 1..];
                let port = match after.strip_prefix(':') {
                    Some(p) => p,
                    None if after.is_empty() => "2181",
                    None => return Err(bad("junk after ']'")),
                };
                (host, port)
            } else {
                match part.rsplit_once(':') {
                    Some((h, p)) => (h, p),
                    None => (part, "2181"),
                }
            };
            if host.is_empty() {
                return Err(bad("empty host"));
            }
            let port: u16 = port.parse().map_err(|_| bad("bad port"))?;
            hosts.push((host.to_string(), port));
        }
        if hosts.is_empty() {
            return Err(bad("no hosts"));
        }
        Ok(ConnectString {
            hosts,
            chroot: chroot.to_string(),
        })
    }

    /// The hosts, as written, for error messages.
    pub fn hosts_text(&self) -> String {
        self.hosts
            .iter()
            .map(|(h, p)| display(h, *p))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Puts the hosts in a random order, so the clients of one connect
    /// string spread over the ensemble (and one hung host does not stall
    /// every client's first connect), as the Java client and kazoo do.
    pub fn shuffle(&mut self) {
        let mut seed = uuid::Uuid::new_v4().as_u128();
        for i in (1..self.hosts.len()).rev() {
            let n = i as u128 + 1;
            let j = (seed % n) as usize;
            seed /= n;
            self.hosts.swap(i, j);
        }
    }

    /// Drops the hosts whose names do not resolve (logged), as the Java
    /// client does; an error naming each failure if none resolves.
    pub fn drop_unresolvable(&mut self) -> std::result::Result<(), String> {
        let mut failures = Vec::new();
        self.hosts
            .retain(|(h, p)| match (h.as_str(), *p).to_socket_addrs() {
                Ok(addrs) if addrs.len() > 0 => true,
                Ok(_) => {
                    failures.push(format!("{}: no address", display(h, *p)));
                    false
                }
                Err(e) => {
                    failures.push(format!("{}: cannot resolve: {e}", display(h, *p)));
                    false
                }
            });
        for f in &failures {
            log::warn!("zklock: skipping host {f}");
        }
        if self.hosts.is_empty() {
            return Err(failures.join("; "));
        }
        Ok(())
    }
}

/// `host:port`, with an IPv6 address in brackets.
pub(crate) fn display(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hosts_ports_and_chroot() {
        let c = ConnectString::parse("a:1,b,[::1]:3,[fe80::1]/app/x").unwrap();
        assert_eq!(
            c.hosts,
            vec![
                ("a".into(), 1),
                ("b".into(), 2181),
                ("::1".into(), 3),
                ("fe80::1".into(), 2181)
            ]
        );
        assert_eq!(c.chroot, "/app/x");
        assert_eq!(ConnectString::parse("h:2/").unwrap().chroot, "");
    }

    #[test]
    fn shuffling_keeps_every_host() {
        let mut c = ConnectString::parse("a:1,b:2,c:3,d:4").unwrap();
        let mut orders = std::collections::HashSet::new();
        for _ in 0..50 {
            c.shuffle();
            let mut sorted = c.hosts.clone();
            sorted.sort();
            assert_eq!(sorted.len(), 4);
            assert_eq!(sorted[0], ("a".into(), 1));
            orders.insert(c.hosts.clone());
        }
        assert!(orders.len() > 1, "never shuffled");
    }

    #[test]
    fn ipv6_hosts_print_in_brackets() {
        assert_eq!(display("::1", 2181), "[::1]:2181");
        assert_eq!(display("a", 1), "a:1");
    }

    #[test]
    fn rejects_bad_strings() {
        for s in [
            "",
            ",",
            "h:notaport",
            "h:99999",
            ":1",
            "h/bad/",
            "h//x",
            "[::1",
        ] {
            assert!(ConnectString::parse(s).is_err(), "{s:?} accepted");
        }
    }
}
