"""Create the sample service's ECS world in a moto server: what would exist in AWS before the first
deploy (clusters, a task definition, two services per environment).

usage: python setup-ecs.py ENDPOINT_URL REGISTRY   (services start on REGISTRY/[production/]sample-service:0.9.0)
"""
import sys

import boto3


def main() -> None:
    endpoint, registry = sys.argv[1], sys.argv[2]
    ecs = boto3.client(
        "ecs",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    for env in ("staging", "production"):
        cluster = f"sample-{env}"
        repo = "sample-service" if env == "staging" else "production/sample-service"
        image = f"{registry}/{repo}:0.9.0"
        ecs.create_cluster(clusterName=cluster)
        for name in ("sample-web", "sample-worker"):
            family = f"{name}-{env}"
            td = ecs.register_task_definition(
                family=family,
                containerDefinitions=[
                    {
                        "name": "app",
                        "image": image,
                        "essential": True,
                        "memory": 64,
                        "environment": [{"name": "APP_ENV", "value": env}],
                        "secrets": [
                            {"name": "DB_PASSWORD", "valueFrom": f"arn:aws:ssm:us-east-1:123456789012:parameter/{env}/db"}
                        ],
                    }
                ],
                executionRoleArn="arn:aws:iam::123456789012:role/sample-execution",
            )["taskDefinition"]
            ecs.create_service(
                cluster=cluster,
                serviceName=name,
                taskDefinition=td["taskDefinitionArn"],
                desiredCount=1,
            )
    print("ecs: clusters sample-staging, sample-production; services sample-web, sample-worker")


if __name__ == "__main__":
    main()
