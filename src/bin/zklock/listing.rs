//! `list`, `show`, `remove`, `cleanup` and `revoke`: what an operator needs
//! at 3 a.m. when a job is stuck behind a lock (zktools' `zooky`).

use crate::{Failure, code};
use serde_json::{Value, json};
use std::io::{BufRead, IsTerminal, Write};
use std::time::{Duration, SystemTime};
use zklock::{Client, Lock, LockInfo, NodeLock, Semaphore, ZkError};

/// What a path is, for these commands.
enum Kind {
    /// A queue lock directory; `true` if readers are queued (a read/write
    /// lock).
    Queue(bool),
    /// A semaphore, in kazoo's layout or (`true`) Curator's.
    Semaphore(bool),
    /// k3zkutil's single-node lock.
    Node,
}

impl Kind {
    fn name(&self) -> &'static str {
        match self {
            Kind::Queue(false) => "lock",
            Kind::Queue(true) => "rwlock",
            Kind::Semaphore(_) => "semaphore",
            Kind::Node => "node-lock",
        }
    }
}

/// What `path` is, from its children (and, for a leaf, its data).
fn kind_of(client: &Client, path: &str, children: &[String]) -> zklock::Result<Option<Kind>> {
    let sibling_lock = client.exists(&format!("{path}-__lock__"))?.is_some();
    kind_from(client, path, children, sibling_lock)
}

/// As [`kind_of`], told whether `<path>-__lock__` exists (a kazoo
/// semaphore's internal lock); one read for a leaf, none otherwise.
fn kind_from(
    client: &Client,
    path: &str,
    children: &[String],
    sibling_lock: bool,
) -> zklock::Result<Option<Kind>> {
    if children.iter().any(|c| c == "leases") && children.iter().any(|c| c == "locks") {
        return Ok(Some(Kind::Semaphore(true)));
    }
    let queue = zklock::lock::name::queue(children, &[]);
    if !queue.is_empty() {
        let readers = queue
            .iter()
            .any(|c| c.role == zklock::lock::name::Role::Reader);
        return Ok(Some(Kind::Queue(readers)));
    }
    let lease_like = |c: &String| c.len() == 32 && c.chars().all(|x| x.is_ascii_hexdigit());
    if sibling_lock || !children.is_empty() && children.iter().all(lease_like) {
        return Ok(Some(Kind::Semaphore(false)));
    }
    if children.is_empty() && path != "/" && is_node_lock(client, path)? {
        return Ok(Some(Kind::Node));
    }
    Ok(None)
}

/// Whether the node's data is k3zkutil's `{"id": ...}` JSON (a node gone
/// meanwhile is not).
fn is_node_lock(client: &Client, path: &str) -> zklock::Result<bool> {
    let data = match client.get_data(path) {
        Ok((data, _)) => data,
        Err(e) if e.is(ZkError::NoNode) => return Ok(false),
        Err(e) => return Err(e),
    };
    Ok(serde_json::from_slice::<Value>(&data).is_ok_and(|v| v.get("id").is_some()))
}

/// The queue of the lock at `path` of `kind` (nothing for a node lock).
fn info(client: &Client, path: &str, kind: &Kind) -> zklock::Result<Option<LockInfo>> {
    match kind {
        Kind::Queue(_) => Lock::new(client, path)?.inspect().map(Some),
        Kind::Semaphore(curator) => {
            let flavor = if *curator {
                zklock::Flavor::Curator
            } else {
                zklock::Flavor::Kazoo
            };
            Semaphore::new(client, path, 1)?
                .flavor(flavor)
                .inspect()
                .map(Some)
        }
        Kind::Node => Ok(None),
    }
}

/// `parent/child`.
fn join(parent: &str, child: &str) -> String {
    if parent == "/" {
        format!("/{child}")
    } else {
        format!("{parent}/{child}")
    }
}

fn age(t: SystemTime) -> Duration {
    SystemTime::now().duration_since(t).unwrap_or_default()
}

