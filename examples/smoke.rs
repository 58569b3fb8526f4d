use zklock::*;
fn main() -> Result<()> {
    env_logger::init();
    let c = Client::connect(&std::env::args().nth(1).unwrap())?;
    println!("{c:?} timeout {:?}", c.session_timeout());
    c.ensure_path("/smoke/a/b")?;
    let (p, st) = c.create("/smoke/a/b/n-", b"hi", CreateMode::EphemeralSequential)?;
    println!("{p} {st:?}");
    println!("{:?}", c.get_children("/smoke/a/b")?);
    let (tx, rx) = crossbeam_channel::bounded(1);
    c.get_data_watch(&p, move |e| { tx.send(e).unwrap(); })?;
    c.set_data(&p, b"x", None)?;
    println!("watch: {:?}", rx.recv().unwrap());
    let r = c.multi(&[Op::check("/smoke", 0), Op::delete("/nonexist", None), Op::create("/smoke/zz", vec![], CreateMode::Persistent, Acl::open_unsafe())]);
    println!("multi fail: {r:?}");
    let r = c.multi(&[Op::check("/smoke", 0), Op::create("/smoke/zz", vec![], CreateMode::Persistent, Acl::open_unsafe()), Op::delete("/smoke/zz", None)]);
    println!("multi ok: {r:?}");
    println!("exists none: {:?}", c.exists("/nope")?);
    c.sync("/")?;
    c.delete(&p, None)?;
    let t = std::time::Instant::now();
    for _ in 0..1000 { let (p,_) = c.create("/smoke/a/b/n-", b"", CreateMode::EphemeralSequential)?; c.get_children("/smoke/a/b")?; c.delete(&p, None)?; }
    println!("floor: {:?}/cycle", t.elapsed()/1000);
    Ok(())
}
