//! A subtree as a value, and back (k3zkutil's `export_hierarchy` and
//! `init_hierarchy`): each node's data, ACL and children, with `serde`
//! derives so it round-trips through JSON.

use super::acl::{format_acl_entry, parse_acl_entry};
use crate::client::{Acl, Client, CreateMode};
use crate::error::Result;
use crate::error::ZkError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One node and everything below it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Hierarchy {
    /// The node's data.
    #[serde(default)]
    pub data: Vec<u8>,
    /// The node's ACL as `scheme:id:perms` entries
    /// ([`super::format_acl_entry`]); empty: the parent's (for
    /// [`init_hierarchy`]).
    #[serde(default)]
    pub acl: Vec<String>,
    /// The children, by name.
    #[serde(default)]
    pub children: BTreeMap<String, Hierarchy>,
}

/// Reads the node at `path` and everything below it.
///
/// ```
/// # fn main() -> zklock::Result<()> {
/// # let client = zklock::Client::connect(&zklock::doc_hosts())?;
/// # client.ensure_path("/zklock-doc/tree/a")?;
/// use zklock::util::{export_hierarchy, init_hierarchy};
/// let tree = export_hierarchy(&client, "/zklock-doc/tree")?;
/// let json = serde_json::to_string(&tree).unwrap();
/// let back: zklock::util::Hierarchy = serde_json::from_str(&json).unwrap();
/// init_hierarchy(&client, "/zklock-doc/tree-copy", &back)?;
/// assert!(client.exists("/zklock-doc/tree-copy/a")?.is_some());
/// # Ok(()) }
/// ```
///
/// # Errors
/// `NoNode` as [`crate::Error::ZooKeeper`] for a missing `path` (a node
/// deleted while it is read is left out); connection and session errors.
pub fn export_hierarchy(client: &Client, path: &str) -> Result<Hierarchy> {
    let (data, _) = client.get_data(path)?;
    let (acl, _) = client.get_acl(path)?;
    let mut children = BTreeMap::new();
    for child in client.get_children(path)? {
        let child_path = crate::path::join(path, &child);
        match export_hierarchy(client, &child_path) {
            Ok(h) => {
                children.insert(child, h);
            }
            Err(e) if e.is(ZkError::NoNode) => {} // gone meanwhile
            Err(e) => return Err(e),
        }
    }
    Ok(Hierarchy {
        data,
        acl: acl.iter().map(format_acl_entry).collect(),
        children,
    })
}

/// Creates `tree` at `path` (missing ancestors as plain persistent nodes):
/// each node with its data and ACL (its parent's when it names none); a
/// node that exists gets the data and ACL instead.
///
/// # Errors
/// [`crate::Error::InvalidArgument`] for a malformed ACL entry (checked
/// before anything is written); connection, session and server errors
/// (`NoAuth`, `InvalidAcl`).
pub fn init_hierarchy(client: &Client, path: &str, tree: &Hierarchy) -> Result<()> {
    check(tree)?;
    let parent = crate::path::parent(path);
    if parent != "/" {
        client.ensure_path(parent)?;
    }
    let inherited = match client.get_acl(parent) {
        Ok((acl, _)) => acl,
        Err(_) => Acl::open_unsafe(),
    };
    init(client, path, tree, &inherited)
}

fn check(tree: &Hierarchy) -> Result<()> {
    for entry in &tree.acl {
        parse_acl_entry(entry)?;
    }
    tree.children.values().try_for_each(check)
}

fn init(client: &Client, path: &str, tree: &Hierarchy, inherited: &[Acl]) -> Result<()> {
    let acl = if tree.acl.is_empty() {
        inherited.to_vec()
    } else {
        tree.acl
            .iter()
            .map(|e| parse_acl_entry(e))
            .collect::<Result<Vec<_>>>()?
    };
    match client.create_with_acl(path, &tree.data, CreateMode::Persistent, &acl) {
        Ok(_) => {}
        Err(e) if e.is(ZkError::NodeExists) => {
            client.set_data(path, &tree.data, None)?;
            client.set_acl(path, &acl, None)?;
        }
        Err(e) => return Err(e),
    }
    for (name, child) in &tree.children {
        init(client, &crate::path::join(path, name), child, &acl)?;
    }
    Ok(())
}
