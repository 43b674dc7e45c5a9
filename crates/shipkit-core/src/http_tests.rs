//! The client against real local HTTP servers (two of them, on different ports, for origins).
use super::*;
use shipkit_testkit::http_sink::{HttpSink, Reply};
use std::time::Instant;

fn quick(attempts: u32) -> Backoff {
    Backoff {
        attempts,
        initial: Duration::from_millis(10),
        max: Duration::from_millis(50),
    }
}

#[test]
fn cross_origin_redirect_is_followed_without_credentials() {
    let registry = HttpSink::start();
    let storage = HttpSink::start();
    registry.push(Reply::status(307).header("Location", &format!("{}/blob/x?sig=1", storage.url())));
    storage.push(Reply::text(200, "blob bytes"));
    let client = Client::new(Duration::from_secs(5), Backoff::NONE).follow_redirects(3);
    let req = Request::new("GET", &format!("{}/v2/app/blobs/sha256:1", registry.url()))
        .header("Authorization", "Basic c2VjcmV0")
        .header("Cookie", "session=1");
    let resp = client.send_once(&req).unwrap();
    assert_eq!((resp.status, resp.text().as_str()), (200, "blob bytes"));
    let at_registry = registry.requests();
    assert_eq!(at_registry[0].header("authorization"), Some("Basic c2VjcmV0"));
    let at_storage = storage.requests();
    assert_eq!(at_storage.len(), 1);
    assert_eq!(at_storage[0].path, "/blob/x?sig=1");
    assert_eq!(
        at_storage[0].header("authorization"),
        None,
        "credentials leaked to another origin"
    );
    assert_eq!(at_storage[0].header("cookie"), None);
}

#[test]
fn same_origin_redirect_keeps_credentials_and_relative_locations_resolve() {
    let registry = HttpSink::start();
    registry.route("/v2/a", vec![Reply::status(302).header("Location", "/v2/b")], None);
    registry.route("/v2/b", vec![Reply::status(301).header("Location", "c")], None);
    registry.route("/v2/c", vec![Reply::text(200, "here")], None);
    let client = Client::new(Duration::from_secs(5), Backoff::NONE).follow_redirects(5);
    let req = Request::new("GET", &format!("{}/v2/a", registry.url())).header("Authorization", "Bearer t0k3n");
    let resp = client.send_once(&req).unwrap();
    assert_eq!(resp.text(), "here");
    let seen = registry.requests();
    assert_eq!(seen.len(), 3);
    assert!(seen.iter().all(|r| r.header("authorization") == Some("Bearer t0k3n")));
    assert_eq!(seen[2].path, "/v2/c");
}

#[test]
fn redirects_are_not_followed_unless_asked_and_hops_are_bounded() {
    let a = HttpSink::start();
    a.set_default(Reply::status(302).header("Location", "/again"));
    let plain = Client::new(Duration::from_secs(5), Backoff::NONE);
    let r = plain
        .send_once(&Request::new("GET", &format!("{}/x", a.url())))
        .unwrap();
    assert_eq!(r.status, 302);
    let following = plain.clone().follow_redirects(200);
    assert_eq!(following.redirects, 10);
    let r = following
        .send_once(&Request::new("GET", &format!("{}/x", a.url())))
        .unwrap();
    assert_eq!(r.status, 302, "a redirect loop ends after the hop limit");
    assert_eq!(a.requests().len(), 1 + 1 + 10);
}

#[test]
fn post_redirected_by_303_becomes_get_without_body() {
    let a = HttpSink::start();
    let b = HttpSink::start();
    a.push(Reply::status(303).header("Location", &format!("{}/done", b.url())));
    let client = Client::new(Duration::from_secs(5), Backoff::NONE).follow_redirects(1);
    let req = Request::new("POST", &format!("{}/hook", a.url()))
        .header("Authorization", "Bearer xoxb-secret")
        .body("payload");
    client.send_once(&req).unwrap();
    let at_b = b.requests();
    assert_eq!((at_b[0].method.as_str(), at_b[0].body.len()), ("GET", 0));
    assert_eq!(at_b[0].header("authorization"), None);
}

