//! A private `docker-registry` instance for one test, on a free 127.0.0.1 port, that the test may stop
//! (a registry going away in the middle of a push). Stopped when dropped.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct ExtraRegistry {
    /// `127.0.0.1:PORT`.
    pub addr: String,
    child: Option<Child>,
    /// Holds the config, log and storage; removed when the registry is dropped.
    dir: tempfile::TempDir,
}

impl ExtraRegistry {
    /// Start `docker-registry serve` (from Debian's `docker-registry`, as `scripts/test-services` does);
    /// with `auth`, htpasswd authentication for that user and password (needs `htpasswd`).
    pub fn start(auth: Option<(&str, &str)>) -> ExtraRegistry {
        let dir = tempfile::tempdir().unwrap();
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let mut config = format!(
            "version: 0.1\nlog: {{level: warn}}\nstorage:\n  filesystem: {{rootdirectory: {}}}\n  delete: {{enabled: true}}\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.path().join("data").display()
        );
        if let Some((user, password)) = auth {
            let file = dir.path().join("htpasswd");
            let ok = Command::new("htpasswd")
                .args(["-Bbc", &file.display().to_string(), user, password])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("htpasswd runs (apt-get install apache2-utils)");
            assert!(ok.success(), "htpasswd failed");
            config.push_str(&format!(
                "auth:\n  htpasswd: {{realm: shipkit-test, path: {}}}\n",
                file.display()
            ));
        }
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).unwrap();
        let log = std::fs::File::create(dir.path().join("log")).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config_path)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("docker-registry runs (apt-get install docker-registry)");
        let addr = format!("127.0.0.1:{port}");
        let reg = ExtraRegistry {
            addr: addr.clone(),
            child: Some(child),
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(&addr).is_err() {
            assert!(
                Instant::now() < deadline,
                "docker-registry did not start on {addr}: {}",
                reg.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        reg
    }

    /// The registry's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
    }

    /// The storage directory (uploads in progress appear under it).
    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Kill the registry now (and wait for it to be gone).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for ExtraRegistry {
    fn drop(&mut self) {
        self.stop();
    }
}
