//! A mutation fuzzer for everything the I/O thread decodes: frame lengths,
//! reply headers, every reply body, notifications and the handshake answer.
//!
//! It starts from valid replies of every kind, mutates them (flipped bytes,
//! truncation, junk appended, length fields set to extremes, splices) and
//! checks that decoding returns a value or an error, never panics and never
//! allocates from an unchecked length. It is deterministic (a fixed seed), so
//! a failure reproduces; `ZKLOCK_FUZZ_ITERS` runs it longer.

use super::jute::{Reader, Writer, frame_len};
use super::proto::{ConnectResponse, Notification, ReplyHeader, decode_response, op, write_stat};
use super::types::{Acl, Stat};

// The tests' shared RNG (its other helpers serve the property tests).
#[allow(dead_code)]
#[path = "../../tests/support/rng.rs"]
mod rng;
use rng::Rng;

fn stat() -> Stat {
    Stat {
        czxid: 0x1_0000_0005,
        mzxid: 7,
        ctime: 1_700_000_000_000,
        mtime: 1_700_000_000_001,
        version: 2,
        cversion: 3,
        aversion: 0,
        ephemeral_owner: 0x1234,
        data_length: 4,
        num_children: 2,
        pzxid: 9,
    }
}

/// Valid reply bodies (after the reply header), with the opcode they answer.
fn corpus() -> Vec<(i32, Vec<u8>)> {
    let mut out = Vec::new();
    let mut w = Writer::new();
    w.string("/a/b-0000000001");
    write_stat(&stat(), &mut w);
    out.push((op::CREATE2, std::mem::take(&mut w).into_bytes()));
    write_stat(&stat(), &mut w);
    out.push((op::EXISTS, std::mem::take(&mut w).into_bytes()));
    w.buffer(b"data");
    write_stat(&stat(), &mut w);
    out.push((op::GET_DATA, std::mem::take(&mut w).into_bytes()));
    w.strings(&["x__lock__0000000001".into(), "y__rlock__0000000002".into()]);
    write_stat(&stat(), &mut w);
    out.push((op::GET_CHILDREN2, std::mem::take(&mut w).into_bytes()));
    w.int(1);
    w.int(31);
    w.string("digest");
    w.string("u:hash");
    write_stat(&stat(), &mut w);
    out.push((op::GET_ACL, std::mem::take(&mut w).into_bytes()));
    w.string("/a");
    out.push((op::SYNC, std::mem::take(&mut w).into_bytes()));
    for (kind, err) in [
        (op::CREATE, 0),
        (op::CREATE2, 0),
        (op::SET_DATA, 0),
        (op::ERROR, -101),
    ] {
        w.int(kind);
        w.bool(false);
        w.int(err);
        match kind {
            op::CREATE => w.string("/m"),
            op::CREATE2 => {
                w.string("/m2");
                write_stat(&stat(), &mut w);
            }
            op::SET_DATA => write_stat(&stat(), &mut w),
            _ => w.int(err),
        }
    }
    w.int(op::DELETE);
    w.bool(false);
    w.int(0);
    w.int(-1);
    w.bool(true);
    w.int(-1);
    out.push((op::MULTI, std::mem::take(&mut w).into_bytes()));
    // A notification and a handshake answer, decoded by their own readers.
    w.int(2);
    w.int(3);
    w.string("/watched");
    out.push((-1, std::mem::take(&mut w).into_bytes()));
    w.int(0);
    w.int(4000);
    w.long(0x1234);
    w.buffer(&[7; 16]);
    w.bool(false);
    out.push((-2, std::mem::take(&mut w).into_bytes()));
    out
}

/// Every decoder the I/O thread runs, on one input.
fn decode_everything(bytes: &[u8]) {
    let _ = frame_len(bytes, 1 << 20);
    let _ = ReplyHeader::read(&mut Reader::new(bytes));
    let _ = Notification::read(&mut Reader::new(bytes));
    let _ = ConnectResponse::read(&mut Reader::new(bytes));
    for opcode in [
        op::CREATE2,
        op::CREATE_CONTAINER,
        op::DELETE,
        op::EXISTS,
        op::GET_DATA,
        op::SET_DATA,
        op::GET_ACL,
        op::SET_ACL,
        op::GET_CHILDREN2,
        op::SYNC,
        op::MULTI,
        op::CHECK,
        op::CLOSE_SESSION,
        op::PING,
        12345,
    ] {
        let _ = decode_response(opcode, "/chroot", &mut Reader::new(bytes));
    }
}

fn mutate(rng: &mut Rng, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        match rng.below(6) {
            0 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] ^= 1 << rng.below(8);
            }
            1 => v.truncate(rng.below(v.len() + 1)),
            2 => {
                for _ in 0..rng.below(16) {
                    v.push(rng.next() as u8);
                }
            }
            3 if v.len() >= 4 => {
                let extremes = [i32::MAX, i32::MIN, -1, -2, 0, 0x7fff_fff0, 1 << 24, 65536];
                let x = extremes[rng.below(extremes.len())].to_be_bytes();
                let i = rng.below(v.len() - 3);
                v[i..i + 4].copy_from_slice(&x);
            }
            4 => {
                let cut = rng.below(v.len() + 1);
                let from = rng.below(other.len() + 1);
                v.truncate(cut);
                v.extend_from_slice(&other[from..]);
            }
            _ => {
                if !v.is_empty() {
                    let i = rng.below(v.len());
                    v[i] = rng.next() as u8;
                }
            }
        }
    }
    v
}

#[test]
fn the_corpus_decodes() {
    for (opcode, body) in corpus() {
        match opcode {
            -1 => {
                Notification::read(&mut Reader::new(&body)).unwrap();
            }
            -2 => {
                ConnectResponse::read(&mut Reader::new(&body)).unwrap();
            }
            _ => {
                decode_response(opcode, "", &mut Reader::new(&body)).unwrap();
            }
        }
    }
    assert!(Acl::open_unsafe().len() == 1);
}

#[test]
fn decoder_never_panics() {
    let iters: usize = std::env::var("ZKLOCK_FUZZ_ITERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let corpus = corpus();
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    for _ in 0..iters {
        let a = &corpus[rng.below(corpus.len())].1;
        let b = &corpus[rng.below(corpus.len())].1;
        let input = mutate(&mut rng, a, b);
        decode_everything(&input);
        // Also as a whole frame with a (possibly lying) length prefix.
        let mut framed = (input.len() as i32).to_be_bytes().to_vec();
        framed.extend_from_slice(&input);
        decode_everything(&framed);
    }
    // Pure noise too.
    for _ in 0..iters / 10 {
        let len = rng.below(64);
        let noise: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        decode_everything(&noise);
    }
}
