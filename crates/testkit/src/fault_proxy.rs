//! A fault-injecting HTTP proxy for tests, loopback only: it sits in front of a real service (the
//! docker-registry, moto, a webhook sink) and, per a programmable list of [`Rule`]s (by method, path
//! and n-th matching request), injects what a broken or hostile server does: 5xx answers, connection
//! resets (before or in the middle of a response), hangs, slow bodies, hostile headers
//! (`Retry-After: inf`), redirects to another origin, and bodies that echo the request's secrets.
//!
//! ```no_run
//! use shipkit_testkit::fault_proxy::{Fault, FaultProxy, Rule};
//! let proxy = FaultProxy::start("127.0.0.1:5000");
//! proxy.add(Rule::new(Fault::status(503).header("Retry-After", "inf")).method("PUT").times(1));
//! proxy.add(Rule::new(Fault::RedirectToOtherOrigin).path("/blobs/"));
//! // point the tool at proxy.addr() instead of 127.0.0.1:5000 ...
//! assert!(proxy.other_origin_requests().iter().all(|r| r.header("authorization").is_none()));
//! ```
//!
//! Every request is handled on its own connection and answered with `Connection: close`; requests no
//! rule takes are forwarded unchanged (Host header included, so a registry's `Location` URLs point back
//! at the proxy). The "other origin" is a second listener on another port: it records each request
//! (with its `Authorization` header, if a client wrongly sent one) and forwards it to the upstream with
//! the authorization the test configured ([`FaultProxy::other_origin_auth`]), as a pre-signed storage
//! URL would work. When it can, the other origin's port starts with the proxy's port (`4000` and
//! `40001`), so an origin check by string prefix is caught too.

use crate::http_sink::Recorded;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What to do to a request a rule takes.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Answer this without forwarding.
    Respond {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
    },
    /// Read the request, then reset the connection (no response).
    Reset,
    /// Forward; send the client the response head and this many body bytes, then reset.
    ResetMidBody(usize),
    /// Read the request and never answer (until the proxy is dropped).
    Hang,
    /// Forward; send the response in chunks of this many bytes, waiting `delay` before each.
    SlowBody { chunk: usize, delay: Duration },
    /// Forward after waiting this long.
    Delay(Duration),
    /// Forward; add (or replace) these headers in the upstream's response.
    AddHeaders(Vec<(String, String)>),
    /// Answer `307` with `Location` on the other origin (same path and query).
    RedirectToOtherOrigin,
    /// Answer this status with a body that echoes the request line, query and every header value
    /// (`HTTP 401: invalid token: ...`), as some servers do.
    EchoSecrets(u16),
}

impl Fault {
    /// An answer with this status and an empty body.
    pub fn status(status: u16) -> Fault {
        Fault::Respond {
            status,
            headers: vec![],
            body: String::new(),
        }
    }
    /// Add a header to a [`Fault::Respond`] or [`Fault::AddHeaders`].
    pub fn header(mut self, k: &str, v: &str) -> Fault {
        if let Fault::Respond { headers, .. } | Fault::AddHeaders(headers) = &mut self {
            headers.push((k.to_string(), v.to_string()));
        }
        self
    }
    /// Set the body of a [`Fault::Respond`].
    pub fn body(mut self, text: &str) -> Fault {
        if let Fault::Respond { body, .. } = &mut self {
            *body = text.to_string();
        }
        self
    }
}

/// When a fault applies: requests matching `method`, `path` (substring of path and query) and `header`
/// (a header whose value contains a substring, e.g. `x-amz-target` ~ `DescribeServices`), once `after`
/// has been seen; the first `skip` matches pass, then `times` matches get the fault (all later ones when
/// `None`).
#[derive(Debug, Clone)]
pub struct Rule {
    pub method: Option<String>,
    pub path: Option<String>,
    pub header: Option<(String, String)>,
    /// Armed only once an earlier request matched this (method, path or any header value contains it).
    pub after: Option<String>,
    pub skip: usize,
    pub times: Option<usize>,
    pub fault: Fault,
    matched: usize,
}

