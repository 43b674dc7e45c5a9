//! Helpers for the deployment-engine tests: services with a deploymentConfiguration (strategy, bake
//! time, hooks, alarms) on the moto server patched by tests/fixtures/ecs_engine.py, its test controls
//! (per-cluster clock, CloudWatch alarm states), and the real binary run in the background.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use crate::common::{call, moto_url, unique};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

/// DescribeServiceDeployments of one ARN: the service deployment as moto has it.
pub fn describe_service_deployment(arn: &str) -> Value {
    let v = call("DescribeServiceDeployments", &json!({"serviceDeploymentArns": [arn]}));
    v["serviceDeployments"][0].clone()
}

/// POST a test control (`/shipkit-test/clock`, `/shipkit-test/alarm`) to the moto server.
pub fn control(path: &str, body: &Value) {
    let host = moto_url()
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let body = body.to_string();
    let mut s = TcpStream::connect(&host).expect("moto reachable");
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    assert!(
        resp.starts_with("HTTP/1.1 200") || resp.starts_with("HTTP/1.0 200"),
        "the moto server lacks the ecs_engine test controls (restart it with scripts/test-services): {resp}"
    );
}

/// Set a CloudWatch alarm's state as ECS sees it.
pub fn alarm(name: &str, state: &str) {
    control("/shipkit-test/alarm", &json!({"name": name, "state": state}));
}

/// One service with a deployment configuration, desired 2, image `reg.test/<family>:1.0.0`.
pub struct EngineService {
    pub cluster: String,
    pub service: String,
}

impl EngineService {
    /// `prefix` names the cluster (`legacy…`/`noperm…` change what moto answers).
    pub fn new(prefix: &str, config: Value) -> EngineService {
        let cluster = unique(prefix);
        call("CreateCluster", &json!({"clusterName": cluster}));
        let service = format!("{cluster}-web");
        call(
            "RegisterTaskDefinition",
            &json!({"family": service, "containerDefinitions": [{"name": "app",
                "image": format!("reg.test/{service}:1.0.0"), "memory": 128, "essential": true}]}),
        );
        let mut create = json!({"cluster": cluster, "serviceName": service,
            "taskDefinition": format!("{service}:1"), "desiredCount": 2, "launchType": "FARGATE"});
        if !config.is_null() {
            create["deploymentConfiguration"] = config;
        }
        call("CreateService", &create);
        let s = EngineService { cluster, service };
        // Fast stages; a bake-time "minute" of 0.2 s unless a test says otherwise.
        s.clock(0.15, 0.2);
        s
    }

    pub fn clock(&self, stage_seconds: f64, minute_seconds: f64) {
        control(
            "/shipkit-test/clock",
            &json!({"cluster": self.cluster, "stageSeconds": stage_seconds, "minuteSeconds": minute_seconds}),
        );
    }

    pub fn image(&self, tag: &str) -> String {
        format!("reg.test/{}:{tag}", self.service)
    }

    /// `deploy -c C -s S --image IMAGE --format json` plus `extra`.
    pub fn deploy_args(&self, tag: &str, extra: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = [
            "deploy",
            "-c",
            &self.cluster,
            "-s",
            &self.service,
            "--image",
            &self.image(tag),
        ]
        .iter()
        .map(std::string::ToString::to_string)
        .collect();
        v.extend(["--format".to_string(), "json".to_string()]);
        v.extend(extra.iter().map(std::string::ToString::to_string));
        v
    }

    pub fn current_td(&self) -> String {
        let v = call(
            "DescribeServices",
            &json!({"cluster": self.cluster, "services": [self.service]}),
        );
        v["services"][0]["taskDefinition"].as_str().unwrap().to_string()
    }

    /// ListServiceDeployments, newest first.
    pub fn deployments(&self) -> Vec<Value> {
        let v = call(
            "ListServiceDeployments",
            &json!({"cluster": self.cluster, "service": self.service}),
        );
        v["serviceDeployments"].as_array().cloned().unwrap_or_default()
    }

    /// Poll (every 50 ms, up to 30 s) until the newest deployment is in `stage` (or any stage when None)
    /// with status IN_PROGRESS; its ARN.
    pub fn wait_for_stage(&self, stage: Option<&str>) -> String {
        for _ in 0..600 {
            if let Some(d) = self.deployments().first() {
                if d["status"] == "IN_PROGRESS" {
                    let arn = d["serviceDeploymentArn"].as_str().unwrap().to_string();
                    let full = describe_service_deployment(&arn);
                    if stage.is_none_or(|s| full["lifecycleStage"] == s) {
                        return arn;
                    }
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("no deployment of {} reached {stage:?}", self.service);
    }
}

/// The real binary in the background, with the same test environment as `common::run_at`.
pub fn spawn(args: &[String], env: &[(&str, &str)]) -> Child {
    let dir = tempfile::tempdir().unwrap().keep();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_deploy-ecs"));
    cmd.args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(crate::common::base_env(&moto_url()))
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd.spawn().expect("start deploy-ecs")
}

/// Run the binary (foreground) with `args`.
pub fn run_args(args: &[String]) -> std::process::Output {
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    crate::common::run(&refs)
}
