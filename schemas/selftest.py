#!/usr/bin/env python3
"""Offline self-test of the vendored schemas.

Usage: python3 schemas/selftest.py

Needs only the `jsonschema` PyPI package (4.18 or newer, which brings
`referencing`). Works without network: every document is registered from the
files in this folder and any other reference is an error. Checks that

  * every schema is valid JSON Schema; the vendored ones (kubernetes/, crds/)
    use 2020-12 and have the expected "$id",
  * every "$ref" in every file resolves inside this folder,
  * every index.json lists exactly the schemas beside it, under the
    apiVersion and kind each schema declares; for kubernetes/, every minor's
    index and definitions name stored objects, every object is used, and
    each kind's schema assembles (its object plus the definitions it reaches),

  * small valid objects pass and objects with a type error fail, with the
    error reported at the offending field.

Exits 0 when everything passes, 1 otherwise.
"""

import copy
import json
import os
import sys

try:
    import jsonschema
    from referencing import Registry, Resource
    from referencing.exceptions import NoSuchResource, Unresolvable
    from referencing.jsonschema import DRAFT202012
except ImportError:  # pragma: no cover
    print("selftest needs the jsonschema package (pip install 'jsonschema>=4.18')")
    sys.exit(2)

HERE = os.path.dirname(os.path.abspath(__file__))
ID_BASE = "https://openim-gitops.local/schemas/"
DIALECT = "https://json-schema.org/draft/2020-12/schema"
VENDORED = ("kubernetes/", "crds/")  # other folders hold the project's own schemas

passed = 0
failed = 0


def check(ok, what, detail=""):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print("FAIL %s%s" % (what, (": " + detail) if detail else ""))


def no_network(uri):
    raise NoSuchResource(ref=uri)


def load_tree():
    """{relative path: parsed JSON} for every .json file under this folder."""
    docs = {}
    for root, dirs, files in os.walk(HERE):
        dirs.sort()
        for name in sorted(files):
            if name.endswith(".json"):
                path = os.path.join(root, name)
                rel = os.path.relpath(path, HERE).replace(os.sep, "/")
                with open(path, encoding="utf-8") as f:
                    docs[rel] = json.load(f)
    return docs


def refs_in(node, out):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                out.add(value)
            elif key not in ("enum", "const", "default", "examples"):
                refs_in(value, out)
    elif isinstance(node, list):
        for item in node:
            refs_in(item, out)
    return out


def assemble(objects, index, definitions, version, key):
    """The schema of one kind in one minor, as the tool assembles it."""
    doc = copy.deepcopy(objects[index[key]])
    defs, todo = {}, [r[len("#/$defs/"):] for r in refs_in(doc, set()) if r.startswith("#/$defs/")]
    while todo:
        name = todo.pop()
        if name in defs:
            continue
        check(name in definitions, "kubernetes/v%s: %s reaches the definition %s" % (version, key, name))
        if name not in definitions:
            continue
        defs[name] = copy.deepcopy(objects[definitions[name]])
        todo.extend(r[len("#/$defs/"):] for r in refs_in(defs[name], set()) if r.startswith("#/$defs/"))
    doc["$defs"] = {n: defs[n] for n in sorted(defs)}
    doc["$schema"] = DIALECT
    return doc


def kubernetes_tree(docs):
    """Take kubernetes/ out of docs; return {minor: (index, {key: assembled schema})}."""
    objects = {rel.split("/")[-1][:-len(".json")]: doc for rel, doc in docs.items()
               if rel.startswith("kubernetes/objects/")}
    minors = {}
    used = set()
    for rel in sorted(docs):
        parts = rel.split("/")
        if len(parts) == 3 and parts[0] == "kubernetes" and parts[2] == "index.json":
            version = parts[1][1:]
            index = docs[rel]
            definitions = docs.get("kubernetes/v%s/definitions.json" % version, {})
            for name in list(index.values()) + list(definitions.values()):
                check(name in objects, "kubernetes/v%s names the object %s" % (version, name))
                used.add(name)
            kinds = {}
            for key in sorted(index):
                if index[key] not in objects:
                    continue
                doc = assemble(objects, index, definitions, version, key)
                doc["$id"] = ID_BASE + "kubernetes/v%s/%s" % (version, key.replace("/", "-").replace("|", "-"))
                kinds[key] = doc
            minors[version] = (index, kinds)
    check(used == set(objects), "every object in kubernetes/objects/ is used",
          ", ".join(sorted(set(objects) - used)[:5]))
    for rel in [r for r in docs if r.startswith("kubernetes/")]:
        if not rel.endswith("removed-apis.json"):
            del docs[rel]
    return minors


