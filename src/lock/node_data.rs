//! Pure: the data of a single-node lock, in k3zkutil's format: UTF-8 JSON
//! `{"id": <string>, "val": <any JSON>}` (written as Python's `json.dumps`
//! writes it), and the [`Holder`] read back from it.

use crate::error::{Error, Result};
use serde_json::Value;

/// Who holds a [`super::NodeLock`], as its node says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// The holder's identifier (k3zkutil's `id`). Empty when the node's
    /// data is not k3zkutil's JSON: held by somebody unknown.
    pub id: String,
    /// The value the holder published (k3zkutil's `val`), as raw JSON
    /// text; `None` for JSON `null` (or unknown data).
    pub val: Option<String>,
    /// The node's data version: it grows with every value set.
    pub version: i32,
}

/// The node data for holder `id` with value `val` (raw JSON text, already
/// checked; `None` for null).
pub(crate) fn encode(id: &str, val: Option<&Value>) -> Vec<u8> {
    let id = Value::String(id.to_string()).to_string();
    let val = val.map_or_else(|| "null".to_string(), Value::to_string);
    format!("{{\"id\": {id}, \"val\": {val}}}").into_bytes()
}

/// Parses `json` as a value to publish.
///
/// # Errors
/// [`Error::InvalidArgument`] if it is not JSON.
pub(crate) fn value(json: &str) -> Result<Value> {
    serde_json::from_str(json)
        .map_err(|e| Error::InvalidArgument(format!("not JSON ({e}): {json:?}")))
}

/// Reads node data: the holder's id and value; `None` when it is not
/// k3zkutil's JSON (an object with an `id`).
pub(crate) fn decode(data: &[u8]) -> Option<(String, Option<String>)> {
    let Ok(Value::Object(mut map)) = serde_json::from_slice::<Value>(data) else {
        return None;
    };
    let id = match map.remove("id")? {
        Value::String(s) => s,
        other => other.to_string(), // k3zkutil compares whatever JSON it is
    };
    let val = match map.remove("val") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.to_string()),
    };
    Some((id, val))
}

/// The holder a node with `data` at `version` names.
pub(crate) fn holder(data: &[u8], version: i32) -> Holder {
    let (id, val) = decode(data).unwrap_or_default();
    Holder { id, val, version }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_what_python_json_dumps_writes() {
        assert_eq!(encode("a-1", None), br#"{"id": "a-1", "val": null}"#);
        let v = value(r#"{"k": [1, 2]}"#).unwrap();
        assert_eq!(
            encode("é\"x", Some(&v)),
            "{\"id\": \"é\\\"x\", \"val\": {\"k\":[1,2]}}".as_bytes()
        );
    }

    #[test]
    fn reads_k3zkutil_data_and_survives_anything_else() {
        let h = holder(br#"{"id": "web-1", "val": {"n": 3}}"#, 4);
        assert_eq!(
            (h.id.as_str(), h.val.as_deref(), h.version),
            ("web-1", Some(r#"{"n":3}"#), 4)
        );
        assert_eq!(holder(br#"{"id": "x", "val": null}"#, 0).val, None);
        assert_eq!(holder(br#"{"id": 7}"#, 0).id, "7");
        for junk in [&b"not json"[..], b"", b"[1]", br#"{"val": 1}"#, b"\xff\xfe"] {
            let h = holder(junk, 1);
            assert_eq!((h.id.as_str(), h.val.as_deref()), ("", None), "{junk:?}");
        }
    }

    #[test]
    fn a_value_must_be_json() {
        assert!(value("1").is_ok() && value("\"s\"").is_ok() && value("null").is_ok());
        assert!(matches!(value("{"), Err(Error::InvalidArgument(_))));
        assert!(matches!(value("bare"), Err(Error::InvalidArgument(_))));
    }
}
