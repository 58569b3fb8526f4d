//! `zklock`: ZooKeeper locks from the command line. List, show, remove and
//! revoke locks, and run a command under a lock (`flock` for a cluster).
//!
//! - `main.rs`: the arguments, connecting, exit codes;
//! - `run.rs`: `zklock run`, a command under a lock;
//! - `listing.rs`: `list`, `show`, `remove`, `cleanup`, `revoke`.

mod listing;
mod run;

use clap::{Parser, Subcommand};
use std::process::ExitCode;
use std::time::Duration;
use zklock::Client;

/// Exit codes (also in `--help` and the README).
pub mod code {
    /// Done (`run`: the command's own status instead).
    pub const OK: u8 = 0;
    /// `run`: the lock could not be taken (`--nonblock`, `--timeout`);
    /// `--conflict-exit-code` changes it.
    pub const CONFLICT: u8 = 1;
    /// Bad arguments.
    pub const USAGE: u8 = 2;
    /// `show`/`remove` on a path that is not a lock; `remove` of a live lock.
    pub const REFUSED: u8 = 3;
    /// No server could be reached (sysexits' `EX_UNAVAILABLE`).
    pub const UNREACHABLE: u8 = 69;
    /// Any other failure (sysexits' `EX_SOFTWARE`).
    pub const FAILED: u8 = 70;
    /// `run`: the lock was lost while the command ran, and the command was
    /// stopped (sysexits' `EX_TEMPFAIL`: try again).
    pub const LOST: u8 = 75;
}

const EXAMPLES: &str = "\
Examples:
  zklock run /cron/nightly-report --nonblock -- ./report.sh
  zklock run /deploy --timeout 5m --identifier \"$(hostname)\" -- ./deploy.sh
  zklock --json list /
  zklock show /cron/nightly-report
  zklock revoke /cron/nightly-report --immediate
  zklock remove /cron/old-job --force --yes

Exit codes:
  0   done (run: the command's own exit status; 128+N if killed by signal N)
  1   run: the lock could not be taken (--nonblock, --timeout; see --conflict-exit-code)
  2   usage error
  3   not a lock, or a live lock that remove will not delete
  69  no ZooKeeper server could be reached
  70  any other failure
  75  run: the lock was lost while the command ran; the command was stopped";

/// ZooKeeper locks from the command line: list, show, remove and revoke
/// locks, and run a command under a lock (flock for a cluster).
#[derive(Parser, Debug)]
#[command(name = "zklock", version, after_help = EXAMPLES)]
struct Cli {
    /// The ZooKeeper connect string (with an optional chroot).
    #[arg(
        long,
        global = true,
        env = "ZK_HOSTS",
        default_value = "127.0.0.1:2181"
    )]
    hosts: String,
    /// The session timeout (e.g. 10s, 500ms, 2m).
    #[arg(long, global = true, value_parser = parse_duration, default_value = "10s")]
    session_timeout: Duration,
    /// Authenticate with the digest scheme as USER:PASSWORD.
    #[arg(long, global = true, value_name = "USER:PASSWORD")]
    digest: Option<String>,
    /// Machine-readable output (JSON) from the listing commands.
    #[arg(long, global = true)]
    json: bool,
    /// Log what the client does to stderr (-v: info, -vv: debug, -vvv: trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Every lock under ROOT, one line each.
    List {
        /// Where to look.
        #[arg(default_value = "/")]
        root: String,
    },
    /// A lock's queue, in order.
    Show {
        /// The lock's path.
        path: String,
    },
    /// Deletes an empty lock directory.
    Remove {
        /// The lock's path.
        path: String,
        /// Delete the contenders first (asks on a terminal unless --yes).
        #[arg(long)]
        force: bool,
        /// Do not ask.
        #[arg(long)]
        yes: bool,
    },
    /// Deletes every empty lock directory under ROOT.
    Cleanup {
        /// Where to look.
        #[arg(default_value = "/")]
        root: String,
    },
    /// Asks every holder to release (or, with --immediate, deletes them).
    Revoke {
        /// The lock's path.
        path: String,
        /// Delete the holders' nodes instead of asking.
        #[arg(long)]
        immediate: bool,
    },
    /// Runs a command under a lock.
    Run(run::RunArgs),
}

/// Parses `10s`, `500ms`, `2m`, `1h`, or a number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (number, unit) = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map_or((t, "s"), |i| (&t[..i], &t[i..]));
    let n: f64 = number
        .parse()
        .map_err(|_| format!("not a duration: {text:?} (try 10s, 500ms, 2m)"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("unknown unit in {text:?} (ms, s, m, h)")),
    };
    Duration::try_from_secs_f64(secs).map_err(|e| format!("{text:?}: {e}"))
}

/// A failure, and the exit code it means.
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    pub fn new(code: u8, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
        }
    }
}

impl From<zklock::Error> for Failure {
    fn from(e: zklock::Error) -> Failure {
        let code = match e {
            zklock::Error::Connect { .. } => code::UNREACHABLE,
            zklock::Error::InvalidPath { .. } | zklock::Error::InvalidArgument(_) => code::USAGE,
            _ => code::FAILED,
        };
        Failure::new(code, e.to_string())
    }
}

fn connect(cli: &Cli) -> Result<Client, Failure> {
    let mut b = Client::builder(&cli.hosts)
        .session_timeout(cli.session_timeout)
        .connect_timeout(cli.session_timeout);
    if let Some(d) = &cli.digest {
        let (user, password) = d
            .split_once(':')
            .ok_or_else(|| Failure::new(code::USAGE, "--digest takes USER:PASSWORD"))?;
        b = b.digest_auth(user, password);
    }
    b.connect().map_err(|e| {
        Failure::new(
            code::UNREACHABLE,
            format!(
                "cannot reach ZooKeeper at {} within {:?}: {e}",
                cli.hosts, cli.session_timeout
            ),
        )
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.verbose > 0 {
        let level = ["warn", "info", "debug", "trace"][usize::from(cli.verbose.min(3))];
        env_logger::Builder::new().parse_filters(level).init();
    }
    let result = connect(&cli).and_then(|client| {
        let code = match &cli.command {
            Command::List { root } => listing::list(&client, root, cli.json),
            Command::Show { path } => listing::show(&client, path, cli.json),
            Command::Remove { path, force, yes } => listing::remove(&client, path, *force, *yes),
            Command::Cleanup { root } => listing::cleanup(&client, root, cli.json),
            Command::Revoke { path, immediate } => listing::revoke(&client, path, *immediate),
            Command::Run(args) => run::run(&client, args),
        };
        client.close();
        code
    });
    match result {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            eprintln!("zklock: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}
