//! A local HTTP server that records every request and answers as scripted: the stand-in for Slack,
//! Discord, Teams and webhook endpoints in the tests. std only (a `TcpListener` and a thread per
//! connection), bound to 127.0.0.1 on a free port.
//!
//! ```no_run
//! use shipkit_testkit::http_sink::{HttpSink, Reply};
//! let sink = HttpSink::start();
//! sink.push(Reply::status(429).header("Retry-After", "1")); // first request: 429
//! // ... later requests get the default (200 "ok") ...
//! let url = format!("{}/hook", sink.url());
//! let reqs = sink.requests();
//! ```
//!
//! Replies are chosen in this order: the queue for the first route whose path prefix matches
//! ([`HttpSink::route`]), else the global queue ([`HttpSink::push`]), else the default
//! ([`HttpSink::set_default`], initially `200 ok`).

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// Path and query, as sent (`/hook?x=1`).
    pub path: String,
    /// Header names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// When the request was complete.
    pub at: Instant,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_str())
    }
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// What to answer.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A response.
    Respond {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// Read the request and never answer (until the sink is dropped): for timeouts.
    Hang,
    /// Wait, then give the inner reply.
    Delay(Duration, Box<Reply>),
}

impl Reply {
    /// An empty response with this status.
    pub fn status(status: u16) -> Reply {
        Reply::Respond {
            status,
            headers: vec![],
            body: vec![],
        }
    }
    /// A text body.
    pub fn text(status: u16, body: &str) -> Reply {
        Reply::status(status)
            .header("Content-Type", "text/plain")
            .body(body.as_bytes())
    }
    /// A JSON body (given as text, e.g. `{"ok":true,"ts":"1.2"}`).
    pub fn json(status: u16, body: &str) -> Reply {
        Reply::status(status)
            .header("Content-Type", "application/json")
            .body(body.as_bytes())
    }
    /// Add a header (only to `Respond`; `Delay` passes it on).
    pub fn header(self, k: &str, v: &str) -> Reply {
        match self {
            Reply::Respond {
                status,
                mut headers,
                body,
            } => {
                headers.push((k.to_string(), v.to_string()));
                Reply::Respond { status, headers, body }
            }
            Reply::Delay(d, inner) => Reply::Delay(d, Box::new(inner.header(k, v))),
            Reply::Hang => Reply::Hang,
        }
    }
    fn body(self, b: &[u8]) -> Reply {
        match self {
            Reply::Respond { status, headers, .. } => Reply::Respond {
                status,
                headers,
                body: b.to_vec(),
            },
            other => other,
        }
    }
    /// Answer after a delay.
    pub fn delayed(self, d: Duration) -> Reply {
        Reply::Delay(d, Box::new(self))
    }
}

#[derive(Default)]
struct State {
    requests: Vec<Recorded>,
    queue: VecDeque<Reply>,
    routes: Vec<(String, VecDeque<Reply>, Option<Reply>)>,
    default: Option<Reply>,
}

impl State {
    fn next_reply(&mut self, path: &str) -> Reply {
        if let Some((_, q, fallback)) = self.routes.iter_mut().find(|(p, _, _)| path.starts_with(p.as_str())) {
            if let Some(r) = q.pop_front() {
                return r;
            }
            if let Some(r) = fallback {
                return r.clone();
            }
        }
        if let Some(r) = self.queue.pop_front() {
            return r;
        }
        self.default.clone().unwrap_or_else(|| Reply::text(200, "ok"))
    }
}

/// The recording server. Dropping it stops it (hanging connections are released).
pub struct HttpSink {
    port: u16,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
}

