//! The proxy's own tests, against an [`HttpSink`] upstream and raw TCP clients.

use super::*;
use crate::http_sink::{HttpSink, Reply};

/// Send one request; the raw response, or the I/O error (a reset) seen while reading it.
fn send(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> std::io::Result<String> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes())?;
    let mut out = vec![];
    s.read_to_end(&mut out)?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

fn sink_with(body: &str) -> HttpSink {
    let sink = HttpSink::start();
    sink.set_default(Reply::text(200, body).header("X-Upstream", "yes"));
    sink
}

#[test]
fn forwards_requests_and_responses_unchanged_without_rules() {
    let sink = sink_with("hello from upstream");
    let proxy = FaultProxy::start(&sink.url());
    let out = send(
        &proxy.addr(),
        "POST",
        "/hook?a=1",
        &[("Authorization", "Bearer t")],
        "{\"x\":1}",
    )
    .unwrap();
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    assert!(
        out.contains("X-Upstream: yes") && out.ends_with("hello from upstream"),
        "{out}"
    );
    let got = sink.requests();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].path, "/hook?a=1");
    assert_eq!(got[0].body_text(), "{\"x\":1}");
    assert_eq!(got[0].header("authorization"), Some("Bearer t"));
    assert_eq!(proxy.seen().len(), 1);
    assert_eq!(proxy.faults_injected(), 0);
}

#[test]
fn rules_match_by_method_path_and_nth_request() {
    let sink = sink_with("ok");
    let proxy = FaultProxy::start(&sink.url());
    proxy.add(
        Rule::new(Fault::status(503).header("Retry-After", "inf"))
            .method("PUT")
            .path("/manifests/")
            .nth(2),
    );
    let put = |p: &str| send(&proxy.addr(), "PUT", p, &[], "m").unwrap();
    assert!(put("/v2/a/manifests/1").starts_with("HTTP/1.1 200"));
    assert!(send(&proxy.addr(), "GET", "/v2/a/manifests/1", &[], "")
        .unwrap()
        .starts_with("HTTP/1.1 200"));
    assert!(put("/v2/a/blobs/x").starts_with("HTTP/1.1 200"), "other paths pass");
    let second = put("/v2/a/manifests/2");
    assert!(
        second.starts_with("HTTP/1.1 503") && second.contains("Retry-After: inf"),
        "{second}"
    );
    assert!(put("/v2/a/manifests/3").starts_with("HTTP/1.1 200"), "only the 2nd");
    assert_eq!(sink.requests().len(), 4, "the faulted request never reached upstream");
    assert_eq!(proxy.faults_injected(), 1);
}

#[test]
fn reset_gives_the_client_an_error_not_a_response() {
    let sink = sink_with("ok");
    let proxy = FaultProxy::start(&sink.url());
    proxy.add(Rule::new(Fault::Reset).times(1));
    match send(&proxy.addr(), "GET", "/x", &[], "") {
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}"),
        Ok(out) => assert!(out.is_empty(), "got a response: {out}"),
    }
    assert!(send(&proxy.addr(), "GET", "/x", &[], "")
        .unwrap()
        .starts_with("HTTP/1.1 200"));
}

#[test]
fn reset_mid_body_cuts_the_response() {
    let sink = sink_with(&"0123456789".repeat(100));
    let proxy = FaultProxy::start(&sink.url());
    proxy.add(Rule::new(Fault::ResetMidBody(10)));
    let out = send(&proxy.addr(), "GET", "/blob", &[], "").unwrap_or_default();
    assert!(!out.contains("0123456789012"), "more than 10 body bytes arrived: {out}");
}

#[test]
fn hang_never_answers_and_is_released_on_drop() {
    let sink = sink_with("ok");
    let proxy = FaultProxy::start(&sink.url());
    proxy.add(Rule::new(Fault::Hang));
    let mut s = TcpStream::connect(proxy.addr()).unwrap();
    s.write_all(b"GET /describe HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        .unwrap();
    s.set_read_timeout(Some(Duration::from_millis(700))).unwrap();
    let mut buf = [0u8; 16];
    let e = s.read(&mut buf).unwrap_err();
    assert!(
        matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut),
        "{e}"
    );
    assert!(sink.requests().is_empty());
    drop(proxy);
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let start = Instant::now();
    let _ = s.read(&mut buf);
    assert!(start.elapsed() < Duration::from_secs(3), "hang not released on drop");
}

#[test]
fn slow_body_arrives_whole_but_late() {
    let sink = sink_with("abcdefghij");
    let proxy = FaultProxy::start(&sink.url());
    proxy.add(Rule::new(Fault::SlowBody {
        chunk: 2,
        delay: Duration::from_millis(60),
    }));
    let start = Instant::now();
    let out = send(&proxy.addr(), "GET", "/", &[], "").unwrap();
    assert!(out.ends_with("abcdefghij"), "{out}");
    assert!(start.elapsed() >= Duration::from_millis(300), "{:?}", start.elapsed());
}

