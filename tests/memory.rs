//! A server that stays connected but never answers a call: every call
//! times out, and the client keeps nothing of it. Its own binary, so the
//! process's memory is this test's alone.

mod support;

use std::time::Duration;
use support::Proxy;
use zklock::{Client, Error};

/// The process's resident set, in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

#[test]
fn timed_out_calls_leave_nothing_behind() {
    support::init_log();
    let proxy = Proxy::new(&support::first_host());
    // A long session: a client that keeps sending does not ping, so a
    // server that never answers is noticed only after 2/3 of the session
    // timeout (40 s here), well after the 110,000 calls (about 10 s).
    let c = Client::builder(&proxy.addr())
        .session_timeout(Duration::from_secs(60))
        .request_timeout(Duration::from_micros(100))
        .connect()
        .unwrap();
    proxy.swallow_requests(true);
    // n calls from each of 4 threads.
    let calls = |n: usize| {
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..n {
                        match c.exists("/") {
                            Err(Error::Timeout) => {}
                            other => panic!("{other:?}"),
                        }
                    }
                });
            }
        });
    };
    calls(2_500); // warm up: allocator pools, channels
    let before = rss_kib();
    calls(25_000);
    let after = rss_kib();
    eprintln!("RSS before {before} KiB, after 100,000 timed-out calls {after} KiB");
    assert_eq!(c.requests_in_flight(), 0, "timed-out calls are forgotten");
    // Before the fix this grew by about 100 MB (1 KB a call).
    assert!(after < before + 10 * 1024, "{before} KiB -> {after} KiB");
    // The connection itself is fine: pings kept it alive throughout.
    assert_eq!(c.state(), zklock::SessionState::Connected);
}
