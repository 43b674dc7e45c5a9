//! End to end against moto: `verify` with every kind of check (ECS cluster/services/containers, IAM roles,
//! CloudWatch Logs groups, ELBv2 target groups through moto's own IAM, Logs and ELBv2), failing ones with
//! their fixes and exit 10, and a hanging IAM endpoint (deadline).
mod common;

use common::*;
use serde_json::{json, Value};
use shipkit_testkit::fault_proxy::{Fault, FaultProxy, Rule};
use shipkit_testkit::{stderr, stdout};
use std::io::{Read, Write};
use std::net::TcpStream;

/// One signed-looking call to moto for another service (the test's own setup; moto routes by the
/// credential scope's service name).
fn moto(service: &str, headers: &[(&str, &str)], body: &str) -> Value {
    let url = moto_url();
    let host = url.trim_start_matches("http://").trim_end_matches('/').to_string();
    let mut s = TcpStream::connect(&host).unwrap();
    let extra: String = headers.iter().flat_map(|(k, v)| [*k, ": ", *v, "\r\n"]).collect();
    let req = format!(
        "POST / HTTP/1.1\r\nHost: {host}\r\n{extra}Authorization: AWS4-HMAC-SHA256 \
         Credential=testing/20260101/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=x\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    assert!(
        resp.starts_with("HTTP/1.1 200") || resp.starts_with("HTTP/1.0 200"),
        "{service}: {resp}"
    );
    let body = resp
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    serde_json::from_str(&body).unwrap_or(Value::String(body))
}

const FORM: (&str, &str) = ("Content-Type", "application/x-www-form-urlencoded");

fn create_role(name: &str) -> String {
    let r = moto(
        "iam",
        &[FORM],
        &format!("Action=CreateRole&Version=2010-05-08&RoleName={name}&AssumeRolePolicyDocument=%7B%7D"),
    );
    let text = r.as_str().unwrap().to_string();
    let start = text.find("<Arn>").unwrap() + 5;
    text[start..start + text[start..].find("</Arn>").unwrap()].to_string()
}

fn create_log_group(name: &str) {
    moto(
        "logs",
        &[
            ("Content-Type", "application/x-amz-json-1.1"),
            ("X-Amz-Target", "Logs_20140328.CreateLogGroup"),
        ],
        &json!({"logGroupName": name}).to_string(),
    );
}

fn create_target_group(name: &str) -> String {
    let vpc = moto(
        "ec2",
        &[FORM],
        "Action=CreateVpc&Version=2016-11-15&CidrBlock=10.0.0.0/16",
    );
    let text = vpc.as_str().unwrap();
    let start = text.find("<vpcId>").unwrap() + 7;
    let vpc_id = &text[start..start + text[start..].find("</vpcId>").unwrap()];
    let r = moto(
        "elasticloadbalancing",
        &[FORM],
        &format!("Action=CreateTargetGroup&Version=2015-12-01&Name={name}&Protocol=HTTP&Port=80&VpcId={vpc_id}"),
    );
    let text = r.as_str().unwrap().to_string();
    let start = text.find("<TargetGroupArn>").unwrap() + 16;
    text[start..start + text[start..].find("</TargetGroupArn>").unwrap()].to_string()
}

/// A cluster with one service using an execution role, a task role, an awslogs group and a target group;
/// its image is on the test registry (pushed unless asked not to).
struct World {
    f: Fixture,
    group: String,
    target_group: String,
    image: String,
}

/// Push a minimal image (an empty config, no layers) to the registry at `addr`; returns its digest.
fn push_image(addr: &str, repo: &str, tag: &str) -> String {
    use shipkit_core::http::{Client, Request};
    let http = Client::new(
        std::time::Duration::from_secs(20),
        shipkit_core::retry::Backoff::default(),
    );
    let config = b"{}".to_vec();
    let config_digest = shipkit_core::registry::sha256_digest(&config);
    let start = http
        .send(
            &Request::new("POST", &format!("http://{addr}/v2/{repo}/blobs/uploads/")),
            |_, _, _| {},
        )
        .unwrap();
    let location = start.header("location").unwrap().to_string();
    let location = if location.starts_with("http") {
        location
    } else {
        format!("http://{addr}{location}")
    };
    let sep = if location.contains('?') { '&' } else { '?' };
    let put = http
        .send(
            &Request::new("PUT", &format!("{location}{sep}digest={config_digest}")).body(config.clone()),
            |_, _, _| {},
        )
        .unwrap();
    assert_eq!(put.status, 201, "{}", put.text());
    let manifest = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": []})
    .to_string();
    let r = http
        .send(
            &Request::new("PUT", &format!("http://{addr}/v2/{repo}/manifests/{tag}"))
                .header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
                .body(manifest.clone()),
            |_, _, _| {},
        )
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text());
    shipkit_core::registry::sha256_digest(manifest.as_bytes())
}

