//! A fault-injecting HTTP proxy in front of a real registry, on 127.0.0.1 only: every request is logged
//! and forwarded (with `Connection: close`, one request per connection) unless a rule matches its method
//! and path, in which case it is answered with a status (and hostile headers), a redirect, delayed, or
//! left hanging. Used for the floating-tag, signal and credential-origin tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What to do with a matching request.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer with this status and headers (empty body); the registry never sees the request.
    Status(u16, Vec<(String, String)>),
    /// `307 Temporary Redirect` to this URL.
    Redirect(String),
    /// Forward after this delay.
    Delay(Duration),
    /// Never answer (until the proxy is dropped).
    Hang,
}

struct Rule {
    method: String,
    path_contains: String,
    fault: Fault,
    /// How many more requests it applies to.
    left: usize,
}

/// One request as the proxy saw it (`at` = when its head was read).
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub at: Instant,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct Shared {
    rules: Mutex<Vec<Rule>>,
    seen: Mutex<Vec<Seen>>,
    stop: AtomicBool,
}

pub struct FaultProxy {
    /// `127.0.0.1:PORT`.
    pub addr: String,
    pub port: u16,
    shared: Arc<Shared>,
}

impl FaultProxy {
    /// A proxy on a free port in front of `upstream` (`127.0.0.1:PORT`).
    pub fn start(upstream: &str) -> FaultProxy {
        FaultProxy::on(TcpListener::bind("127.0.0.1:0").unwrap(), upstream)
    }

    /// A proxy on an already bound listener (a port the test chose).
    pub fn on(listener: TcpListener, upstream: &str) -> FaultProxy {
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared::default());
        let s = Arc::clone(&shared);
        let upstream = upstream.to_string();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.stop.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(conn) = conn else { continue };
                let (s, up) = (Arc::clone(&s), upstream.clone());
                std::thread::spawn(move || {
                    let _ = handle(conn, &up, &s);
                });
            }
        });
        FaultProxy {
            addr: format!("127.0.0.1:{port}"),
            port,
            shared,
        }
    }

    /// Apply `fault` to the next `times` requests whose method is `method` (`*` = any) and whose path
    /// contains `path_contains`.
    pub fn rule(&self, method: &str, path_contains: &str, fault: Fault, times: usize) -> &Self {
        self.shared.rules.lock().unwrap().push(Rule {
            method: method.to_string(),
            path_contains: path_contains.to_string(),
            fault,
            left: times,
        });
        self
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.shared.seen.lock().unwrap().clone()
    }

    /// Wait until a request matching `method` and `path_contains` has arrived (panics after `within`).
    pub fn wait_for(&self, method: &str, path_contains: &str, within: Duration) -> Seen {
        let end = Instant::now() + within;
        loop {
            if let Some(s) = self
                .seen()
                .into_iter()
                .find(|s| s.method == method && s.path.contains(path_contains))
            {
                return s;
            }
            assert!(Instant::now() < end, "no {method} *{path_contains}* within {within:?}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.addr);
    }
}

fn fault_for(s: &Shared, method: &str, path: &str) -> Option<Fault> {
    let mut rules = s.rules.lock().unwrap();
    let rule = rules
        .iter_mut()
        .find(|r| r.left > 0 && (r.method == "*" || r.method == method) && path.contains(&r.path_contains))?;
    rule.left -= 1;
    Some(rule.fault.clone())
}

fn handle(conn: TcpStream, upstream: &str, s: &Shared) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(120)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut parts = request_line.split_whitespace();
    let (method, path) = (
        parts.next().unwrap_or("").to_string(),
        parts.next().unwrap_or("").to_string(),
    );
    let mut headers = vec![];
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            break;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    s.seen.lock().unwrap().push(Seen {
        method: method.clone(),
        path: path.clone(),
        headers: headers.clone(),
        at: Instant::now(),
    });
    let length: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut conn = conn;
    match fault_for(s, &method, &path) {
        Some(Fault::Status(status, extra)) => {
            std::io::copy(&mut (&mut reader).take(length as u64), &mut std::io::sink())?;
            let mut head = format!("HTTP/1.1 {status} Injected\r\nContent-Length: 0\r\nConnection: close\r\n");
            for (k, v) in extra {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
            head.push_str("\r\n");
            conn.write_all(head.as_bytes())?;
            return conn.shutdown(Shutdown::Both);
        }
        Some(Fault::Redirect(to)) => {
            let head = format!(
                "HTTP/1.1 307 Temporary Redirect\r\nLocation: {to}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            conn.write_all(head.as_bytes())?;
            return conn.shutdown(Shutdown::Both);
        }
        Some(Fault::Hang) => {
            while !s.stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(50));
            }
            return conn.shutdown(Shutdown::Both);
        }
        Some(Fault::Delay(d)) => std::thread::sleep(d),
        None => {}
    }
    forward(conn, reader, upstream, &method, &path, &headers, length)
}

fn forward(
    mut conn: TcpStream,
    mut reader: BufReader<TcpStream>,
    upstream: &str,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    length: usize,
) -> std::io::Result<()> {
    let mut up = TcpStream::connect(upstream)?;
    let mut head = format!("{method} {path} HTTP/1.1\r\n");
    for (k, v) in headers {
        if !k.eq_ignore_ascii_case("connection") {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    head.push_str("Connection: close\r\n\r\n");
    up.write_all(head.as_bytes())?;
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        // dockerd's blob PATCHes: pass the chunks through as they come; the upstream answers after the
        // last one and closes (Connection: close), which ends both directions.
        let mut up_in = up.try_clone()?;
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut reader, &mut up_in);
        });
    } else {
        std::io::copy(&mut (&mut reader).take(length as u64), &mut up)?;
    }
    std::io::copy(&mut up, &mut conn)?;
    let _ = up.shutdown(Shutdown::Both);
    conn.shutdown(Shutdown::Both)
}

/// Two listeners on 127.0.0.1 whose ports are `p` and `p` followed by one more digit (`4000` and
/// `40001`): the pair a string-prefix origin check confuses.
pub fn prefix_port_pair() -> (TcpListener, TcpListener) {
    let seed = u16::try_from(std::process::id() % 65536).unwrap_or(0);
    for i in 0..2000u16 {
        let p = 1100 + (seed.wrapping_add(i.wrapping_mul(7))) % 5400;
        let Ok(a) = TcpListener::bind(("127.0.0.1", p)) else {
            continue;
        };
        for d in 0..10u16 {
            let q = u32::from(p) * 10 + u32::from(d);
            let Ok(q) = u16::try_from(q) else { break };
            if let Ok(b) = TcpListener::bind(("127.0.0.1", q)) {
                return (a, b);
            }
        }
    }
    panic!("no free pair of ports P and P*10+d on 127.0.0.1");
}