impl Rule {
    /// Every request, every time.
    pub fn new(fault: Fault) -> Rule {
        Rule {
            method: None,
            path: None,
            header: None,
            after: None,
            skip: 0,
            times: None,
            fault,
            matched: 0,
        }
    }
    pub fn method(mut self, m: &str) -> Rule {
        self.method = Some(m.to_ascii_uppercase());
        self
    }
    /// Requests whose path (with query) contains `s`.
    pub fn path(mut self, s: &str) -> Rule {
        self.path = Some(s.to_string());
        self
    }
    /// Requests with header `name` whose value contains `contains` (AWS: `x-amz-target`, action name).
    pub fn header(mut self, name: &str, contains: &str) -> Rule {
        self.header = Some((name.to_ascii_lowercase(), contains.to_string()));
        self
    }
    /// Only after a request whose method, path or a header value contains `s` went through the proxy
    /// (e.g. hang DescribeServices only after `UpdateService`).
    pub fn after(mut self, s: &str) -> Rule {
        self.after = Some(s.to_string());
        self
    }
    /// Let the first `n` matching requests through.
    pub fn skip(mut self, n: usize) -> Rule {
        self.skip = n;
        self
    }
    /// Apply to `n` matching requests, then stop.
    pub fn times(mut self, n: usize) -> Rule {
        self.times = Some(n);
        self
    }
    /// Only the `n`-th matching request (1-based).
    pub fn nth(self, n: usize) -> Rule {
        self.skip(n.saturating_sub(1)).times(1)
    }

    /// Does this rule take the request? Counts the match. `earlier`: the requests seen before it.
    fn take(&mut self, r: &Recorded, earlier: &[Seen]) -> bool {
        let matches = self.method.as_deref().is_none_or(|m| m == r.method)
            && self.path.as_deref().is_none_or(|p| r.path.contains(p))
            && self
                .header
                .as_ref()
                .is_none_or(|(k, v)| r.header(k).is_some_and(|h| h.contains(v.as_str())))
            && self
                .after
                .as_deref()
                .is_none_or(|a| earlier.iter().any(|s| mentions(&s.request, a)));
        if !matches {
            return false;
        }
        self.matched += 1;
        self.matched > self.skip && self.times.is_none_or(|t| self.matched <= self.skip + t)
    }
}

fn mentions(r: &Recorded, s: &str) -> bool {
    r.method.contains(s) || r.path.contains(s) || r.headers.iter().any(|(_, v)| v.contains(s))
}

/// One request seen by the proxy and the fault it got (`None`: forwarded unchanged).
#[derive(Debug, Clone)]
pub struct Seen {
    pub request: Recorded,
    pub fault: Option<Fault>,
}

#[derive(Default)]
struct State {
    rules: Vec<Rule>,
    seen: Vec<Seen>,
    other: Vec<Recorded>,
    other_auth: Option<String>,
    /// The referrers API the proxy answers itself ([`FaultProxy::serve_referrers`]).
    referrers: Option<crate::referrers_stub::ReferrersIndex>,
}

struct Shared {
    upstream: String,
    state: Mutex<State>,
    stop: AtomicBool,
    other_port: u16,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The proxy. Dropping it stops both listeners and releases hanging connections.
pub struct FaultProxy {
    port: u16,
    shared: Arc<Shared>,
}

impl FaultProxy {
    /// Start in front of `upstream` (`127.0.0.1:PORT`; only loopback upstreams are accepted).
    pub fn start(upstream: &str) -> FaultProxy {
        let upstream = upstream.trim_start_matches("http://").trim_end_matches('/').to_string();
        let host = upstream.rsplit_once(':').map_or(upstream.as_str(), |(h, _)| h);
        assert!(
            host == "127.0.0.1" || host == "localhost" || host == "[::1]",
            "the fault proxy only fronts loopback services, not {upstream}"
        );
        let (listener, other) = bind_pair();
        let port = listener.local_addr().expect("local addr").port();
        let other_port = other.local_addr().expect("local addr").port();
        let shared = Arc::new(Shared {
            upstream,
            state: Mutex::new(State::default()),
            stop: AtomicBool::new(false),
            other_port,
        });
        accept_loop(listener, shared.clone(), false);
        accept_loop(other, shared.clone(), true);
        FaultProxy { port, shared }
    }

