//! Jute, ZooKeeper's record encoding: big-endian integers, length-prefixed
//! buffers, strings and vectors (a length of -1 means "null").
//!
//! The reader never panics: every read checks the bytes left and returns
//! [`DecodeError`] instead, and a vector's claimed length is checked against
//! the bytes that remain before anything is allocated, so a hostile length
//! cannot make us reserve gigabytes.

use std::fmt;

/// A reply could not be decoded: the connection that carried it is dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub &'static str);

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed reply: {}", self.0)
    }
}

/// The length (prefix included) of the complete frame at the start of `buf`,
/// `None` if more bytes are needed, an error if the length prefix is
/// negative or above `max`.
pub fn frame_len(buf: &[u8], max: usize) -> Result<Option<usize>, DecodeError> {
    let Some(prefix) = buf.get(..4) else {
        return Ok(None);
    };
    let len = i32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]);
    if len < 0 || len as usize > max {
        return Err(DecodeError("frame length out of range"));
    }
    let total = 4 + len as usize;
    Ok((buf.len() >= total).then_some(total))
}

/// Appends jute-encoded values to a byte buffer.
#[derive(Debug, Default)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    pub fn new() -> Writer {
        Writer { buf: Vec::new() }
    }

    /// Starts a length-prefixed frame; [`Writer::finish_frame`] fills in the length.
    pub fn begin_frame(&mut self) -> usize {
        let at = self.buf.len();
        self.buf.extend_from_slice(&[0; 4]);
        at
    }

    pub fn finish_frame(&mut self, at: usize) {
        let len = (self.buf.len() - at - 4) as i32;
        self.buf[at..at + 4].copy_from_slice(&len.to_be_bytes());
    }

    pub fn int(&mut self, v: i32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    pub fn long(&mut self, v: i64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    pub fn bool(&mut self, v: bool) {
        self.buf.push(v as u8);
    }

    pub fn buffer(&mut self, v: &[u8]) {
        self.int(v.len() as i32);
        self.buf.extend_from_slice(v);
    }

    pub fn string(&mut self, v: &str) {
        self.buffer(v.as_bytes());
    }

    pub fn strings(&mut self, v: &[String]) {
        self.int(v.len() as i32);
        for s in v {
            self.string(s);
        }
    }

    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }

    #[cfg(test)]
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    pub fn truncate(&mut self, len: usize) {
        self.buf.truncate(len);
    }

    pub fn clear(&mut self) {
        self.buf.clear();
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
}

/// Reads jute-encoded values from a byte slice.
#[derive(Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf }
    }

    pub fn remaining(&self) -> usize {
        self.buf.len()
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        if self.buf.len() < n {
            return Err(DecodeError(what));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    pub fn int(&mut self) -> Result<i32, DecodeError> {
        let b = self.take(4, "truncated int")?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn long(&mut self) -> Result<i64, DecodeError> {
        let b = self.take(8, "truncated long")?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(i64::from_be_bytes(a))
    }

    pub fn bool(&mut self) -> Result<bool, DecodeError> {
        Ok(self.take(1, "truncated bool")?[0] != 0)
    }

    /// A buffer; null (-1) reads as empty.
    pub fn buffer(&mut self) -> Result<Vec<u8>, DecodeError> {
        let len = self.int()?;
        if len < 0 {
            if len == -1 {
                return Ok(Vec::new());
            }
            return Err(DecodeError("negative buffer length"));
        }
        Ok(self.take(len as usize, "truncated buffer")?.to_vec())
    }

    /// A string; null (-1) reads as empty.
    pub fn string(&mut self) -> Result<String, DecodeError> {
        let bytes = self.buffer()?;
        String::from_utf8(bytes).map_err(|_| DecodeError("string is not UTF-8"))
    }

    /// The element count of a vector, checked against the bytes left
    /// (every element takes at least `min_elem` bytes). Null reads as 0.
    pub fn vec_len(&mut self, min_elem: usize) -> Result<usize, DecodeError> {
        let len = self.int()?;
        if len == -1 {
            return Ok(0);
        }
        if len < 0 {
            return Err(DecodeError("negative vector length"));
        }
        let len = len as usize;
        if len.saturating_mul(min_elem.max(1)) > self.remaining() {
            return Err(DecodeError("vector longer than the reply"));
        }
        Ok(len)
    }

    pub fn strings(&mut self) -> Result<Vec<String>, DecodeError> {
        let n = self.vec_len(4)?;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(self.string()?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_primitives() {
        let mut w = Writer::new();
        w.int(-5);
        w.long(1 << 40);
        w.bool(true);
        w.buffer(b"abc");
        w.string("héllo");
        w.strings(&["a".into(), "bc".into()]);
        let bytes = w.into_bytes();
        let mut r = Reader::new(&bytes);
        assert_eq!(r.int().unwrap(), -5);
        assert_eq!(r.long().unwrap(), 1 << 40);
        assert!(r.bool().unwrap());
        assert_eq!(r.buffer().unwrap(), b"abc");
        assert_eq!(r.string().unwrap(), "héllo");
        assert_eq!(
            r.strings().unwrap(),
            vec!["a".to_string(), "bc".to_string()]
        );
        assert_eq!(r.remaining(), 0);
    }

    #[test]
    fn hostile_lengths_are_errors() {
        let mut r = Reader::new(&[0x7f, 0xff, 0xff, 0xff]);
        assert!(r.vec_len(4).is_err());
        let mut r = Reader::new(&[0x00, 0x00, 0x00, 0x10, 1, 2]);
        assert!(r.buffer().is_err());
        let mut r = Reader::new(&[0xff, 0xff, 0xff, 0xfe]);
        assert!(r.buffer().is_err());
        let mut r = Reader::new(&[0xff, 0xff, 0xff, 0xff]);
        assert_eq!(r.buffer().unwrap(), Vec::<u8>::new());
    }

    #[test]
    fn frame_length_is_filled_in() {
        let mut w = Writer::new();
        let at = w.begin_frame();
        w.int(7);
        w.finish_frame(at);
        assert_eq!(w.bytes(), &[0, 0, 0, 4, 0, 0, 0, 7]);
    }
}
