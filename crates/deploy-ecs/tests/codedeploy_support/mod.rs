//! CodeDeploy helpers for the end-to-end tests: raw CodeDeploy calls to moto (the test's own setup and
//! checks) and a `CODE_DEPLOY` service behind a load balancer with its application and deployment group.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use crate::common::{call, moto_url, unique};
use crate::engine_support::control;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;

/// One raw CodeDeploy JSON call to moto (the test's own setup and checks).
pub fn cd(action: &str, body: &Value) -> Value {
    let host = moto_url()
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let body = body.to_string();
    let mut s = TcpStream::connect(&host).expect("moto reachable");
    write!(
        s,
        "POST / HTTP/1.1\r\nHost: {host}\r\nX-Amz-Target: CodeDeploy_20141006.{action}\r\n\
         Content-Type: application/x-amz-json-1.1\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/codedeploy/aws4_request, SignedHeaders=host, Signature=x\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let (head, text) = resp.split_once("\r\n\r\n").unwrap_or((&resp, ""));
    assert!(head.contains(" 200 "), "{action} failed: {resp}");
    serde_json::from_str(text).unwrap_or(Value::Null)
}

/// GetDeployment: the CodeDeploy deployment as moto has it.
pub fn get_deployment(id: &str) -> Value {
    cd("GetDeployment", &json!({"deploymentId": id}))["deploymentInfo"].clone()
}

/// A CODE_DEPLOY service behind a load balancer (container `app`, port 8080), desired 2, with its
/// CodeDeploy application and deployment group (named by the ECS convention unless `names` is false).
pub struct CdService {
    pub cluster: String,
    pub service: String,
}

impl CdService {
    pub fn new(with_codedeploy: bool) -> CdService {
        let cluster = unique("cd");
        call("CreateCluster", &json!({"clusterName": cluster}));
        let service = format!("{cluster}-web");
        call(
            "RegisterTaskDefinition",
            &json!({"family": service, "containerDefinitions": [{"name": "app",
                "image": format!("reg.test/{service}:1.0.0"), "memory": 128, "essential": true,
                "portMappings": [{"containerPort": 8080}]}]}),
        );
        call(
            "CreateService",
            &json!({"cluster": cluster, "serviceName": service, "taskDefinition": format!("{service}:1"),
                "desiredCount": 2, "launchType": "FARGATE", "deploymentController": {"type": "CODE_DEPLOY"},
                "loadBalancers": [{"targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/blue/1",
                                   "containerName": "app", "containerPort": 8080}]}),
        );
        let s = CdService { cluster, service };
        control(
            "/shipkit-test/clock",
            &json!({"cluster": s.cluster, "stageSeconds": 0.1, "minuteSeconds": 0.2}),
        );
        if with_codedeploy {
            s.create_codedeploy(&s.app(), &s.group());
        }
        s
    }

    /// The CodeDeploy application and deployment group of the service.
    pub fn create_codedeploy(&self, app: &str, group: &str) {
        cd(
            "CreateApplication",
            &json!({"applicationName": app, "computePlatform": "ECS"}),
        );
        cd(
            "CreateDeploymentGroup",
            &json!({"applicationName": app, "deploymentGroupName": group,
                "serviceRoleArn": "arn:aws:iam::123456789012:role/codedeploy",
                "deploymentConfigName": "CodeDeployDefault.ECSAllAtOnce",
                "deploymentStyle": {"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"},
                "ecsServices": [{"serviceName": self.service, "clusterName": self.cluster}]}),
        );
    }

    pub fn app(&self) -> String {
        format!("AppECS-{}-{}", self.cluster, self.service)
    }

    pub fn group(&self) -> String {
        format!("DgpECS-{}-{}", self.cluster, self.service)
    }

    pub fn deploy_args(&self, tag: &str, extra: &[&str]) -> Vec<String> {
        let image = format!("reg.test/{}:{tag}", self.service);
        let mut v: Vec<String> = ["deploy", "-c", &self.cluster, "-s", &self.service, "--image", &image]
            .iter()
            .map(std::string::ToString::to_string)
            .collect();
        v.extend(["--format", "json"].iter().map(std::string::ToString::to_string));
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

    /// CodeDeploy's deployments of the group, newest first.
    pub fn deployments(&self) -> Vec<String> {
        let v = cd(
            "ListDeployments",
            &json!({"applicationName": self.app(), "deploymentGroupName": self.group()}),
        );
        v["deployments"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter_map(|d| d.as_str().map(String::from))
            .collect()
    }
}