#[test]
fn https_to_http_redirect_is_refused() {
    let current = Request::new("GET", "https://registry.example.test/v2/x").header("Authorization", "Basic x");
    let resp = Response {
        status: 302,
        headers: vec![("location".into(), "http://registry.example.test/v2/x".into())],
        body: vec![],
    };
    let origin = Origin::parse(&current.url);
    let e = redirected(&current, &resp, origin.as_ref()).unwrap_err();
    assert!(e.to_string().contains("refused a redirect from https"), "{e}");
}

#[test]
fn locations_resolve() {
    let base = "http://127.0.0.1:5000/v2/app/blobs/sha256:1?x=1";
    for (loc, want) in [
        ("http://127.0.0.1:6000/s", Some("http://127.0.0.1:6000/s")),
        ("//cdn.example.test/s", Some("http://cdn.example.test/s")),
        ("/other", Some("http://127.0.0.1:5000/other")),
        ("rel?y=2", Some("http://127.0.0.1:5000/v2/app/blobs/rel?y=2")),
        ("", None),
        ("http://bad host/", None),
        ("http://h:99999/", None),
    ] {
        assert_eq!(resolve_location(base, loc).as_deref(), want, "{loc}");
    }
}

#[test]
fn hostile_retry_after_never_panics_and_is_bounded() {
    for value in [
        "inf",
        "1e20",
        "-1",
        "nan",
        "99999999999999999999999",
        "Fri, 31 Dec 9999 23:59:59 GMT",
    ] {
        let server = HttpSink::start();
        server.push(Reply::status(429).header("Retry-After", value));
        server.push(Reply::text(200, "ok"));
        let client = Client::new(Duration::from_secs(5), quick(2));
        let started = Instant::now();
        let mut waits = vec![];
        let r = client
            .send(&Request::new("POST", &format!("{}/hook", server.url())), |_, _, w| {
                waits.push(w);
            })
            .unwrap();
        assert_eq!(r.status, 200, "Retry-After: {value}");
        assert!(
            waits[0] <= Duration::from_millis(50),
            "Retry-After: {value} waited {:?}",
            waits[0]
        );
        assert!(started.elapsed() < Duration::from_secs(3), "Retry-After: {value}");
    }
}

#[test]
fn a_hanging_server_meets_the_deadline() {
    let server = HttpSink::start();
    server.set_default(Reply::Hang);
    let client = Client::new(Duration::from_millis(400), Backoff::NONE);
    let started = Instant::now();
    let e = client
        .send(
            &Request::new("POST", &format!("{}/hook/SECRETPATH", server.url())),
            |_, _, _| {},
        )
        .unwrap_err();
    assert!(e.is_timeout(), "{e}");
    assert!(!e.to_string().contains("SECRETPATH"), "{e}");
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
}

#[test]
fn timeouts_are_bounded() {
    let t = Timeouts::new(Duration::from_secs(u64::MAX));
    assert_eq!(t.total, crate::time::MAX_DURATION);
    assert_eq!(t.connect, Timeouts::CONNECT);
    let t = Timeouts::new(Duration::ZERO);
    assert_eq!(
        (t.total, t.connect),
        (Duration::from_millis(1), Duration::from_millis(1))
    );
}

/// Every 3-piece combination of Location syntax against two bases: no panic, and any result parses.
#[test]
fn location_syntax_combinations_never_panic() {
    const PIECES: [&str; 14] = [
        "http",
        "https",
        "://",
        "//",
        "/",
        "..",
        "?",
        "#",
        "h.example",
        ":",
        "99999",
        "@",
        " ",
        "",
    ];
    let n = PIECES.len();
    for base in ["http://127.0.0.1:5000/v2/a/b", "https://r.example.test"] {
        for i in 0..n.pow(3) {
            let loc: String = (0..3).map(|k| PIECES[(i / n.pow(k)) % n]).collect();
            if let Some(url) = resolve_location(base, &loc) {
                assert!(url.contains("://"), "{base} + {loc:?} -> {url}");
            }
        }
    }
}