    /// `127.0.0.1:PORT`, to give a tool instead of the upstream's address.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr())
    }
    /// `http://127.0.0.1:OTHER_PORT`: where [`Fault::RedirectToOtherOrigin`] sends clients.
    pub fn other_origin_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.shared.other_port)
    }
    /// Is the other origin's port the proxy's port with digits appended (a string-prefix trap)?
    pub fn other_origin_is_prefix_twin(&self) -> bool {
        self.shared.other_port.to_string().starts_with(&self.port.to_string())
    }
    /// The `Authorization` value the other origin sends upstream (what a pre-signed URL grants).
    pub fn other_origin_auth(&self, value: &str) -> &Self {
        self.shared.lock().other_auth = Some(value.to_string());
        self
    }
    /// Add a rule (rules are tried in order; the first that takes a request applies).
    pub fn add(&self, rule: Rule) -> &Self {
        self.shared.lock().rules.push(rule);
        self
    }
    /// Answer the OCI 1.1 referrers API from the manifests pushed through the proxy (see
    /// [`crate::referrers_stub`]): the registry behind it then looks like one that has the API.
    pub fn serve_referrers(&self) -> &Self {
        self.shared.lock().referrers.get_or_insert_with(Default::default);
        self
    }
    /// Remove every rule: from now on everything is forwarded.
    pub fn clear(&self) -> &Self {
        self.shared.lock().rules.clear();
        self
    }
    /// Every request the proxy saw, in arrival order.
    pub fn seen(&self) -> Vec<Seen> {
        self.shared.lock().seen.clone()
    }
    /// How many requests got a fault.
    pub fn faults_injected(&self) -> usize {
        self.seen().iter().filter(|s| s.fault.is_some()).count()
    }
    /// Every request the other origin received.
    pub fn other_origin_requests(&self) -> Vec<Recorded> {
        self.shared.lock().other.clone()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        let _ = TcpStream::connect(("127.0.0.1", self.shared.other_port));
    }
}

/// Two listeners; when possible the second's port is the first's with a digit appended.
fn bind_pair() -> (TcpListener, TcpListener) {
    let mut rng = fastrand::Rng::new();
    for _ in 0..50 {
        let port = rng.u16(1025..6553);
        let Ok(first) = TcpListener::bind(("127.0.0.1", port)) else {
            continue;
        };
        for digit in 0..10u32 {
            let twin = u32::from(port) * 10 + digit;
            let Ok(twin) = u16::try_from(twin) else { break };
            if let Ok(second) = TcpListener::bind(("127.0.0.1", twin)) {
                return (first, second);
            }
        }
    }
    let first = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let second = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    (first, second)
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>, other_origin: bool) {
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            if shared.stop.load(Ordering::Relaxed) {
                break;
            }
            let Ok(conn) = conn else { continue };
            let shared = shared.clone();
            std::thread::spawn(move || {
                if other_origin {
                    serve_other_origin(conn, &shared);
                } else {
                    serve(conn, &shared);
                }
            });
        }
    });
}

/// A request read off a connection: the recorded form plus the raw head and body for forwarding.
struct Incoming {
    recorded: Recorded,
    body: Vec<u8>,
}

