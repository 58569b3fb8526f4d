//! k3zkutil's lock ids: `<node_id>-<ip>-<pid>-<uuid>`, naming a holder by
//! its host, address and process (`zkutil.lock_id`, `parse_lock_id`).

use std::net::UdpSocket;

/// A lock id taken apart (k3zkutil's `parse_lock_id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockId {
    /// The host's id (k3zkutil's default: the MAC address as 12 hex digits).
    pub node_id: String,
    /// The host's IPv4 address, or `unknownip`; `None` if missing.
    pub ip: Option<String>,
    /// The process id; `None` if missing or not a number.
    pub process_id: Option<u32>,
    /// The random part; `None` if missing.
    pub uuid: Option<String>,
    /// The text after `txid:` when the node id has that form (k3zkutil's
    /// transactions), else `None`.
    pub txid: Option<String>,
}

/// A new lock id, `<node_id>-<ip>-<pid>-<uuid>` as k3zkutil's `lock_id`
/// makes it: `node_id` (default: this host's MAC address as 12 hex digits,
/// as k3zkutil's default `zk_node_id`), the address this host reaches the
/// network from (`unknownip` if none), the process id, and a fresh UUID's
/// 32 hex digits.
///
/// ```
/// let id = zklock::util::lock_id(Some("web"));
/// let parsed = zklock::util::parse_lock_id(&id);
/// assert_eq!(parsed.node_id, "web");
/// assert_eq!(parsed.process_id, Some(std::process::id()));
/// ```
pub fn lock_id(node_id: Option<&str>) -> String {
    let node = node_id.map_or_else(default_node_id, str::to_string);
    let ip = host_ip4().unwrap_or_else(|| "unknownip".to_string());
    let uuid = uuid::Uuid::new_v4().simple().to_string();
    format!("{node}-{ip}-{}-{uuid}", std::process::id())
}

/// Takes a lock id apart (k3zkutil's `parse_lock_id`): fields that are
/// missing or malformed are `None`; never fails.
pub fn parse_lock_id(id: &str) -> LockId {
    let mut parts = id.splitn(4, '-');
    let node_id = parts.next().unwrap_or_default().to_string();
    let ip = parts.next().map(str::to_string);
    let process_id = parts.next().and_then(|p| p.parse().ok());
    let uuid = parts.next().map(str::to_string);
    let txid = node_id.strip_prefix("txid:").map(str::to_string);
    LockId {
        node_id,
        ip,
        process_id,
        uuid,
        txid,
    }
}

/// This host's MAC address as 12 hex digits (the first interface that has
/// one), or 12 random hex digits.
fn default_node_id() -> String {
    let mut names: Vec<_> = std::fs::read_dir("/sys/class/net")
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    names.sort();
    names
        .iter()
        .filter_map(|p| std::fs::read_to_string(p.join("address")).ok())
        .map(|mac| mac.trim().replace(':', ""))
        .find(|mac| mac.len() == 12 && mac.chars().any(|c| c != '0'))
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string()[..12].to_string())
}

/// The IPv4 address this host sends from (no packet is sent: connecting a
/// UDP socket only picks the route).
fn host_ip4() -> Option<String> {
    let socket = UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("10.255.255.255:1").ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_unspecified()).then(|| ip.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_k3zkutil_writes() {
        let id = parse_lock_id("a1b2c3d4e5f6-192.168.0.2-1233-0123456789abcdef0123456789abcdef");
        assert_eq!(id.node_id, "a1b2c3d4e5f6");
        assert_eq!(id.ip.as_deref(), Some("192.168.0.2"));
        assert_eq!(id.process_id, Some(1233));
        assert_eq!(id.uuid.as_deref(), Some("0123456789abcdef0123456789abcdef"));
        assert_eq!(id.txid, None);
    }

    #[test]
    fn malformed_ids_give_nones() {
        let id = parse_lock_id("txid:42-1.2.3.4-pid");
        assert_eq!(id.txid.as_deref(), Some("42"));
        assert_eq!((id.process_id, id.uuid), (None, None));
        let empty = parse_lock_id("");
        assert_eq!((empty.node_id.as_str(), empty.ip), ("", None));
    }

    #[test]
    fn a_new_id_round_trips() {
        let id = lock_id(None);
        let p = parse_lock_id(&id);
        assert_eq!(p.node_id.len(), 12);
        assert_eq!(p.process_id, Some(std::process::id()));
        assert_eq!(p.uuid.map(|u| u.len()), Some(32));
        assert_ne!(lock_id(None), id);
    }
}