fn world(task_role_exists: bool, group_exists: bool) -> World {
    world_with(task_role_exists, group_exists, true)
}

fn world_with(task_role_exists: bool, group_exists: bool, image_pushed: bool) -> World {
    let id = unique("v");
    let exec = create_role(&format!("{id}-exec"));
    let task = if task_role_exists {
        create_role(&format!("{id}-task"))
    } else {
        format!("arn:aws:iam::123456789012:role/{id}-missing")
    };
    let group = format!("/ecs/{id}");
    if group_exists {
        create_log_group(&group);
    }
    let tg_name: String = id.chars().filter(char::is_ascii_alphanumeric).take(24).collect();
    let target_group = create_target_group(&tg_name);
    let g = group.clone();
    let registry = shipkit_testkit::service("SHIPKIT_TEST_REGISTRY");
    let repo = format!("verify/{}", id.to_ascii_lowercase());
    let image = format!("{registry}/{repo}:1.0.0");
    if image_pushed {
        push_image(&registry, &repo, "1.0.0");
    }
    let img = image.clone();
    let f = Fixture::with_td(1, move |_| {
        json!({"executionRoleArn": exec, "taskRoleArn": task, "containerDefinitions": [{
            "name": "web", "image": img, "memory": 128, "essential": true,
            "portMappings": [{"containerPort": 80}],
            "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": g, "awslogs-region": "us-east-1"}}}]})
    });
    World {
        f,
        group,
        target_group,
        image,
    }
}

/// A second service of the same family behind a load balancer: `target_group` and `container`.
fn service_behind(w: &World, name: &str, target_group: &str, container: &str) {
    call(
        "CreateService",
        &json!({"cluster": w.f.cluster, "serviceName": name, "taskDefinition": format!("{}:1", w.f.services[0]),
               "desiredCount": 1, "launchType": "FARGATE",
               "loadBalancers": [{"targetGroupArn": target_group, "containerName": container, "containerPort": 80}]}),
    );
}

fn lines(o: &std::process::Output) -> Vec<Value> {
    json_out(o)["checks"].as_array().unwrap().clone()
}

fn find<'a>(checks: &'a [Value], check: &str) -> Vec<&'a Value> {
    checks.iter().filter(|c| c["check"] == check).collect()
}

#[test]
fn verify_passes_when_everything_exists() {
    let w = world(true, true);
    service_behind(&w, "lb", &w.target_group, "web");
    let (c, s) = (&w.f.cluster, &w.f.services[0]);
    let o = run(&["verify", "-c", c, "-s", s, "-s", "lb", "--format", "json"]);
    assert_eq!(code(&o), 0, "{}", show(&o));
    let checks = lines(&o);
    assert_eq!(json_out(&o)["status"], "ok");
    for kind in [
        "cluster",
        "service",
        "container",
        "image",
        "execution_role",
        "task_role",
        "log_group",
    ] {
        let found = find(&checks, kind);
        assert!(
            !found.is_empty() && found.iter().all(|c| c["status"] == "ok"),
            "{kind}: {checks:?}"
        );
    }
    assert_eq!(find(&checks, "log_group")[0]["target"], w.group.as_str());
    assert_eq!(find(&checks, "image")[0]["target"], w.image.as_str());
    assert!(
        find(&checks, "image")[0]["detail"]
            .as_str()
            .unwrap()
            .contains("sha256:"),
        "{checks:?}"
    );
    let tg = find(&checks, "target_group");
    assert_eq!(
        (tg.len(), tg[0]["target"].as_str(), tg[0]["status"].as_str()),
        (1, Some(w.target_group.as_str()), Some("ok")),
        "{checks:?}"
    );
    let text = run(&["verify", "-c", c, "-s", s]);
    assert_eq!(code(&text), 0, "{}", show(&text));
    assert!(
        stdout(&text).contains("ok      execution role arn:aws:iam::"),
        "{}",
        stdout(&text)
    );
    assert!(
        stdout(&text).contains("verify: every check passed"),
        "{}",
        stdout(&text)
    );
    println!("{}", stdout(&text));
}