fn read_request(conn: &TcpStream) -> Option<Incoming> {
    let _ = conn.set_read_timeout(Some(Duration::from_mins(1)));
    let mut reader = BufReader::new(conn.try_clone().ok()?);
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let mut headers = vec![];
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).ok()? == 0 {
            return None;
        }
        let h = h.trim_end_matches(['\r', '\n']);
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let body = read_body(&mut reader, &headers)?;
    Some(Incoming {
        recorded: Recorded {
            method,
            path,
            headers,
            body: body.clone(),
            at: Instant::now(),
        },
        body,
    })
}

/// The body by Content-Length, or de-chunked (forwarded with a Content-Length).
fn read_body(reader: &mut impl BufRead, headers: &[(String, String)]) -> Option<Vec<u8>> {
    let get = |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let mut body = vec![];
    if let Some(len) = get("content-length").and_then(|v| v.parse::<usize>().ok()) {
        body.resize(len, 0);
        reader.read_exact(&mut body).ok()?;
    } else if get("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        loop {
            let mut size = String::new();
            if reader.read_line(&mut size).ok()? == 0 {
                return None;
            }
            let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16).ok()?;
            let mut chunk = vec![0; n + 2];
            reader.read_exact(&mut chunk).ok()?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    }
    Some(body)
}

fn serve(conn: TcpStream, shared: &Shared) {
    let Some(incoming) = read_request(&conn) else { return };
    let fault = {
        let mut st = shared.lock();
        let State { rules, seen, .. } = &mut *st;
        let fault = rules
            .iter_mut()
            .find_map(|rule| rule.take(&incoming.recorded, seen).then(|| rule.fault.clone()));
        st.seen.push(Seen {
            request: incoming.recorded.clone(),
            fault: fault.clone(),
        });
        match st.referrers.as_mut() {
            Some(index) if fault.is_none() => {
                if let Some((status, headers, body)) = index.answer(&incoming.recorded) {
                    Some(Fault::Respond { status, headers, body })
                } else {
                    index.record(&incoming.recorded);
                    None
                }
            }
            _ => fault,
        }
    };
    apply(conn, shared, &incoming, fault);
}

fn apply(mut conn: TcpStream, shared: &Shared, incoming: &Incoming, fault: Option<Fault>) {
    let r = &incoming.recorded;
    match fault {
        None => relay(&mut conn, shared, incoming, &[], None, None),
        Some(Fault::Respond { status, headers, body }) => respond(&mut conn, status, &headers, body.as_bytes()),
        Some(Fault::Reset) => reset(conn),
        Some(Fault::ResetMidBody(n)) => {
            relay(&mut conn, shared, incoming, &[], Some(n), None);
            reset(conn);
        }
        Some(Fault::Hang) => sleep_unless_stopped(Duration::from_mins(10), &shared.stop),
        Some(Fault::SlowBody { chunk, delay }) => relay(
            &mut conn,
            shared,
            incoming,
            &[],
            None,
            Some((chunk.max(1), delay, &shared.stop)),
        ),
        Some(Fault::Delay(d)) => {
            sleep_unless_stopped(d, &shared.stop);
            relay(&mut conn, shared, incoming, &[], None, None);
        }
        Some(Fault::AddHeaders(h)) => relay(&mut conn, shared, incoming, &h, None, None),
        Some(Fault::RedirectToOtherOrigin) => {
            let location = format!("http://127.0.0.1:{}{}", shared.other_port, r.path);
            respond(&mut conn, 307, &[("Location".to_string(), location)], b"");
        }
        Some(Fault::EchoSecrets(status)) => {
            let mut body = format!("invalid token: {} {}", r.method, r.path);
            if let Some((_, q)) = r.path.split_once('?') {
                body.push_str(&format!(" query={q}"));
            }
            for (k, v) in &r.headers {
                body.push_str(&format!(" {k}={v}"));
            }
            respond(&mut conn, status, &[], body.as_bytes());
        }
    }
}

