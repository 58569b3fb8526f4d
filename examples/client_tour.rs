//! A tour of zklock's client: connect, create, watch, pipeline from threads,
//! and follow the session's events.
//!
//! ```text
//! cargo run --example client_tour -- 127.0.0.1:2181
//! ```

use std::time::Instant;
use zklock::{Client, CreateMode, Result};

fn main() -> Result<()> {
    let hosts = std::env::args().nth(1).unwrap_or_else(zklock::doc_hosts);
    let client = Client::connect(&hosts)?;
    println!(
        "connected to {hosts}: session 0x{:x}, timeout {:?}",
        client.session_id(),
        client.session_timeout()
    );
    let events = client.session_events();
    std::thread::spawn(move || {
        for e in events {
            println!("session event: {e:?}");
        }
    });

    let dir = format!("/zklock-tour-{}", std::process::id());
    client.ensure_path(&dir)?;
    let (path, stat) = client.create(
        &format!("{dir}/n-"),
        b"hello",
        CreateMode::EphemeralSequential,
    )?;
    println!(
        "created {path} (czxid {}, owner 0x{:x})",
        stat.czxid, stat.ephemeral_owner
    );

    let (tx, rx) = crossbeam_channel::bounded(1);
    client.get_data_watch(&path, move |event| {
        let _ = tx.send(event);
    })?;
    client.set_data(&path, b"changed", None)?;
    println!("watch fired: {:?}", rx.recv().expect("the watch fires"));

    // Eight threads share the one session; their requests are pipelined.
    let start = Instant::now();
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (client, dir) = (client.clone(), dir.clone());
            std::thread::spawn(move || -> Result<()> {
                for _ in 0..100 {
                    let (p, _) = client.create(
                        &format!("{dir}/t-"),
                        b"",
                        CreateMode::EphemeralSequential,
                    )?;
                    client.delete(&p, None)?;
                }
                Ok(())
            })
        })
        .collect();
    for t in threads {
        t.join().expect("thread")?;
    }
    println!(
        "8 threads x 100 create+delete on one session: {:?}",
        start.elapsed()
    );

    client.delete(&path, None)?;
    client.delete(&dir, None)?;
    client.close();
    Ok(())
}