#[test]
fn hostile_headers_replace_the_upstreams() {
    let sink = HttpSink::start();
    sink.set_default(Reply::text(503, "busy").header("Retry-After", "1"));
    let proxy = FaultProxy::start(&sink.url());
    proxy.add(Rule::new(Fault::AddHeaders(vec![(
        "Retry-After".into(),
        "1e20".into(),
    )])));
    let out = send(&proxy.addr(), "GET", "/", &[], "").unwrap();
    assert!(
        out.starts_with("HTTP/1.1 503") && out.contains("Retry-After: 1e20"),
        "{out}"
    );
    assert!(!out.contains("Retry-After: 1\r\n"), "{out}");
}

#[test]
fn redirect_goes_to_another_origin_that_records_authorization_and_forwards() {
    let sink = sink_with("blob bytes");
    let proxy = FaultProxy::start(&sink.url());
    proxy.other_origin_auth("Basic cHJlc2lnbmVk");
    proxy.add(Rule::new(Fault::RedirectToOtherOrigin).path("/blobs/"));
    let out = send(
        &proxy.addr(),
        "GET",
        "/v2/a/blobs/sha256:1?x=1",
        &[("Authorization", "Basic c2VjcmV0")],
        "",
    )
    .unwrap();
    assert!(out.starts_with("HTTP/1.1 307"), "{out}");
    let location = out
        .lines()
        .find_map(|l| l.strip_prefix("Location: "))
        .unwrap()
        .to_string();
    assert_eq!(
        location,
        format!("{}/v2/a/blobs/sha256:1?x=1", proxy.other_origin_url())
    );
    assert_ne!(proxy.other_origin_url(), proxy.url());
    let other = location
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_string();
    // A client that (wrongly) keeps its credentials across origins:
    let out = send(
        &other,
        "GET",
        "/v2/a/blobs/sha256:1?x=1",
        &[("Authorization", "Basic c2VjcmV0")],
        "",
    )
    .unwrap();
    assert!(out.ends_with("blob bytes"), "{out}");
    let seen = proxy.other_origin_requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].header("authorization"),
        Some("Basic c2VjcmV0"),
        "recorded as received"
    );
    let upstream = sink.requests();
    assert_eq!(
        upstream.last().unwrap().header("authorization"),
        Some("Basic cHJlc2lnbmVk")
    );
}

#[test]
fn the_other_origin_port_usually_extends_the_proxy_port() {
    let twins = (0..5)
        .filter(|_| FaultProxy::start("127.0.0.1:9").other_origin_is_prefix_twin())
        .count();
    assert!(twins >= 3, "only {twins} of 5 proxies got a prefix-twin port");
}

#[test]
fn echoed_secrets_contain_the_request_parts() {
    let sink = sink_with("ok");
    let proxy = FaultProxy::start(&sink.url());
    proxy.add(Rule::new(Fault::EchoSecrets(401)));
    let out = send(
        &proxy.addr(),
        "POST",
        "/services/T0/B0/SECRETabc?token=QSECRET",
        &[("X-Api-Key", "HSECRET")],
        "{}",
    )
    .unwrap();
    assert!(out.starts_with("HTTP/1.1 401"), "{out}");
    for s in ["SECRETabc", "token=QSECRET", "HSECRET"] {
        assert!(out.contains(s), "{s} not echoed: {out}");
    }
}

#[test]
fn delay_then_forward_and_unreachable_upstream_is_a_502() {
    let sink = sink_with("late");
    let proxy = FaultProxy::start(&sink.url());
    proxy.add(Rule::new(Fault::Delay(Duration::from_millis(300))).times(1));
    let start = Instant::now();
    assert!(send(&proxy.addr(), "GET", "/", &[], "").unwrap().ends_with("late"));
    assert!(start.elapsed() >= Duration::from_millis(300));
    let closed = crate::http_sink::closed_port_url();
    let dead = FaultProxy::start(&closed);
    assert!(send(&dead.addr(), "GET", "/", &[], "")
        .unwrap()
        .starts_with("HTTP/1.1 502"));
}

#[test]
#[should_panic(expected = "only fronts loopback")]
fn refuses_a_non_loopback_upstream() {
    let _ = FaultProxy::start("registry.example.test:80");
}

#[test]
fn header_rules_arm_after_another_request() {
    let sink = sink_with("{}");
    let proxy = FaultProxy::start(&sink.url());
    proxy.add(
        Rule::new(Fault::status(500))
            .header("X-Amz-Target", "DescribeServices")
            .after("UpdateService"),
    );
    let call = |action: &str| {
        let target = format!("AmazonEC2ContainerServiceV20141113.{action}");
        send(&proxy.addr(), "POST", "/", &[("X-Amz-Target", target.as_str())], "{}").unwrap()
    };
    assert!(call("DescribeServices").starts_with("HTTP/1.1 200"), "not armed yet");
    assert!(call("UpdateService").starts_with("HTTP/1.1 200"));
    assert!(call("DescribeServices").starts_with("HTTP/1.1 500"), "armed");
    assert!(call("ListTasks").starts_with("HTTP/1.1 200"), "other actions pass");
}
