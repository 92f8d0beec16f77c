#!/usr/bin/env python3
"""Writes the user-policy benchmark of BENCHMARKS.md into a folder: `tree/objects.yaml` (10,000
objects), `none/` (an empty policy), `cel/` (50 CEL rules) and `rego/` (one conftest-style file).

    python3 bench/user-policies.py /tmp/up && cd /tmp/up &&
    /usr/bin/time -f %U openim-gitops check --format json --policy cel tree/objects.yaml >/dev/null
"""
import os
import sys

out = sys.argv[1] if len(sys.argv) > 1 else "user-policies-bench"
os.makedirs(f"{out}/tree", exist_ok=True)
docs = []
for i in range(10000):
    kind = ["Deployment", "Service", "ConfigMap", "StatefulSet"][i % 4]
    if kind in ("Deployment", "StatefulSet"):
        docs.append(f"""apiVersion: apps/v1
kind: {kind}
metadata:
  name: app-{i}
  namespace: ns-{i % 20}
  labels: {{app: app-{i}, team: team-{i % 7}}}
spec:
  replicas: {i % 5 + 1}
  selector:
    matchLabels: {{app: app-{i}}}
  template:
    metadata:
      labels: {{app: app-{i}}}
    spec:
      containers:
        - name: main
          image: registry.example.com/app-{i}:1.{i % 9}.0
          resources:
            requests: {{cpu: 100m, memory: 128Mi}}
            limits: {{cpu: 500m, memory: 256Mi}}
""")
    elif kind == "Service":
        docs.append(f"""apiVersion: v1
kind: Service
metadata:
  name: app-{i}
  namespace: ns-{i % 20}
  labels: {{app: app-{i}}}
spec:
  selector: {{app: app-{i - 1}}}
  ports:
    - {{name: http, port: 80, targetPort: 8080}}
""")
    else:
        docs.append(f"""apiVersion: v1
kind: ConfigMap
metadata:
  name: cfg-{i}
  namespace: ns-{i % 20}
  labels: {{app: cfg-{i}}}
data:
  mode: fast
""")
with open(f"{out}/tree/objects.yaml", "w") as f:
    f.write("---\n".join(docs))

# Rules as a team writes them: each matched to the kinds it is about, and holding for a healthy tree,
# so the figure is the cost of evaluating (a violation costs its report besides). The shapes that
# read the pod template match workloads only: in CEL, `has(object.spec.template)` on an object
# without `spec` is an error ("No such key"), as at the API server.
workloads = "\n    match: {kinds: [Deployment, StatefulSet]}"
shapes = [
    ("object.spec.replicas <= {n}", workloads),
    ("has(object.metadata.labels) && 'app' in object.metadata.labels", ""),
    ("object.metadata.name.size() < 60 + {n}", ""),
    ("object.spec.template.spec.containers.all(c, !c.image.endsWith(':latest'))", workloads),
    ("object.spec.template.spec.containers.all(c, has(c.resources.limits) && quantity(c.resources.limits.memory).isLessThan(quantity('{n}Gi')))", workloads),
]
head = "apiVersion: gitops.openim.io/v1\nkind: Policy\n"
for d in ("none", "cel", "rego"):
    os.makedirs(f"{out}/{d}", exist_ok=True)
    with open(f"{out}/{d}/policy.yaml", "w") as f:
        f.write(head)
with open(f"{out}/cel/policy.yaml", "a") as f:
    f.write("custom:\n")
    for i in range(50):
        e, match = shapes[i % 5]
        e = e.replace("{n}", str(i + 10))
        f.write(f'  - name: rule-{i}\n    expression: "{e}"\n    message: rule {i}{match}\n')
with open(f"{out}/rego/policy.rego", "w") as f:
    f.write('''package main

deny contains msg if {
\tinput.kind == "Deployment"
\tsome c in input.spec.template.spec.containers
\tendswith(c.image, ":latest")
\tmsg := sprintf("%s uses latest", [input.metadata.name])
}

deny contains msg if {
\tnot input.metadata.labels.app
\tinput.kind != "ConfigMap"
\tmsg := sprintf("%s has no app label", [input.metadata.name])
}

warn contains msg if {
\tinput.spec.replicas > 4
\tmsg := sprintf("%s runs %d replicas", [input.metadata.name, input.spec.replicas])
}
''')
