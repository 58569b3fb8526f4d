//! Who a contender is: the identifier stored as its node's data (a default
//! naming the host and process, a size check before anything is sent), and
//! reading the identifiers of a directory's contenders or leases back.

use super::name;
use crate::client::Client;
use crate::client::scope::{Call, ReplyExt, Scope};
use crate::error::{Error, Failure, Result, ZkError};
use crate::path;

/// The identifier used when none is given: `<hostname>:<pid>`, so
/// `contenders()` (and kazoo's) tell who is waiting.
pub(crate) fn default_identifier() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown-host".into());
    format!("{host}:{}", std::process::id())
}

/// Checks that an identifier fits in a request the server accepts.
pub(crate) fn check_identifier(scope: &Scope, path: &str, id: &[u8]) -> Result<()> {
    // The create request also carries the path, the ACL and headers.
    let limit = scope.max_request_size().saturating_sub(path.len() + 256);
    if id.len() > limit {
        return Err(Error::InvalidArgument(format!(
            "identifier of {} bytes is larger than ZooKeeper accepts ({limit} bytes here)",
            id.len()
        )));
    }
    Ok(())
}

/// The session an attempt on `path` starting now runs in, once the
/// identifier `id` is known to fit.
pub(crate) fn attempt_scope(client: &Client, path: &str, id: &[u8]) -> Result<Scope> {
    let scope = client.scope().map_err(|f| f.into_error(path))?;
    check_identifier(&scope, path, id)?;
    Ok(scope)
}

/// Lists a lock directory and reads every contender's identifier, in queue
/// order, in one round trip for all of them.
pub(crate) fn contender_identifiers(
    client: &Client,
    dir: &str,
    extra: &[String],
) -> Result<Vec<String>> {
    let children = match client.get_children(dir) {
        Ok(c) => c,
        Err(e) if e.is(ZkError::NoNode) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let queue = name::queue(&children, extra);
    read_identifiers(client, dir, queue.iter().map(|c| c.name.as_str()))
}

/// Reads the data of `names` under `dir`, pipelined; nodes that vanished
/// meanwhile are skipped.
pub(crate) fn read_identifiers<'a>(
    client: &Client,
    dir: &str,
    names: impl Iterator<Item = &'a str>,
) -> Result<Vec<String>> {
    let calls: Vec<Call> = names.map(|n| Call::get_data(&path::join(dir, n))).collect();
    if calls.is_empty() {
        return Ok(Vec::new());
    }
    let scope = client.scope().map_err(|f| f.into_error(dir))?;
    let deadline = scope.request_deadline();
    let mut out = Vec::with_capacity(calls.len());
    for reply in scope.round_trip(calls, deadline) {
        match reply.data() {
            Ok((d, _)) => out.push(String::from_utf8_lossy(&d).into_owned()),
            Err(Failure::Server(ZkError::NoNode)) => {}
            Err(f) => return Err(f.into_error(dir)),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_identifier_names_host_and_process() {
        let id = default_identifier();
        assert!(id.ends_with(&format!(":{}", std::process::id())));
    }
}