/// The other origin: record, then forward with the configured authorization instead of the client's.
fn serve_other_origin(mut conn: TcpStream, shared: &Shared) {
    let Some(mut incoming) = read_request(&conn) else {
        return;
    };
    let auth = {
        let mut st = shared.lock();
        st.other.push(incoming.recorded.clone());
        st.other_auth.clone()
    };
    incoming.recorded.headers.retain(|(k, _)| k != "authorization");
    if let Some(a) = auth {
        incoming.recorded.headers.push(("authorization".into(), a));
    }
    relay(&mut conn, shared, &incoming, &[], None, None);
}

type Slow<'a> = (usize, Duration, &'a AtomicBool);

/// Forward the request upstream and the response back (headers `extra` added, at most `cut` body bytes,
/// optionally slowly).
fn relay(
    client: &mut TcpStream,
    shared: &Shared,
    incoming: &Incoming,
    extra: &[(String, String)],
    cut: Option<usize>,
    slow: Option<Slow<'_>>,
) {
    let Ok(mut up) = TcpStream::connect(&shared.upstream) else {
        respond(client, 502, &[], b"fault proxy: upstream unreachable");
        return;
    };
    let _ = up.set_read_timeout(Some(Duration::from_mins(2)));
    let r = &incoming.recorded;
    let mut head = format!("{} {} HTTP/1.1\r\n", r.method, r.path);
    for (k, v) in &r.headers {
        if !matches!(
            k.as_str(),
            "connection" | "keep-alive" | "content-length" | "transfer-encoding"
        ) {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    if !incoming.body.is_empty() || matches!(r.method.as_str(), "POST" | "PUT" | "PATCH") {
        head.push_str(&format!("content-length: {}\r\n", incoming.body.len()));
    }
    head.push_str("connection: close\r\n\r\n");
    if up.write_all(head.as_bytes()).is_err() || up.write_all(&incoming.body).is_err() {
        respond(client, 502, &[], b"fault proxy: upstream write failed");
        return;
    }
    let mut response = vec![];
    let _ = up.read_to_end(&mut response);
    let Some(split) = response.windows(4).position(|w| w == b"\r\n\r\n") else {
        respond(client, 502, &[], b"fault proxy: no response from upstream");
        return;
    };
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let body = &response[split + 4..];
    let mut lines = head.split("\r\n");
    let mut out = format!("{}\r\n", lines.next().unwrap_or("HTTP/1.1 502 Bad Gateway"));
    for line in lines {
        let name = line.split(':').next().unwrap_or("").trim().to_ascii_lowercase();
        if name == "connection" || extra.iter().any(|(k, _)| k.eq_ignore_ascii_case(&name)) {
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    for (k, v) in extra {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("Connection: close\r\n\r\n");
    let body = &body[..cut.unwrap_or(body.len()).min(body.len())];
    let _ = client.write_all(out.as_bytes());
    match slow {
        None => {
            let _ = client.write_all(body);
        }
        Some((chunk, delay, stop)) => {
            for piece in body.chunks(chunk) {
                sleep_unless_stopped(delay, stop);
                if client.write_all(piece).and_then(|()| client.flush()).is_err() {
                    return;
                }
            }
        }
    }
    let _ = client.flush();
}

fn respond(conn: &mut TcpStream, status: u16, headers: &[(String, String)], body: &[u8]) {
    let mut out = format!("HTTP/1.1 {status} Fault\r\n");
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str(&format!("Content-Length: {}\r\nConnection: close\r\n\r\n", body.len()));
    let _ = conn.write_all(out.as_bytes());
    let _ = conn.write_all(body);
    let _ = conn.flush();
}

/// Close with a TCP reset (SO_LINGER 0), as a crashed server or a middlebox does.
fn reset(conn: TcpStream) {
    let _ = socket2::SockRef::from(&conn).set_linger(Some(Duration::ZERO));
    drop(conn);
}

fn sleep_unless_stopped(d: Duration, stop: &AtomicBool) {
    let end = Instant::now() + d;
    while Instant::now() < end && !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests;