#[test]
fn failed_checks_each_say_a_fix_and_exit_10() {
    let w = world_with(false, false, false);
    let gone = format!("{}x", w.target_group.trim_end_matches(|c: char| c.is_ascii_hexdigit()));
    service_behind(&w, "lb", &gone, "api");
    let (c, s) = (&w.f.cluster, &w.f.services[0]);
    let o = run(&[
        "verify",
        "-c",
        c,
        "-s",
        s,
        "-s",
        "no-such-service",
        "-s",
        "lb",
        "--format",
        "json",
    ]);
    assert_eq!(code(&o), 10, "{}", show(&o));
    let checks = lines(&o);
    let failed: Vec<(&str, &str)> = checks
        .iter()
        .filter(|c| c["status"] == "failed")
        .map(|c| (c["check"].as_str().unwrap(), c["target"].as_str().unwrap()))
        .collect();
    assert!(failed.contains(&("service", "no-such-service")), "{failed:?}");
    assert!(
        failed.iter().any(|(k, t)| *k == "task_role" && t.ends_with("-missing")),
        "{failed:?}"
    );
    assert!(failed.contains(&("log_group", w.group.as_str())), "{failed:?}");
    assert!(failed.contains(&("target_group", gone.as_str())), "{failed:?}");
    assert!(failed.contains(&("image", w.image.as_str())), "not pushed: {failed:?}");
    assert!(
        failed.contains(&("container", "api")),
        "the load balancer's container is not in the task definition: {failed:?}"
    );
    assert_eq!(json_out(&o)["failed"], failed.len());
    assert!(checks
        .iter()
        .filter(|c| c["status"] == "failed")
        .all(|c| c["fix"].as_str().is_some_and(|f| !f.is_empty())));
    assert_eq!(find(&checks, "execution_role")[0]["status"], "ok");
    assert!(stderr(&o).contains("check(s) failed"), "{}", show(&o));

    let bad_container = run(&["verify", "-c", c, "-s", s, "--container", "worker"]);
    assert_eq!(code(&bad_container), 10, "{}", show(&bad_container));
    assert!(
        stdout(&bad_container).contains("failed  container")
            && stdout(&bad_container).contains("`worker` is not in task definition"),
        "{}",
        show(&bad_container)
    );

    let no_cluster = run(&["verify", "-c", &unique("nocluster"), "-s", s]);
    assert_eq!(code(&no_cluster), 10, "{}", show(&no_cluster));
    assert!(stdout(&no_cluster).contains("failed  cluster"), "{}", show(&no_cluster));
    assert_eq!(w.f.revisions(0), 1, "verify registers nothing");
}

#[test]
fn a_hanging_registry_is_not_checked_within_the_deadline() {
    let w = world(true, true);
    let (c, s) = (&w.f.cluster, &w.f.services[0]);
    let registry = shipkit_testkit::service("SHIPKIT_TEST_REGISTRY");
    let proxy = FaultProxy::start(&registry);
    proxy.add(Rule::new(Fault::Hang));
    let image = w.image.replacen(&registry, &proxy.addr(), 1);
    let started = std::time::Instant::now();
    let o = run(&[
        "verify",
        "-c",
        c,
        "-s",
        s,
        "--image",
        &image,
        "--container",
        "web",
        "--call-timeout",
        "3s",
        "--max-attempts",
        "2",
        "--format",
        "json",
    ]);
    let took = started.elapsed();
    assert_eq!(code(&o), 0, "{}", show(&o));
    let checks = lines(&o);
    let img = find(&checks, "image")[0];
    assert_eq!(
        (img["target"].as_str(), img["status"].as_str()),
        (Some(image.as_str()), Some("not_checked")),
        "{checks:?}"
    );
    assert!(took < std::time::Duration::from_secs(30), "took {took:?}");
    println!("verify with a hanging registry took {took:?}: {}", img["detail"]);
}

#[test]
fn a_hanging_iam_endpoint_is_not_checked_within_the_deadline() {
    let w = world(true, true);
    let (c, s) = (&w.f.cluster, &w.f.services[0]);
    let upstream = moto_url()
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let proxy = FaultProxy::start(&upstream);
    proxy.add(Rule::new(Fault::Hang).header("authorization", "/iam/aws4_request"));
    let started = std::time::Instant::now();
    let o = run_at(
        &proxy.url(),
        &[
            "verify",
            "-c",
            c,
            "-s",
            s,
            "--call-timeout",
            "3s",
            "--max-attempts",
            "2",
            "--format",
            "json",
        ],
        &[],
    );
    let took = started.elapsed();
    assert_eq!(
        code(&o),
        0,
        "a role that cannot be looked up is not a failure\n{}",
        show(&o)
    );
    let checks = lines(&o);
    let role = find(&checks, "execution_role")[0];
    assert_eq!(role["status"], "not_checked", "{checks:?}");
    assert!(role["detail"].as_str().unwrap().contains("not checked"), "{role}");
    assert_eq!(find(&checks, "log_group")[0]["status"], "ok");
    assert!(took < std::time::Duration::from_secs(30), "took {took:?}");
    println!("verify with a hanging IAM endpoint took {took:?}");
}