fn secs(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

/// One lock's summary, as JSON.
fn summary(client: &Client, path: &str, kind: &Kind) -> zklock::Result<Value> {
    if let Kind::Node = kind {
        let holder = NodeLock::new(client, path)?.holder()?;
        let stat = client.exists(path)?;
        let age_ms = stat.map(|s| {
            let created = SystemTime::UNIX_EPOCH + Duration::from_millis(s.ctime.max(0) as u64);
            age(created).as_millis() as u64
        });
        return Ok(json!({
            "path": path, "kind": kind.name(),
            "state": if holder.is_some() { "held" } else { "free" },
            "holders": usize::from(holder.is_some()), "waiters": 0,
            "oldest_holder_age_ms": age_ms,
        }));
    }
    let entries = info(client, path, kind)?
        .map(|i| i.entries)
        .unwrap_or_default();
    let holders: Vec<_> = entries.iter().filter(|e| e.holds).collect();
    let oldest = holders.iter().map(|e| age(e.created)).max();
    Ok(json!({
        "path": path, "kind": kind.name(),
        "state": if holders.is_empty() { "free" } else { "held" },
        "holders": holders.len(),
        "waiters": entries.len() - holders.len(),
        "oldest_holder_age_ms": oldest.map(|d| d.as_millis() as u64),
    }))
}

/// `zklock list [ROOT]`: every lock under ROOT. The tree is walked level by
/// level, each level's listings made from several threads at once.
pub fn list(client: &Client, root: &str, as_json: bool) -> Result<u8, Failure> {
    let mut found = Vec::new();
    let mut level = vec![root.to_string()];
    while !level.is_empty() {
        let listed = list_level(client, &level);
        let mut next = Vec::new();
        for (path, children, kind) in listed {
            let Some(children) = children else { continue }; // gone meanwhile
            if let Some(kind) = kind? {
                found.push(summary(client, &path, &kind)?);
                if !matches!(kind, Kind::Semaphore(true)) {
                    continue; // a lock's children are its contenders
                }
            }
            if path.starts_with("/zookeeper") {
                continue;
            }
            next.extend(children.iter().map(|c| join(&path, c)));
        }
        level = next;
    }
    if as_json {
        println!("{}", Value::Array(found));
        return Ok(code::OK);
    }
    for l in &found {
        let age = l["oldest_holder_age_ms"]
            .as_u64()
            .map_or("-".to_string(), |ms| secs(Duration::from_millis(ms)));
        println!(
            "{}\t{}\t{}\tholders={}\twaiters={}\toldest={}",
            l["path"].as_str().unwrap_or_default(),
            l["kind"].as_str().unwrap_or_default(),
            l["state"].as_str().unwrap_or_default(),
            l["holders"],
            l["waiters"],
            age
        );
    }
    Ok(code::OK)
}

/// What a walk learns of one node: its children (`None`: gone) and what
/// it is.
type Seen = (String, Option<Vec<String>>, zklock::Result<Option<Kind>>);

/// The children of every path in `level`, and what each is, from up to 16
/// threads at once (each a round trip at a time: together they keep the
/// connection busy).
fn list_level(client: &Client, level: &[String]) -> Vec<Seen> {
    let here: std::collections::HashSet<&str> = level.iter().map(String::as_str).collect();
    let chunk = level.len().div_ceil(16).max(1);
    let here = &here;
    std::thread::scope(|s| {
        let handles: Vec<_> = level
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|p| {
                            let children = client.get_children(p).ok();
                            let sibling = here.contains(format!("{p}-__lock__").as_str());
                            let kind = match &children {
                                Some(c) => kind_from(client, p, c, sibling),
                                None => Ok(None),
                            };
                            (p.clone(), children, kind)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}

/// What `path` is, or a refusal.
fn lock_at(client: &Client, path: &str) -> Result<Kind, Failure> {
    let children = match client.get_children(path) {
        Ok(c) => c,
        Err(e) if e.is(ZkError::NoNode) => {
            return Err(Failure::new(
                code::REFUSED,
                format!("{path} does not exist"),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    kind_of(client, path, &children)?.ok_or_else(|| {
        Failure::new(
            code::REFUSED,
            format!("{path} is not a lock (no contender, lease or holder); nothing changed"),
        )
    })
}

/// `zklock show PATH`: the queue in order.
pub fn show(client: &Client, path: &str, as_json: bool) -> Result<u8, Failure> {
    let kind = lock_at(client, path)?;
    if let Kind::Node = kind {
        let holder = NodeLock::new(client, path)?.holder()?;
        let stat = client.exists(path)?;
        let v = json!({
            "path": path, "kind": kind.name(),
            "holder": holder.as_ref().map(|h| h.id.clone()),
            "value": holder.as_ref().and_then(|h| h.val.clone()),
            "version": holder.as_ref().map(|h| h.version),
            "fencing_token": stat.map(|s| s.czxid),
            "session": stat.map(|s| format!("{:#x}", s.ephemeral_owner)),
        });
        println!(
            "{}",
            if as_json {
                v.to_string()
            } else {
                pretty_node(&v)
            }
        );
        return Ok(code::OK);
    }
    let found = info(client, path, &kind)?
        .map(|i| i.entries)
        .unwrap_or_default();
    let entries: Vec<Value> = found
        .iter()
        .map(|e| {
            json!({
                "node": e.node, "role": format!("{:?}", e.role).to_lowercase(),
                "sequence": e.sequence, "identifier": e.identifier,
                "session": format!("{:#x}", e.session),
                "state": if e.holds { "held" } else { "waiting" },
                "for_ms": age(e.created).as_millis() as u64,
                "fencing_token": e.fencing_token,
                "revocation_requested": e.revocation_requested,
            })
        })
        .collect();
    if as_json {
        println!(
            "{}",
            json!({"path": path, "kind": kind.name(), "entries": entries})
        );
        return Ok(code::OK);
    }
    println!("{path} ({}): {} entries", kind.name(), entries.len());
    for e in &entries {
        println!(
            "  {}\t{}\tseq={}\tid={}\tsession={}\t{} for {}\ttoken={}{}",
            e["node"].as_str().unwrap_or_default(),
            e["role"].as_str().unwrap_or_default(),
            e["sequence"],
            e["identifier"].as_str().unwrap_or_default(),
            e["session"].as_str().unwrap_or_default(),
            e["state"].as_str().unwrap_or_default(),
            secs(Duration::from_millis(e["for_ms"].as_u64().unwrap_or(0))),
            e["fencing_token"],
            if e["revocation_requested"] == json!(true) {
                "\trevocation requested"
            } else {
                ""
            },
        );
    }
    Ok(code::OK)
}

fn pretty_node(v: &Value) -> String {
    format!(
        "{} (node-lock): holder={} value={} version={} token={} session={}",
        v["path"].as_str().unwrap_or_default(),
        v["holder"],
        v["value"],
        v["version"],
        v["fencing_token"],
        v["session"]
    )
}

/// Asks on a terminal; `true` without one (the caller checked `--yes`).
fn confirm(question: &str) -> bool {
    if !std::io::stdin().is_terminal() {
        return false;
    }
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    matches!(answer.trim(), "y" | "Y" | "yes")
}

/// `zklock remove PATH [--force] [--yes]`. An empty lock directory (a
/// node with no data and no child, as [`zklock::cleanup`] sees them) is
/// deleted; a held or queued lock only with `--force`.
pub fn remove(client: &Client, path: &str, force: bool, yes: bool) -> Result<u8, Failure> {
    if let Some(stat) = client.exists(path)?
        && stat.num_children == 0
        && stat.data_length == 0
    {
        return match client.delete(path, Some(stat.version)) {
            Ok(()) => {
                println!("removed {path}");
                Ok(code::OK)
            }
            Err(e) if e.is(ZkError::NotEmpty) || e.is(ZkError::BadVersion) => Err(Failure::new(
                code::REFUSED,
                format!("{path} was not removed: someone queued meanwhile"),
            )),
            Err(e) => Err(e.into()),
        };
    }
    let kind = lock_at(client, path)?;
    if let Kind::Node = kind {
        if !force {
            return Err(Failure::new(
                code::REFUSED,
                format!("{path} is held; use --force to delete it"),
            ));
        }
        if !yes && !confirm(&format!("delete the node lock {path}?")) {
            return Err(Failure::new(code::REFUSED, "not confirmed (use --yes)"));
        }
        client.delete(path, None)?;
        println!("removed {path}");
        return Ok(code::OK);
    }
    let queued = info(client, path, &kind)?.map_or(0, |i| i.entries.len());
    if queued > 0 {
        if !force {
            return Err(Failure::new(
                code::REFUSED,
                format!("{path} has {queued} holders or waiters; use --force to delete them first"),
            ));
        }
        if !yes && !confirm(&format!("delete the {queued} contenders of {path}?")) {
            return Err(Failure::new(code::REFUSED, "not confirmed (use --yes)"));
        }
    }
    let removed = match kind {
        Kind::Semaphore(curator) => {
            let flavor = if curator {
                zklock::Flavor::Curator
            } else {
                zklock::Flavor::Kazoo
            };
            let sem = Semaphore::new(client, path, 1)?.flavor(flavor);
            if force {
                Lock::new(client, path)?.clear()?;
            }
            sem.destroy()?
        }
        _ => {
            let lock = Lock::new(client, path)?;
            if force {
                lock.clear()?;
            }
            lock.remove()?
        }
    };
    if removed {
        println!("removed {path}");
        Ok(code::OK)
    } else {
        Err(Failure::new(
            code::REFUSED,
            format!("{path} was not removed: someone queued meanwhile"),
        ))
    }
}

/// `zklock cleanup [ROOT]`.
pub fn cleanup(client: &Client, root: &str, as_json: bool) -> Result<u8, Failure> {
    let n = zklock::cleanup(client, root)?;
    if as_json {
        println!("{}", json!({"removed": n}));
    } else {
        println!("removed {n} empty lock directories under {root}");
    }
    Ok(code::OK)
}

/// `zklock revoke PATH [--immediate]`.
pub fn revoke(client: &Client, path: &str, immediate: bool) -> Result<u8, Failure> {
    if let Kind::Node = lock_at(client, path)? {
        return Err(Failure::new(
            code::REFUSED,
            format!("{path} is a node lock: use remove --force"),
        ));
    }
    let lock = Lock::new(client, path)?;
    let n = if immediate {
        lock.clear()?
    } else {
        lock.revoke_all()?
    };
    let what = if immediate {
        "deleted"
    } else {
        "asked to release"
    };
    println!("{what}: {n} contenders of {path}");
    Ok(code::OK)
}
