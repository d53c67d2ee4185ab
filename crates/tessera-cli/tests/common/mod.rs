//! The tests' harness for `tessera server` against the real Slurm of tools/slurm-local:
//! a server in its own directory with its own port, tokens and configuration.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tessera_server::client::request;

pub mod browser;

pub const TOKEN: &str = "test-team-token-000000001";

/// The tests share one Slurm, and one of them stops its controller: one at a time.
pub static SLURM: std::sync::Mutex<()> = std::sync::Mutex::new(());

pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    SLURM.lock().unwrap_or_else(|p| p.into_inner())
}
pub const OTHER: &str = "other-team-token-00000001";

pub fn have_slurm(test: &str) -> bool {
    let ok = std::env::var_os("SLURM_CONF").is_some_and(|c| Path::new(&c).exists())
        && Command::new("sinfo")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
    if !ok {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{test}: no Slurm cluster (SLURM_CONF unset or sinfo missing) under CI=true");
        }
        eprintln!("{test}: skipped, no Slurm cluster (run tools/test.sh as root)");
    }
    ok
}

pub struct Server {
    pub dir: PathBuf,
    pub addr: String,
    pub child: Option<Child>,
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Server {
    pub fn new(test: &str, policy: &str) -> Server {
        Server::with_engine(test, policy, "")
    }

    /// A server whose engine has these extra configuration lines.
    pub fn with_engine(test: &str, policy: &str, engine_extra: &str) -> Server {
        Server::with_fleet(
            test,
            policy,
            &format!(
                r#"[[engine]]
name = "slurm"
kind = "slurm"
{engine_extra}

[[pool]]
name = "ascend"
chip = "910b2"
engine = "slurm"
partition = "huawei"
gres = "gpu:ascend910b"

[[pool]]
name = "a800"
chip = "a800"
engine = "slurm"
partition = "nvidia"
gres = "gpu:a800"

[[pool]]
name = "p800"
chip = "kunlunxin-p800"
engine = "slurm"
partition = "baidu"
gres = "gpu:p800"

[[link]]
pools = ["ascend", "a800"]
gb-s = 12.5
"#
            ),
        )
    }

    /// A server with these engines and pools.
    pub fn with_fleet(test: &str, policy: &str, fleet: &str) -> Server {
        let dir =
            std::env::temp_dir().join(format!("tessera-server-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let addr = format!("127.0.0.1:{}", free_port());
        std::fs::write(
            dir.join("tessera.toml"),
            format!(
                r#"listen = "{addr}"
state = "sqlite:state.db"
tokens = "tokens.toml"
policy = "{policy}"
round-s = 1
max-body-bytes = 65536

{fleet}"#
            ),
        )
        .unwrap();
        Server::in_dir(dir, addr)
    }

    pub fn in_dir(dir: PathBuf, addr: String) -> Server {
        std::fs::write(
            dir.join("tokens.toml"),
            format!(
                "[[token]]\nteam = \"test\"\ntoken = \"{TOKEN}\"\n\n[[token]]\nteam = \"other\"\ntoken = \"{OTHER}\"\n"
            ),
        )
        .unwrap();
        let mut s = Server {
            dir,
            addr,
            child: None,
        };
        s.start();
        s
    }

    pub fn start(&mut self) {
        let child = Command::new(env!("CARGO_BIN_EXE_tessera"))
            .args(["server", "--config"])
            .arg(self.dir.join("tessera.toml"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.dir.join("server.log")).unwrap())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let until = Instant::now() + Duration::from_secs(30);
        while request(&self.addr, "GET", "/healthz", None, None).is_err() {
            assert!(
                Instant::now() < until,
                "the server did not come up: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill(); // SIGKILL
            let _ = c.wait();
        }
    }

    /// SIGTERM, and the exit status once it stopped (10 s at most).
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut c = self.child.take().unwrap();
        assert!(
            Command::new("kill")
                .arg(c.id().to_string())
                .status()
                .unwrap()
                .success()
        );
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(st) = c.try_wait().unwrap() {
                return st;
            }
            assert!(
                Instant::now() < until,
                "no exit 10 s after SIGTERM: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    pub fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> (u16, serde_json::Value) {
        let r = request(&self.addr, method, path, token, body).unwrap();
        let v = serde_json::from_str(&r.body).unwrap_or_else(|_| {
            panic!(
                "{method} {path}: HTTP {} body not JSON: {}",
                r.status, r.body
            )
        });
        (r.status, v)
    }

    pub fn submit(&self, body: &str) -> u64 {
        let (s, v) = self.call("POST", "/api/v1/jobs", Some(TOKEN), Some(body));
        assert_eq!(s, 201, "{v}");
        v["id"].as_u64().unwrap()
    }

    pub fn job(&self, id: u64) -> serde_json::Value {
        let (s, v) = self.call("GET", &format!("/api/v1/jobs/{id}"), Some(TOKEN), None);
        assert_eq!(s, 200, "{v}");
        v
    }

    /// Waits (120 s at most: a liveness bound, not a speed check) for a final state.
    pub fn wait_final(&self, id: u64) -> serde_json::Value {
        let until = Instant::now() + Duration::from_secs(120);
        loop {
            let v = self.job(id);
            if matches!(
                v["state"].as_str(),
                Some("succeeded" | "failed" | "cancelled")
            ) {
                return v;
            }
            assert!(
                Instant::now() < until,
                "job {id} never finished: {v}\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SIGTERM first: a graceful shutdown.
            let _ = Command::new("kill").arg(c.id().to_string()).status();
            let until = Instant::now() + Duration::from_secs(10);
            while c.try_wait().ok().flatten().is_none() && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub fn wait_until(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < until, "{what}: not within {secs} s");
        std::thread::sleep(Duration::from_millis(200));
    }
}
