//! Private ZooKeeper servers for tests: a standalone server shared by every
//! test of a binary, and 3-server ensembles for the tests that kill members.
//!
//! Servers run through `scripts/zk-server`, which kills its server when its
//! stdin closes, so a test binary that exits (or crashes) takes its servers
//! with it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind a free port")
        .local_addr()
        .unwrap()
        .port()
}

/// A fresh scratch directory for this process; old ones of dead processes
/// are removed first.
pub fn scratch_dir(name: &str) -> PathBuf {
    let base = std::env::temp_dir().join("zklock-tests");
    let _ = std::fs::create_dir_all(&base);
    if let Ok(entries) = std::fs::read_dir(&base) {
        for e in entries.flatten() {
            let n = e.file_name().to_string_lossy().to_string();
            if let Some(pid) = n.split('-').next().and_then(|p| p.parse::<u32>().ok())
                && !PathBuf::from(format!("/proc/{pid}")).exists()
            {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
    let dir = base.join(format!(
        "{}-{name}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

struct Running {
    child: Child,
    stdin: ChildStdin,
    pid: u32,
}

/// One ZooKeeper server process (standalone or an ensemble member).
pub struct ZkServer {
    dir: PathBuf,
    port: u16,
    member: Option<(u32, String)>,
    running: Mutex<Option<Running>>,
    tls: Option<Tls>,
}

/// A server's TLS port: its own directory with `ca.pem` and `server.pem`.
#[derive(Clone)]
pub struct Tls {
    dir: PathBuf,
    port: u16,
    client_auth: &'static str,
}

impl Tls {
    /// A TLS port trusting `pki/ca.pem`, with the key store `pki/<keystore>`
    /// (`server.pem`, `expired.pem`, `wrong-name.pem`) and ZooKeeper's
    /// `ssl.clientAuth` (`need`, `want`, `none`).
    pub fn new(pki: &std::path::Path, keystore: &str, client_auth: &'static str) -> Tls {
        let dir = scratch_dir("tls");
        std::fs::copy(pki.join("ca.pem"), dir.join("ca.pem")).unwrap();
        std::fs::copy(pki.join(keystore), dir.join("server.pem")).unwrap();
        Tls {
            dir,
            port: free_port(),
            client_auth,
        }
    }
}

/// A throwaway CA and certificates (`scripts/tls-certs`), made once per
/// test process.
pub fn pki() -> PathBuf {
    static PKI: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    PKI.get_or_init(|| {
        let dir = scratch_dir("pki");
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/tls-certs");
        let ok = Command::new(script).arg(&dir).status().unwrap().success();
        assert!(ok, "scripts/tls-certs failed");
        dir
    })
    .clone()
}

/// Sends a four-letter-word command and returns the answer.
pub fn four_letter(port: u16, cmd: &str) -> Option<String> {
    let mut s = TcpStream::connect_timeout(
        &format!("127.0.0.1:{port}").parse().unwrap(),
        Duration::from_secs(2),
    )
    .ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(cmd.as_bytes()).ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

impl ZkServer {
    fn new(dir: PathBuf, port: u16, member: Option<(u32, String)>) -> ZkServer {
        ZkServer {
            dir,
            port,
            member,
            running: Mutex::new(None),
            tls: None,
        }
    }

    /// Starts a standalone server with a TLS port as well, and waits until
    /// it serves.
    pub fn standalone_tls(tls: Tls) -> ZkServer {
        let mut s = ZkServer::new(scratch_dir("standalone"), free_port(), None);
        s.tls = Some(tls);
        s.start();
        s
    }

    /// `127.0.0.1:port` of the TLS port.
    pub fn secure_addr(&self) -> String {
        format!(
            "127.0.0.1:{}",
            self.tls.as_ref().expect("a TLS server").port
        )
    }

    /// Starts a standalone server on a free port and waits until it serves.
    pub fn standalone() -> ZkServer {
        let s = ZkServer::new(scratch_dir("standalone"), free_port(), None);
        s.start();
        s
    }

    /// `127.0.0.1:port`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The client port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Starts the process and waits until it serves requests.
    pub fn start(&self) {
        self.spawn();
        self.wait_serving(Duration::from_secs(60));
    }

    /// Starts the process without waiting (ensemble members wait together).
    pub fn spawn(&self) {
        let mut running = self.running.lock().unwrap();
        assert!(running.is_none(), "server already running");
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/zk-server");
        let mut cmd = Command::new(script);
        cmd.arg(&self.dir).arg(self.port.to_string());
        if let Some((id, spec)) = &self.member {
            cmd.arg(id.to_string()).arg(spec);
        }
        if let Some(t) = &self.tls {
            cmd.env("ZK_SECURE_PORT", t.port.to_string())
                .env("ZK_TLS_DIR", &t.dir)
                .env("ZK_TLS_CLIENT_AUTH", t.client_auth);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("run scripts/zk-server");
        let stdin = child.stdin.take().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let pid = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("zk-server printed {line:?}, not a pid"));
        *running = Some(Running { child, stdin, pid });
    }

    /// Waits until `srvr` says the server serves (standalone, leader or follower).
    pub fn wait_serving(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            if self.serving() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "ZooKeeper on port {} did not start; see {}/server.log",
                self.port,
                self.dir.display()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Whether the server answers `srvr` with a mode.
    pub fn serving(&self) -> bool {
        four_letter(self.port, "srvr").is_some_and(|a| a.contains("Mode:"))
    }

    /// The `Mode:` line of `srvr` (standalone, leader, follower), if serving.
    pub fn mode(&self) -> Option<String> {
        let a = four_letter(self.port, "srvr")?;
        a.lines()
            .find_map(|l| l.strip_prefix("Mode: ").map(|m| m.trim().to_string()))
    }

    fn end(&self, how: &str) {
        let Some(mut r) = self.running.lock().unwrap().take() else {
            return;
        };
        if how == "term" {
            let _ = writeln!(r.stdin, "term");
        }
        drop(r.stdin);
        let _ = r.child.wait();
    }

    /// Deletes the server's database (snapshots and transaction logs, not its
    /// `myid`), so that it rejoins its ensemble as a blank follower and takes
    /// a full snapshot from the leader. Only while it is stopped.
    pub fn wipe_data(&self) {
        assert!(!self.is_running(), "wipe a stopped server only");
        let _ = std::fs::remove_dir_all(self.dir.join("data/version-2"));
    }

    /// Stops the server gracefully (SIGTERM) and waits for it to exit.
    pub fn stop(&self) {
        self.end("term");
    }

    /// Kills the server (SIGKILL) and waits for it to exit.
    pub fn kill(&self) {
        self.end("kill");
    }

    fn signal(&self, sig: &str) {
        let pid = self.running.lock().unwrap().as_ref().map(|r| r.pid);
        if let Some(pid) = pid {
            let _ = Command::new("kill")
                .arg(format!("-{sig}"))
                .arg(pid.to_string())
                .status();
        }
    }

    /// Freezes the server process (SIGSTOP): it accepts nothing and answers nothing.
    pub fn pause(&self) {
        self.signal("STOP");
    }

    /// Lets a paused server run again (SIGCONT).
    pub fn resume(&self) {
        self.signal("CONT");
    }

    /// Whether the process was started and not stopped.
    pub fn is_running(&self) -> bool {
        self.running.lock().unwrap().is_some()
    }
}

impl Drop for ZkServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A 3-server (or n-server) ensemble on loopback.
pub struct Ensemble {
    /// The members, in myid order (member i has myid i + 1).
    pub servers: Vec<ZkServer>,
}

impl Ensemble {
    /// Starts `n` members and waits until every one of them serves.
    pub fn start(n: usize) -> Ensemble {
        Ensemble::start_with(n, |_| None)
    }

    /// Starts `n` members, each with a TLS port as well.
    pub fn start_tls(n: usize, pki: &std::path::Path) -> Ensemble {
        Ensemble::start_with(n, |_| Some(Tls::new(pki, "server.pem", "want")))
    }

    /// The connect string of every member's TLS port.
    pub fn secure_hosts(&self) -> String {
        self.servers
            .iter()
            .map(ZkServer::secure_addr)
            .collect::<Vec<_>>()
            .join(",")
    }

    fn start_with(n: usize, tls: impl Fn(usize) -> Option<Tls>) -> Ensemble {
        let base = scratch_dir("ensemble");
        let ports: Vec<(u16, u16, u16)> = (0..n)
            .map(|_| (free_port(), free_port(), free_port()))
            .collect();
        let spec = ports
            .iter()
            .enumerate()
            .map(|(i, (_, peer, elect))| format!("{}=127.0.0.1:{peer}:{elect}", i + 1))
            .collect::<Vec<_>>()
            .join(",");
        let servers: Vec<ZkServer> = ports
            .iter()
            .enumerate()
            .map(|(i, (client, _, _))| {
                let mut s = ZkServer::new(
                    base.join(format!("s{}", i + 1)),
                    *client,
                    Some((i as u32 + 1, spec.clone())),
                );
                s.tls = tls(i);
                s
            })
            .collect();
        for s in &servers {
            s.spawn();
        }
        for s in &servers {
            s.wait_serving(Duration::from_secs(90));
        }
        Ensemble { servers }
    }

    /// The connect string of every member.
    pub fn hosts(&self) -> String {
        self.servers
            .iter()
            .map(ZkServer::addr)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The index of the current leader, if one serves.
    pub fn leader(&self) -> Option<usize> {
        self.servers
            .iter()
            .position(|s| s.is_running() && s.mode().as_deref() == Some("leader"))
    }

    /// Waits until a quorum serves again (after a kill or restart).
    pub fn wait_quorum(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.leader().is_none() {
            assert!(Instant::now() < deadline, "the ensemble elected no leader");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