def main():
    docs = load_tree()
    removed = docs.pop("kubernetes/removed-apis.json", {"removed": []})["removed"]
    minors = kubernetes_tree(docs)
    check(len(minors) >= 2, "several Kubernetes minors vendored", ", ".join(sorted(minors)))
    schemas = {rel: doc for rel, doc in docs.items() if not rel.endswith("index.json")}
    indexes = {rel: doc for rel, doc in docs.items() if rel.endswith("index.json")}
    for version, (index, kinds) in minors.items():
        for key, doc in kinds.items():
            schemas[doc["$id"][len(ID_BASE):]] = doc
        for key in index:
            api_version, _, kind = key.partition("|")
            group, _, ver = api_version.rpartition("/")
            gvks = kinds[key].get("x-kubernetes-group-version-kind", []) if key in kinds else []
            check({"group": group, "kind": kind, "version": ver} in gvks,
                  "kubernetes/v%s: %s declares its kind" % (version, key), json.dumps(gvks))
    newest = max(minors, key=lambda v: tuple(int(p) for p in v.split(".")))
    for rm in removed:
        for version, (index, _) in minors.items():
            if tuple(int(p) for p in version.split(".")) >= tuple(int(p) for p in rm["removedIn"].split(".")):
                check("%s|%s" % (rm["apiVersion"], rm["kind"]) not in index,
                      "removed-apis.json: %s %s is not served by %s" % (rm["apiVersion"], rm["kind"], version))
        if rm.get("replacement"):
            check("%s|%s" % (rm["replacement"], rm["kind"]) in minors[newest][0],
                  "removed-apis.json: the replacement %s %s is served" % (rm["replacement"], rm["kind"]))

    registry = Registry(retrieve=no_network).with_resources(
        (doc.get("$id", ID_BASE + rel), Resource.from_contents(doc, default_specification=DRAFT202012))
        for rel, doc in sorted(schemas.items()))
    registry = registry.crawl()

    # 1. well-formed; the vendored ones with the expected id and dialect
    for rel, doc in sorted(schemas.items()):
        if rel.startswith(VENDORED):
            check(doc.get("$schema") == DIALECT, rel + ": $schema is 2020-12", str(doc.get("$schema")))
            check(doc.get("$id") == ID_BASE + rel, rel + ": $id matches the file", str(doc.get("$id")))
        try:
            jsonschema.Draft202012Validator.check_schema(doc)
            check(True, rel)
        except jsonschema.SchemaError as e:
            check(False, rel + ": valid JSON Schema", e.message)

    # 2. every $ref resolves from this folder alone
    for rel, doc in sorted(schemas.items()):
        resolver = registry.resolver(base_uri=doc.get("$id", ID_BASE + rel))
        bad = []
        for ref in sorted(refs_in(doc, set())):
            try:
                resolver.lookup(ref)
            except Unresolvable as e:
                bad.append("%s (%s)" % (ref, type(e).__name__))
        check(not bad, rel + ": all $refs resolve locally", ", ".join(bad[:5]))

    # 3. indexes
    for rel, index in sorted(indexes.items()):
        folder = os.path.dirname(rel)
        listed = set()
        for key, name in sorted(index.items()):
            path = (folder + "/" if folder else "") + name
            listed.add(path)
            api_version, _, kind = key.partition("|")
            group, _, version = api_version.rpartition("/")
            doc = schemas.get(path)
            check(doc is not None, "%s: %s -> %s exists" % (rel, key, name))
            if doc is not None:
                gvks = doc.get("x-kubernetes-group-version-kind", [])
                check({"group": group, "kind": kind, "version": version} in gvks,
                      "%s: %s declares %s" % (rel, name, key), json.dumps(gvks))
        here = {p for p in schemas if os.path.dirname(p) == folder}
        check(here == listed, rel + ": lists every schema in its folder",
              ", ".join(sorted(here ^ listed)))

    # 4. samples
    def validator(rel):
        doc = schemas[rel]
        return jsonschema.Draft202012Validator(doc, registry=registry)

    def expect_valid(rel, obj, what):
        errors = sorted(validator(rel).iter_errors(obj), key=lambda e: list(e.absolute_path))
        check(not errors, "%s accepts %s" % (rel, what),
              "; ".join("%s: %s" % (list(e.absolute_path), e.message[:200]) for e in errors[:3]))

    def expect_error(rel, obj, path, what):
        errors = list(validator(rel).iter_errors(obj))
        paths = [list(e.absolute_path) for e in errors]
        deepest = [list(e.absolute_path) for e in errors for e in ([e] + list(e.context or []))]
        check(errors and (path in paths or path in deepest),
              "%s rejects %s at %s" % (rel, what, path),
              "errors at %s" % paths if errors else "no error")

    def broken(obj, path, value):
        obj = copy.deepcopy(obj)
        node = obj
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        return obj

    def s(key):
        return minors[newest][1][key]["$id"][len(ID_BASE):]

    def k(key):
        return s(key)

    def c(key):
        return "crds/" + indexes["crds/index.json"][key]

    meta = {"name": "openim-api", "namespace": "openim", "labels": {"app": "openim-api"}}
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta,
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "openim-api"}},
            "template": {
                "metadata": {"labels": {"app": "openim-api"}},
                "spec": {"containers": [{
                    "name": "api", "image": "openim/openim-server:release-v3.8.3",
                    "ports": [{"containerPort": 10002, "name": "http"}],
                    "resources": {"limits": {"cpu": "1", "memory": "512Mi"},
                                  "requests": {"cpu": "100m", "memory": 128}},
                    "env": [{"name": "MODE", "value": "release"}],
                }]},
            },
        },
    }
    expect_valid(s("apps/v1|Deployment"), deployment, "a Deployment")
    expect_error(k("apps/v1|Deployment"), broken(deployment, ["spec", "replicas"], "three"),
                 ["spec", "replicas"], 'replicas: "three"')
    typo = copy.deepcopy(deployment)
    typo["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    expect_error(s("apps/v1|Deployment"), typo, ["spec", "template", "spec", "containers", 0],
                 "an unknown container field (strict)")

    service = {
        "apiVersion": "v1", "kind": "Service", "metadata": meta,
        "spec": {"selector": {"app": "openim-api"}, "type": "ClusterIP",
                 "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]},
    }
    expect_valid(k("v1|Service"), service, "a Service")
    expect_error(k("v1|Service"), broken(service, ["spec", "ports", 0, "port"], "eighty"),
                 ["spec", "ports", 0, "port"], 'port: "eighty"')

    netpol = {
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": meta,
        "spec": {
            "podSelector": {"matchLabels": {"app": "openim-api"}},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {
                "kubernetes.io/metadata.name": "ingress-nginx"}}}],
                "ports": [{"port": 10002, "protocol": "TCP"}]}],
            "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}], "ports": [{"port": "dns"}]}],
        },
    }
    expect_valid(k("networking.k8s.io/v1|NetworkPolicy"), netpol, "a NetworkPolicy")
    expect_error(k("networking.k8s.io/v1|NetworkPolicy"), broken(netpol, ["spec", "podSelector"], "all"),
                 ["spec", "podSelector"], 'podSelector: "all"')

    for key in sorted(minors[newest][0]):
        if key == "v1|Status" or "metadata" not in minors[newest][1][key].get("properties", {}):
            continue  # APIGroup, Status, ...: what the API server answers, never a manifest
        api_version, _, kind = key.partition("|")
        minimal = {"apiVersion": api_version, "kind": kind, "metadata": {"name": "x"}}
        errors = list(validator(k(key)).iter_errors(minimal))
        # some kinds require spec (kubernetes-validate marks it required); nothing else may fail
        check(all(e.validator == "required" and list(e.absolute_path) == [] for e in errors),
              "%s: a bare object fails at most on required top-level fields" % key,
              "; ".join(e.message[:120] for e in errors[:3]))

    external_secret = {
        "apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "metadata": meta,
        "spec": {
            "refreshInterval": "1h",
            "secretStoreRef": {"kind": "ClusterSecretStore", "name": "vault"},
            "target": {"name": "openim-secrets", "creationPolicy": "Owner"},
            "data": [{"secretKey": "mongo-password", "remoteRef": {"key": "openim/mongo", "property": "password"}}],
        },
    }
    expect_valid(c("external-secrets.io/v1|ExternalSecret"), external_secret, "an ExternalSecret")
    expect_error(c("external-secrets.io/v1|ExternalSecret"),
                 broken(external_secret, ["spec", "secretStoreRef"], "vault"),
                 ["spec", "secretStoreRef"], 'secretStoreRef: "vault"')
    expect_error(c("external-secrets.io/v1|ExternalSecret"),
                 broken(external_secret, ["spec", "target", "creationPolicy"], "Sometimes"),
                 ["spec", "target", "creationPolicy"], 'creationPolicy: "Sometimes"')

    store = {
        "apiVersion": "external-secrets.io/v1", "kind": "ClusterSecretStore", "metadata": {"name": "vault"},
        "spec": {"provider": {"vault": {"server": "https://vault.example", "path": "secret", "version": "v2",
                                        "auth": {"kubernetes": {"mountPath": "kubernetes", "role": "openim"}}}}},
    }
    expect_valid(c("external-secrets.io/v1|ClusterSecretStore"), store, "a ClusterSecretStore")
    expect_error(c("external-secrets.io/v1|ClusterSecretStore"),
                 broken(store, ["spec", "provider"], ["vault"]), ["spec", "provider"], "provider: [..]")

    service_monitor = {
        "apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor", "metadata": meta,
        "spec": {"selector": {"matchLabels": {"app": "openim-api"}},
                 "namespaceSelector": {"matchNames": ["openim"]},
                 "endpoints": [{"port": "metrics", "path": "/metrics", "interval": "30s", "targetPort": 9090}]},
    }
    expect_valid(c("monitoring.coreos.com/v1|ServiceMonitor"), service_monitor, "a ServiceMonitor")
    expect_error(c("monitoring.coreos.com/v1|ServiceMonitor"),
                 broken(service_monitor, ["spec", "endpoints"], {"port": "metrics"}),
                 ["spec", "endpoints"], "endpoints: {..}")

    pod_monitor = {
        "apiVersion": "monitoring.coreos.com/v1", "kind": "PodMonitor", "metadata": meta,
        "spec": {"selector": {"matchLabels": {"app": "openim-api"}},
                 "podMetricsEndpoints": [{"port": "metrics", "interval": "30s"}]},
    }
    expect_valid(c("monitoring.coreos.com/v1|PodMonitor"), pod_monitor, "a PodMonitor")

    application = {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
        "metadata": {"name": "openim-release", "namespace": "argocd"},
        "spec": {
            "project": "default",
            "source": {"repoURL": "https://git.example/openim/deploy.git",
                       "targetRevision": "environments/release", "path": "."},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "openim"},
            "syncPolicy": {"automated": {"prune": True, "selfHeal": True},
                           "syncOptions": ["CreateNamespace=true"]},
        },
    }
    expect_valid(c("argoproj.io/v1alpha1|Application"), application, "an Application")
    expect_error(c("argoproj.io/v1alpha1|Application"),
                 broken(application, ["spec", "syncPolicy", "automated", "prune"], "yes"),
                 ["spec", "syncPolicy", "automated", "prune"], 'prune: "yes"')
    no_project = copy.deepcopy(application)
    del no_project["spec"]["project"]
    expect_error(c("argoproj.io/v1alpha1|Application"), no_project, ["spec"], "a missing project")

    appset = {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "ApplicationSet",
        "metadata": {"name": "openim", "namespace": "argocd"},
        "spec": {"generators": [{"list": {"elements": [{"env": "dev"}, {"env": "test"}]}}],
                 "template": {"metadata": {"name": "openim-{{env}}"},
                              "spec": application["spec"]}},
    }
    expect_valid(c("argoproj.io/v1alpha1|ApplicationSet"), appset, "an ApplicationSet")

    sealed = {
        "apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret", "metadata": meta,
        "spec": {"encryptedData": {"password": "AgBy3i4OJSWK+PiTySYZZA=="},
                 "template": {"metadata": {"name": "openim-api"}, "type": "Opaque"}},
    }
    expect_valid(c("bitnami.com/v1alpha1|SealedSecret"), sealed, "a SealedSecret")
    expect_error(c("bitnami.com/v1alpha1|SealedSecret"),
                 broken(sealed, ["spec", "encryptedData"], "AgBy"), ["spec", "encryptedData"],
                 'encryptedData: "AgBy"')

    cluster = {
        "apiVersion": "apps.kubeblocks.io/v1", "kind": "Cluster",
        "metadata": {"name": "openim-mongo", "namespace": "openim"},
        "spec": {
            "clusterDef": "mongodb", "topology": "replicaset", "terminationPolicy": "Delete",
            "componentSpecs": [{
                "name": "mongodb", "serviceVersion": "6.0.16", "replicas": 3,
                "disableExporter": False, "serviceAccountName": "kb-openim-mongo",
                "labels": {"app": "openim-mongo"}, "annotations": {"team": "im"},
                "resources": {"limits": {"cpu": "1", "memory": "2Gi"},
                              "requests": {"cpu": "500m", "memory": "1Gi"}},
                "volumeClaimTemplates": [{"name": "data", "spec": {
                    "storageClassName": "standard", "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": "20Gi"}}}}],
            }],
        },
    }
    expect_valid(c("apps.kubeblocks.io/v1|Cluster"), cluster, "a KubeBlocks Cluster")
    expect_error(c("apps.kubeblocks.io/v1|Cluster"),
                 broken(cluster, ["spec", "componentSpecs", 0, "replicas"], "three"),
                 ["spec", "componentSpecs", 0, "replicas"], 'replicas: "three"')
    expect_error(c("apps.kubeblocks.io/v1|Cluster"),
                 broken(cluster, ["spec", "terminationPolicy"], "Halt"),
                 ["spec", "terminationPolicy"], 'terminationPolicy: "Halt" (v1alpha1 only)')
    expect_error(c("apps.kubeblocks.io/v1|Cluster"),
                 broken(cluster, ["spec", "componentSpecs", 0, "replica"], 3),
                 ["spec", "componentSpecs", 0], "an unknown component field")
    sharded = copy.deepcopy(cluster)
    sharded["spec"]["shardings"] = [{"name": "shard", "shards": 3,
                                     "template": {"componentDef": "mongo-shard", "replicas": 3}}]
    del sharded["spec"]["componentSpecs"]
    expect_valid(c("apps.kubeblocks.io/v1|Cluster"), sharded, "a sharded KubeBlocks Cluster")
    empty = copy.deepcopy(sharded)
    del empty["spec"]["shardings"]
    expect_error(c("apps.kubeblocks.io/v1|Cluster"), empty, ["spec"], "neither componentSpecs nor shardings")

    old_cluster = {
        "apiVersion": "apps.kubeblocks.io/v1alpha1", "kind": "Cluster", "metadata": {"name": "openim-redis"},
        "spec": {"clusterDefinitionRef": "redis", "terminationPolicy": "Halt",
                 "componentSpecs": [{"name": "redis", "componentDefRef": "redis", "replicas": 2,
                                     "volumeClaimTemplates": [{"name": "data", "spec": {
                                         "accessModes": ["ReadWriteOnce"],
                                         "resources": {"requests": {"storage": "1Gi"}}}}]}]},
    }
    expect_valid(c("apps.kubeblocks.io/v1alpha1|Cluster"), old_cluster, "a v1alpha1 KubeBlocks Cluster")
    expect_error(c("apps.kubeblocks.io/v1alpha1|Cluster"),
                 broken(old_cluster, ["spec", "componentSpecs", 0, "replicas"], "two"),
                 ["spec", "componentSpecs", 0, "replicas"], 'replicas: "two"')

    print("selftest: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
