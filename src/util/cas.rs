//! Read-modify-write of one node with version checks (k3zkutil's
//! `cas_loop`).

use crate::client::{Client, Stat};
use crate::error::Result;
use crate::error::ZkError;

/// Reads the node at `path`, asks `update` for its new data, and writes it
/// only if nobody wrote in between (the version read); on a conflict, reads
/// again and asks again. `update` returns `None` to leave the node as it
/// is. Returns the new [`Stat`], or `None` if `update` declined.
///
/// ```
/// # fn main() -> zklock::Result<()> {
/// # let client = zklock::Client::connect(&zklock::doc_hosts())?;
/// # client.ensure_path("/zklock-doc/counter")?;
/// // A counter several processes increment without losing an update.
/// zklock::util::cas_loop(&client, "/zklock-doc/counter", |data, _| {
///     let n: u64 = std::str::from_utf8(data).ok()?.parse().unwrap_or(0);
///     Some((n + 1).to_string().into_bytes())
/// })?;
/// # Ok(()) }
/// ```
///
/// # Errors
/// `NoNode` as [`crate::Error::ZooKeeper`] if the node is missing (or is deleted
/// during the loop); connection and session errors.
pub fn cas_loop(
    client: &Client,
    path: &str,
    mut update: impl FnMut(&[u8], &Stat) -> Option<Vec<u8>>,
) -> Result<Option<Stat>> {
    loop {
        let (data, stat) = client.get_data(path)?;
        let Some(new) = update(&data, &stat) else {
            return Ok(None);
        };
        match client.set_data(path, &new, Some(stat.version)) {
            Ok(stat) => return Ok(Some(stat)),
            Err(e) if e.is(ZkError::BadVersion) => continue, // someone wrote: again
            Err(e) => return Err(e),
        }
    }
}
