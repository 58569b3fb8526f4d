//! `zklock run`: takes a lock, runs a command under it, and releases it
//! when the command ends (`flock(1)` for a cluster).
//!
//! While it waits for the lock, SIGINT/SIGTERM/SIGHUP cancel the wait (the
//! contender node is deleted) and zklock exits with 128 + the signal.
//! While the command runs, those signals are passed on to it and the lock
//! is released only after it exits. If the lock is lost meanwhile, the
//! command gets SIGTERM, then SIGKILL after `--kill-after`, and zklock exits
//! with [`code::LOST`]; a revocation request is passed on as SIGUSR1.

use crate::{Failure, code, parse_duration};
use crossbeam_channel::{Receiver, never, select};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::time::{Duration, Instant};
use zklock::{Client, Flavor, Lock, LockGuard, LockState, Pending, ReadLock, Semaphore, WriteLock};

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum FlavorArg {
    /// kazoo's node names (and semaphore layout).
    Kazoo,
    /// Curator's.
    Curator,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnLost {
    /// SIGTERM, then SIGKILL after --kill-after; exit 75.
    Terminate,
    /// Let the command run on (it is told nothing).
    Ignore,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnRevoke {
    /// Send the command SIGUSR1.
    Signal,
    /// Do nothing.
    Ignore,
}

/// `zklock run PATH [options] -- CMD [ARGS...]`.
#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// The lock's path.
    path: String,
    /// Give up waiting after this long (then exit with the conflict code).
    #[arg(long, value_parser = parse_duration, conflicts_with = "nonblock")]
    timeout: Option<Duration>,
    /// Do not wait: exit with the conflict code if the lock is held.
    #[arg(short, long)]
    nonblock: bool,
    /// Take the read side of a read/write lock.
    #[arg(long, conflicts_with_all = ["write", "semaphore"])]
    read: bool,
    /// Take the write side of a read/write lock.
    #[arg(long, conflicts_with = "semaphore")]
    write: bool,
    /// Take one of N leases of a semaphore.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    semaphore: Option<u32>,
    /// The identifier written in the contender node (default: host:pid).
    #[arg(long)]
    identifier: Option<String>,
    /// Whose node names to write: share the path with kazoo or Curator.
    #[arg(long, value_enum, default_value = "kazoo")]
    flavor: FlavorArg,
    /// The exit code when the lock could not be taken.
    #[arg(long, default_value_t = code::CONFLICT)]
    conflict_exit_code: u8,
    /// How long after SIGTERM a command that keeps running on a lost lock
    /// gets SIGKILL.
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    kill_after: Duration,
    /// What to do when the lock is lost while the command runs.
    #[arg(long, value_enum, default_value = "terminate")]
    on_lost: OnLost,
    /// What to do when someone asks the holder to release.
    #[arg(long, value_enum, default_value = "signal")]
    on_revoke: OnRevoke,
    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "CMD")]
    command: Vec<String>,
}

/// The lock of any kind `run` takes.
enum Handle {
    Lock(Lock),
    Read(ReadLock),
    Write(WriteLock),
    Semaphore(Semaphore),
}

impl Handle {
    fn new(client: &Client, a: &RunArgs) -> zklock::Result<Handle> {
        let flavor = match a.flavor {
            FlavorArg::Kazoo => Flavor::Kazoo,
            FlavorArg::Curator => Flavor::Curator,
        };
        let id = a.identifier.clone();
        let with_id = |l: Lock| match &id {
            Some(i) => l.identifier(i.clone()),
            None => l,
        };
        Ok(if let Some(n) = a.semaphore {
            let s = Semaphore::new(client, &a.path, n)?.flavor(flavor);
            Handle::Semaphore(match &id {
                Some(i) => s.identifier(i.clone()),
                None => s,
            })
        } else if a.read {
            let l = ReadLock::new(client, &a.path)?.flavor(flavor);
            Handle::Read(match &id {
                Some(i) => l.identifier(i.clone()),
                None => l,
            })
        } else if a.write {
            let l = WriteLock::new(client, &a.path)?.flavor(flavor);
            Handle::Write(match &id {
                Some(i) => l.identifier(i.clone()),
                None => l,
            })
        } else {
            Handle::Lock(with_id(Lock::new(client, &a.path)?.flavor(flavor)))
        })
    }

    fn try_acquire(&self) -> zklock::Result<Option<LockGuard>> {
        match self {
            Handle::Lock(l) => l.try_acquire(),
            Handle::Read(l) => l.try_acquire(),
            Handle::Write(l) => l.try_acquire(),
            Handle::Semaphore(s) => s.try_acquire(),
        }
    }

    fn acquire_in_background(&self) -> Pending {
        match self {
            Handle::Lock(l) => l.acquire_in_background(),
            Handle::Read(l) => l.acquire_in_background(),
            Handle::Write(l) => l.acquire_in_background(),
            Handle::Semaphore(s) => s.acquire_in_background(),
        }
    }
}

