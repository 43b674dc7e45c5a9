"""Print, as JSON, every shell script in the CI templates given on the command line:
[{"file", "where", "shell", "script"}]. Used by tests/tests/templates.rs to check that inputs reach
scripts only through the environment and to run shellcheck on each script.

GitHub (action.yml, workflows): steps[].run with their shell. CircleCI: every run step's command.
GitLab: each job's before_script/script/after_script items joined (`!reference` items are skipped; the
referenced scripts are checked where they are defined).
"""
import json
import sys

from ruamel.yaml import YAML


def load(path):
    yaml = YAML(typ="rt")
    with open(path) as f:
        return yaml.load(f)


def github(path, doc, out):
    if "runs" in doc:
        steps = [("runs", doc["runs"].get("steps") or [])]
    else:
        steps = [(f"jobs.{name}", job.get("steps") or []) for name, job in (doc.get("jobs") or {}).items()]
    for where, lst in steps:
        for i, step in enumerate(lst):
            if "run" in step:
                shell = step.get("shell", "bash")
                out.append({"file": path, "where": f"{where}.steps[{i}]", "shell": shell, "script": str(step["run"])})


def circleci(path, node, where, out):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "run":
                cmd = v.get("command") if isinstance(v, dict) else v
                if isinstance(cmd, str):
                    out.append({"file": path, "where": where, "shell": "bash", "script": cmd})
            else:
                circleci(path, v, f"{where}.{k}", out)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            circleci(path, v, f"{where}[{i}]", out)


def gitlab(path, doc, out):
    for name, job in doc.items():
        if not isinstance(job, dict):
            continue
        for key in ("before_script", "script", "after_script"):
            items = job.get(key)
            if items is None or getattr(items, "tag", None) is not None and str(items.tag.value or "").startswith("!"):
                continue
            if isinstance(items, str):
                items = [items]
            lines = [str(x) for x in items if isinstance(x, str)]
            if lines:
                out.append({"file": path, "where": f"{name}.{key}", "shell": "sh", "script": "\n".join(lines)})


def main():
    out = []
    for path in sys.argv[1:]:
        doc = load(path)
        p = "/" + path.replace("\\", "/")
        if "/github/" in p or "/.github/" in p:
            github(path, doc, out)
        elif "/circleci/" in p or "/.circleci/" in p:
            circleci(path, doc, "", out)
        elif "/gitlab/" in p or p.endswith(".gitlab-ci.yml"):
            gitlab(path, doc, out)
        else:
            raise SystemExit(f"unknown template kind: {path}")
    json.dump(out, sys.stdout)


main()