impl HttpSink {
    /// Start on 127.0.0.1 on a free port.
    pub fn start() -> HttpSink {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local addr").port();
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (st, sp) = (state.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if sp.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (st, sp) = (st.clone(), sp.clone());
                std::thread::spawn(move || handle(conn, &st, &sp));
            }
        });
        HttpSink { port, state, stop }
    }

    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Queue a reply for the next request that no route takes.
    pub fn push(&self, reply: Reply) -> &Self {
        self.lock().queue.push_back(reply);
        self
    }

    /// Replies for requests whose path starts with `prefix`: the queued ones in order, then `fallback`
    /// for every later one (or, without a fallback, the global queue/default).
    pub fn route(&self, prefix: &str, queued: Vec<Reply>, fallback: Option<Reply>) -> &Self {
        self.lock()
            .routes
            .push((prefix.to_string(), queued.into_iter().collect(), fallback));
        self
    }

    /// The reply when nothing is queued.
    pub fn set_default(&self, reply: Reply) -> &Self {
        self.lock().default = Some(reply);
        self
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.lock().requests.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Drop for HttpSink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// `http://127.0.0.1:PORT` where nothing listens (a port bound and released again).
pub fn closed_port_url() -> String {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    drop(l);
    format!("http://127.0.0.1:{port}")
}

fn handle(conn: TcpStream, state: &Mutex<State>, stop: &AtomicBool) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(30)));
    let mut reader = BufReader::new(match conn.try_clone() {
        Ok(c) => c,
        Err(_) => return,
    });
    let mut conn = conn;
    // One request per connection: we answer with `Connection: close`.
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    let mut headers = vec![];
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 {
            return;
        }
        let h = h.trim_end_matches(['\r', '\n']);
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let get = |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let mut body = vec![];
    if let Some(len) = get("content-length").and_then(|v| v.parse::<usize>().ok()) {
        body.resize(len, 0);
        if reader.read_exact(&mut body).is_err() {
            return;
        }
    } else if get("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        loop {
            let mut size = String::new();
            if reader.read_line(&mut size).unwrap_or(0) == 0 {
                return;
            }
            let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16).unwrap_or(0);
            let mut chunk = vec![0; n + 2];
            if reader.read_exact(&mut chunk).is_err() {
                return;
            }
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    }
    let reply = {
        let mut st = state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        st.requests.push(Recorded {
            method,
            path: path.clone(),
            headers,
            body,
            at: Instant::now(),
        });
        st.next_reply(&path)
    };
    let mut reply = reply;
    loop {
        match reply {
            Reply::Delay(d, inner) => {
                sleep_unless_stopped(d, stop);
                reply = *inner;
            }
            Reply::Hang => {
                sleep_unless_stopped(Duration::from_mins(2), stop);
                return;
            }
            Reply::Respond { status, headers, body } => {
                let mut out = format!("HTTP/1.1 {status} {}\r\n", reason(status));
                for (k, v) in &headers {
                    out.push_str(&format!("{k}: {v}\r\n"));
                }
                out.push_str(&format!("Content-Length: {}\r\nConnection: close\r\n\r\n", body.len()));
                let _ = conn.write_all(out.as_bytes());
                let _ = conn.write_all(&body);
                let _ = conn.flush();
                return;
            }
        }
    }
}

fn sleep_unless_stopped(d: Duration, stop: &AtomicBool) {
    let end = Instant::now() + d;
    while Instant::now() < end && !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        202 => "Accepted",
        204 => "No Content",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(url: &str, path: &str, body: &str) -> String {
        let addr = url.trim_start_matches("http://");
        let mut s = TcpStream::connect(addr).unwrap();
        write!(
            s,
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }

    #[test]
    fn records_and_answers_in_order() {
        let sink = HttpSink::start();
        sink.push(Reply::text(429, "slow down").header("Retry-After", "1"));
        sink.route("/api/", vec![], Some(Reply::json(200, r#"{"ok":true}"#)));
        let first = post(&sink.url(), "/hook", "{\"a\":1}");
        assert!(first.starts_with("HTTP/1.1 429"), "{first}");
        assert!(first.contains("Retry-After: 1"), "{first}");
        assert!(post(&sink.url(), "/hook", "x").starts_with("HTTP/1.1 200"));
        assert!(post(&sink.url(), "/api/chat.postMessage", "y").ends_with(r#"{"ok":true}"#));
        let reqs = sink.requests();
        assert_eq!(reqs.len(), 3);
        assert_eq!(reqs[0].method, "POST");
        assert_eq!(reqs[0].path, "/hook");
        assert_eq!(reqs[0].body_text(), "{\"a\":1}");
        assert_eq!(reqs[0].header("Content-Length"), Some("7"));
    }

    #[test]
    fn closed_port_refuses() {
        let url = closed_port_url();
        assert!(TcpStream::connect(url.trim_start_matches("http://")).is_err());
    }
}