/// The signals zklock catches: forwarded to the command, or ending a wait.
fn signals() -> Result<Receiver<i32>, Failure> {
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])
        .map_err(|e| Failure::new(code::FAILED, format!("cannot catch signals: {e}")))?;
    let (tx, rx) = crossbeam_channel::unbounded();
    std::thread::spawn(move || {
        for s in signals.forever() {
            if tx.send(s).is_err() {
                return;
            }
        }
    });
    Ok(rx)
}

/// Takes the lock: `Ok(None)` if it could not be taken (held, or the
/// timeout passed); `Err` with 128 + N if signal N ended the wait.
fn take(h: &Handle, a: &RunArgs, sig: &Receiver<i32>) -> Result<Option<LockGuard>, Failure> {
    if a.nonblock {
        return Ok(h.try_acquire()?);
    }
    let mut pending = h.acquire_in_background();
    let timer = a
        .timeout
        .map_or_else(never, |t| crossbeam_channel::at(Instant::now() + t));
    select! {
        recv(pending.ready()) -> _ => match pending.try_take() {
            Some(outcome) => Ok(Some(outcome?)),
            None => Err(Failure::new(code::FAILED, "the acquire ended without an outcome")),
        },
        recv(timer) -> _ => Ok(pending.cancel()),
        recv(sig) -> s => {
            let s = s.unwrap_or(SIGTERM);
            // The contender node is deleted before this returns.
            drop(pending.cancel());
            Err(Failure::new(128 + s as u8, format!("interrupted by signal {s} while waiting; nothing left behind")))
        }
    }
}

/// `zklock run`: see the module doc.
pub fn run(client: &Client, a: &RunArgs) -> Result<u8, Failure> {
    let sig = signals()?;
    let h = Handle::new(client, a)?;
    let Some(guard) = take(&h, a, &sig)? else {
        eprintln!("zklock: {} is held; not running {:?}", a.path, a.command[0]);
        return Ok(a.conflict_exit_code);
    };
    let token = guard.fencing_token()?;
    let child = std::process::Command::new(&a.command[0])
        .args(&a.command[1..])
        .env("ZKLOCK_PATH", &a.path)
        .env("ZKLOCK_FENCING_TOKEN", token.to_string())
        .spawn();
    let child = match child {
        Ok(c) => c,
        Err(e) => {
            let _ = guard.release();
            return Err(Failure::new(
                127,
                format!("cannot run {:?}: {e}", a.command[0]),
            ));
        }
    };
    let pid = Pid::from_raw(child.id() as i32);
    let (exited_tx, exited) = crossbeam_channel::bounded(1);
    let mut child = child;
    std::thread::spawn(move || {
        let _ = exited_tx.send(child.wait());
    });
    let (status, lost) = supervise(&guard, a, pid, &exited, &sig);
    if lost {
        drop(guard);
        return Ok(code::LOST);
    }
    if let Err(e) = guard.release() {
        eprintln!("zklock: releasing {}: {e}", a.path);
    }
    Ok(status.map_or(code::FAILED, exit_code))
}

/// Waits for the command, passing signals on, and stops it if the lock is
/// lost: its exit status, and whether the lock was lost (and it stopped).
fn supervise(
    guard: &LockGuard,
    a: &RunArgs,
    pid: Pid,
    exited: &Receiver<std::io::Result<ExitStatus>>,
    sig: &Receiver<i32>,
) -> (Option<ExitStatus>, bool) {
    let mut changes = guard.state_changes();
    let (revoked_tx, revoked) = crossbeam_channel::unbounded();
    guard.on_revoke(move || {
        let _ = revoked_tx.send(());
    });
    let mut lost_at: Option<Instant> = None;
    loop {
        let killer = lost_at.map_or_else(never, |t| crossbeam_channel::at(t + a.kill_after));
        select! {
            recv(exited) -> status => return (status.ok().and_then(Result::ok), lost_at.is_some()),
            recv(changes) -> state => match state {
                Ok(LockState::Lost) if a.on_lost == OnLost::Terminate && lost_at.is_none() => {
                    eprintln!("zklock: the lock on {} was lost; stopping the command (SIGTERM, SIGKILL after {:?})", a.path, a.kill_after);
                    let _ = kill(pid, Signal::SIGTERM);
                    lost_at = Some(Instant::now());
                }
                Ok(LockState::Lost) => eprintln!("zklock: the lock on {} was lost; the command runs on (--on-lost ignore)", a.path),
                Ok(_) => {}
                Err(_) => changes = never(), // closed after Lost
            },
            recv(revoked) -> _ => if a.on_revoke == OnRevoke::Signal {
                eprintln!("zklock: release of {} requested; sending the command SIGUSR1", a.path);
                let _ = kill(pid, Signal::SIGUSR1);
            },
            recv(sig) -> s => if let Ok(s) = s && let Ok(s) = Signal::try_from(s) {
                let _ = kill(pid, s); // passed on; the lock stays until it exits
            },
            recv(killer) -> _ => {
                let _ = kill(pid, Signal::SIGKILL);
            },
        }
    }
}

/// A shell's exit code for `status`: the command's, or 128 + its signal.
fn exit_code(status: ExitStatus) -> u8 {
    match (status.code(), status.signal()) {
        (Some(c), _) => c as u8,
        (None, Some(s)) => 128 + s as u8,
        (None, None) => code::FAILED,
    }
}
