#!/usr/bin/env python3
"""Regenerate the vendored JSON schemas under schemas/ (see README.md).

Usage: python3 schemas/refresh.py [--keep-temp] [--kubernetes-only]

Needs python3 (stdlib only), pip and npm. Downloads pinned package versions
from PyPI and npm into a temporary directory, then rewrites:

  kubernetes/objects/         content-addressed pieces of the Kubernetes schemas
                              (every kind's own schema and every definition,
                              unknown fields rejected, descriptions dropped)
  kubernetes/v<MINOR>/        per Kubernetes minor: index.json (kind -> object)
                              and definitions.json (definition -> object)
  crds/                       generated CRD schemas + index.json

Hand-written files in crds/ (those whose "$comment" starts with
"HAND-WRITTEN") keep everything written by hand; refresh.py only refills the
"io.k8s.*" entries of their "$defs" (the Kubernetes types they reference),
rewrites them in the common formatting and lists them in crds/index.json.

The output is deterministic: same pins in, byte-identical files out.
"""

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile

# ---------------------------------------------------------------- pins ---

KUBERNETES_VALIDATE = "1.37.0"  # PyPI; ships schemas per Kubernetes minor
# Directories v<version>-local-strict inside it that we vendor, oldest first. The newest is the
# default of `--kube-version`, and its definitions are bundled into the generated CRD schemas.
K8S_VERSIONS = [
    "1.25.0", "1.26.0", "1.27.0", "1.28.0", "1.29.0", "1.30.0", "1.31.0",
    "1.32.0", "1.33.0", "1.34.0", "1.35.0", "1.36.0", "1.37.0",
]
K8S_VERSION = K8S_VERSIONS[-1]

NPM_PACKAGES = {
    "@kubernetes-models/argo-cd": "4.0.0",
    "@kubernetes-models/external-secrets": "2.0.0",
    "@kubernetes-models/prometheus-operator": "6.0.0",
    "@kubernetes-models/sealed-secrets": "6.0.0",
}

# Base of every "$id": the id of a file is this base plus its path below
# schemas/. Nothing is ever fetched from it: an id only names a file, and
# every "$ref" in a vendored file points inside the same file.
ID_BASE = "https://openim-gitops.local/schemas/"
DIALECT = "https://json-schema.org/draft/2020-12/schema"

# (npm package, directory of the .d.ts inside it, apiVersion, kind)
CRD_KINDS = [
    ("@kubernetes-models/argo-cd", "argoproj.io/v1alpha1", "argoproj.io/v1alpha1", "Application"),
    ("@kubernetes-models/argo-cd", "argoproj.io/v1alpha1", "argoproj.io/v1alpha1", "ApplicationSet"),
    ("@kubernetes-models/argo-cd", "argoproj.io/v1alpha1", "argoproj.io/v1alpha1", "AppProject"),
    ("@kubernetes-models/external-secrets", "external-secrets.io/v1", "external-secrets.io/v1", "ClusterSecretStore"),
    ("@kubernetes-models/external-secrets", "external-secrets.io/v1", "external-secrets.io/v1", "ExternalSecret"),
    ("@kubernetes-models/external-secrets", "external-secrets.io/v1", "external-secrets.io/v1", "SecretStore"),
    ("@kubernetes-models/prometheus-operator", "monitoring.coreos.com/v1", "monitoring.coreos.com/v1", "PodMonitor"),
    ("@kubernetes-models/prometheus-operator", "monitoring.coreos.com/v1", "monitoring.coreos.com/v1", "ServiceMonitor"),
    ("@kubernetes-models/sealed-secrets", "bitnami.com/v1alpha1", "bitnami.com/v1alpha1", "SealedSecret"),
]

HANDWRITTEN_MARK = "HAND-WRITTEN"
# Converted by the tool itself from an upstream CRD under crds/upstream/ (tests/vendored_crds.rs):
# kept as they are and listed in the index.
FROM_CRD_MARK = "GENERATED-FROM-CRD"


# ------------------------------------------------------------- helpers ---

def split_api_version(api_version):
    if "/" in api_version:
        group, version = api_version.split("/", 1)
    else:
        group, version = "", api_version
    return group, version


def file_name(api_version, kind):
    group, version = split_api_version(api_version)
    return "%s-%s-%s.json" % (kind.lower(), group or "core", version)


def dump(obj):
    return json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(dump(obj))


def walk_refs(node, fn):
    """Call fn(ref) on every "$ref" value; replace it by the result."""
    if isinstance(node, dict):
        for key in list(node):
            if key == "$ref" and isinstance(node[key], str):
                node[key] = fn(node[key])
            else:
                walk_refs(node[key], fn)
    elif isinstance(node, list):
        for item in node:
            walk_refs(item, fn)


def local_ref_names(node):
    """Names X of every "#/$defs/X" reference in node."""
    found = []

    def visit(ref):
        if not ref.startswith("#/$defs/"):
            raise SystemExit("unexpected $ref %r" % ref)
        found.append(ref[len("#/$defs/"):])
        return ref

    walk_refs(node, visit)
    return found


def closure(roots, defs):
    """Names of every definition reachable from the schemas in roots."""
    seen = set()
    todo = []
    for root in roots:
        todo.extend(local_ref_names(root))
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        if name not in defs:
            raise SystemExit("dangling reference to %s" % name)
        seen.add(name)
        todo.extend(local_ref_names(defs[name]))
    return seen


def run(cmd, cwd):
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL)


# ---------------------------------------------------------- downloads ---

def fetch_kubernetes_validate(tmp):
    dest = os.path.join(tmp, "pypi")
    os.makedirs(dest)
    cmd = ["download", "--quiet", "--no-deps", "--only-binary=:all:",
           "--dest", dest, "kubernetes-validate==" + KUBERNETES_VALIDATE]
    try:
        run([sys.executable, "-m", "pip"] + cmd, tmp)
    except (subprocess.CalledProcessError, OSError):
        venv = os.path.join(tmp, "venv")
        run([sys.executable, "-m", "venv", venv], tmp)
        run([os.path.join(venv, "bin", "pip")] + cmd, tmp)
    wheels = [n for n in os.listdir(dest) if n.endswith(".whl")]
    if len(wheels) != 1:
        raise SystemExit("expected one wheel, got %r" % wheels)
    return zipfile.ZipFile(os.path.join(dest, wheels[0]))


def fetch_npm(tmp):
    """npm pack every pinned package; return {name: {path: text}}."""
    dest = os.path.join(tmp, "npm")
    os.makedirs(dest)
    out = {}
    for name, version in sorted(NPM_PACKAGES.items()):
        before = set(os.listdir(dest))
        run(["npm", "pack", "--silent", "%s@%s" % (name, version)], dest)
        tgz = sorted(set(os.listdir(dest)) - before)
        if len(tgz) != 1:
            raise SystemExit("npm pack %s gave %r" % (name, tgz))
        files = {}
        with tarfile.open(os.path.join(dest, tgz[0])) as tar:
            for member in tar.getmembers():
                if member.isfile() and member.name.endswith(".d.ts"):
                    rel = member.name.split("/", 1)[1]  # drop "package/"
                    files[rel] = tar.extractfile(member).read().decode("utf-8")
            manifest = json.load(tar.extractfile("package/package.json"))
        if manifest["version"] != version:
            raise SystemExit("%s: got version %s" % (name, manifest["version"]))
        out[name] = files
    return out


# --------------------------------------------------------- kubernetes ---
# Every kind a Kubernetes minor serves (its strict schema: unknown fields rejected), stored once per
# distinct content: kubernetes/objects/<hash>.json holds one kind's own schema or one definition,
# with every "$ref" a "#/$defs/<name>" and every "description" dropped (nothing reads them, and they
# are most of what changes between minors). Per minor, kubernetes/v<minor>/index.json maps
# "<apiVersion>|<Kind>" and definitions.json maps each definition name to its object. The tool
# assembles a kind's schema for a minor from its object plus the definitions it reaches.

SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
SCHEMA_VALUES = ("enum", "const", "default", "examples", "example")


def drop_descriptions(node):
    """node without "description" keywords (a property named "description" stays)."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "description":
                continue
            if key in SCHEMA_MAPS and isinstance(value, dict):
                out[key] = {k: drop_descriptions(v) for k, v in value.items()}
            elif key in SCHEMA_VALUES:
                out[key] = value
            else:
                out[key] = drop_descriptions(value)
        return out
    if isinstance(node, list):
        return [drop_descriptions(item) for item in node]
    return node


def minor(version):
    return ".".join(version.split(".")[:2])


def object_name(obj):
    return hashlib.sha256(dump(obj).encode("utf-8")).hexdigest()[:16]


def kubernetes_schemas(wheel, version):
    """({object name: object}, index, definitions) of one Kubernetes version."""
    base = "kubernetes_validate/kubernetes-json-schema/v%s-local-strict/" % version
    names = wheel.namelist()
    if base + "_definitions.json" not in names:
        raise SystemExit("kubernetes-validate %s has no %s" % (KUBERNETES_VALIDATE, base))

    def rewrite(ref):
        prefix = "/api/_definitions.json#/$defs/"
        if ref.startswith("#/$defs/"):
            return ref
        if not ref.startswith(prefix):
            raise SystemExit("unexpected $ref %r" % ref)
        return "#/$defs/" + ref[len(prefix):]

    defs = json.loads(wheel.read(base + "_definitions.json"))["$defs"]
    objects, index, definitions = {}, {}, {}
    for name in sorted(defs):
        obj = drop_descriptions(defs[name])
        walk_refs(obj, rewrite)
        key = object_name(obj)
        objects[key] = obj
        definitions[name] = key
    for path in sorted(names):
        if not path.startswith(base) or not path.endswith(".json") or path.endswith("/_definitions.json"):
            continue
        schema = json.loads(wheel.read(path))
        gvks = schema.get("x-kubernetes-group-version-kind") or []
        # a kind's own file declares exactly its kind; lists are read item by item, never as a kind
        if len(gvks) != 1 or gvks[0]["kind"].endswith("List"):
            continue
        gvk = gvks[0]
        api_version = (gvk["group"] + "/" if gvk["group"] else "") + gvk["version"]
        schema = drop_descriptions(schema)
        for k in ("$schema", "$id"):
            schema.pop(k, None)
        walk_refs(schema, rewrite)
        for n in local_ref_names(schema):
            if n not in defs:
                raise SystemExit("%s: dangling reference to %s" % (path, n))
        key = "%s|%s" % (api_version, gvk["kind"])
        if key in index:
            raise SystemExit("%s %s: two files declare it" % (version, key))
        obj_key = object_name(schema)
        objects[obj_key] = schema
        index[key] = obj_key
    return objects, index, definitions


# ----------------------------------------------- TypeScript declarations ---
# kubernetes-models generates one .d.ts per type: an interface (or a type
# alias) with JSDoc comments, exported again under a long, unique name.
# The parser below reads exactly that generated subset of TypeScript.

TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<doc>/\*.*?\*/)
  | (?P<line>//[^\n]*)
  | (?P<str>"(?:\\.|[^"\\])*")
  | (?P<num>-?\d+(?:\.\d+)?)
  | (?P<id>[A-Za-z_$][\w$]*)
  | (?P<p>[{}()<>\[\];:?|,=.*&])
""", re.S | re.X)


def tokenize(text):
    tokens, pos = [], 0
    while pos < len(text):
        m = TOKEN.match(text, pos)
        if not m:
            raise SystemExit("cannot tokenize near %r" % text[pos:pos + 40])
        pos = m.end()
        kind = m.lastgroup
        if kind in ("ws", "line"):
            continue
        tokens.append((kind, m.group()))
    return tokens


def doc_text(comment):
    body = comment[3:-2] if comment.startswith("/**") else comment[2:-2]
    lines = []
    for line in body.split("\n"):
        line = line.strip()
        if line.startswith("*"):
            line = line[1:]
            if line.startswith(" "):
                line = line[1:]
        lines.append(line.rstrip())
    return "\n".join(lines).strip()


class Parser:
    def __init__(self, text, where):
        self.toks = tokenize(text)
        self.i = 0
        self.where = where

    def fail(self, msg):
        ctx = " ".join(t[1] for t in self.toks[self.i:self.i + 12])
        raise SystemExit("%s: %s near: %s" % (self.where, msg, ctx))

    def peek(self, skip_docs=True):
        j = self.i
        while skip_docs and j < len(self.toks) and self.toks[j][0] == "doc":
            j += 1
        return self.toks[j] if j < len(self.toks) else (None, None)

    def take_doc(self):
        doc = None
        while self.i < len(self.toks) and self.toks[self.i][0] == "doc":
            doc = doc_text(self.toks[self.i][1])
            self.i += 1
        return doc

    def next(self):
        self.take_doc()
        if self.i >= len(self.toks):
            self.fail("unexpected end")
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def expect(self, value):
        tok = self.next()
        if tok[1] != value:
            self.i -= 1
            self.fail("expected %r" % value)
        return tok

    def skip_to(self, value):
        depth = 0
        while True:
            tok = self.next()
            if tok[1] in ("{", "(", "<", "["):
                depth += 1
            elif tok[1] in ("}", ")", ">", "]"):
                depth -= 1
            if tok[1] == value and depth <= 0:
                return

    def skip_block(self):
        while self.next()[1] != "{":
            pass
        depth = 1
        while depth:
            tok = self.next()
            if tok[1] == "{":
                depth += 1
            elif tok[1] == "}":
                depth -= 1

    # type := ['|'] term ('|' term)* ; term := primary ('[' ']')*
    def type_expr(self):
        if self.peek()[1] == "|":
            self.next()
        alts = [self.term()]
        while self.peek()[1] == "|":
            self.next()
            alts.append(self.term())
        return alts[0] if len(alts) == 1 else ("union", alts)

    def term(self):
        t = self.primary()
        while self.peek()[1] == "[":
            self.next()
            self.expect("]")
            t = ("array", t)
        return t

    def primary(self):
        kind, value = self.next()
        if kind == "str":
            return ("lit", json.loads(value))
        if kind == "num":
            return ("lit", json.loads(value))
        if value == "(":
            t = self.type_expr()
            self.expect(")")
            return t
        if value == "{":
            return self.object_body()
        if kind == "id":
            if value in ("true", "false"):
                return ("lit", value == "true")
            if self.peek()[1] == "<":
                self.next()
                args = [self.type_expr()]
                while self.peek()[1] == ",":
                    self.next()
                    args.append(self.type_expr())
                self.expect(">")
                if value in ("Array", "ReadonlyArray") and len(args) == 1:
                    return ("array", args[0])
                if value == "Record" and len(args) == 2:
                    return ("map", args[1])
                self.fail("unsupported generic %s" % value)
            return ("name", value)
        self.i -= 1
        self.fail("unexpected token")

    def object_body(self):
        """After '{': members up to '}'. Returns ("object", members, index)."""
        members, index = [], None
        while True:
            doc = self.take_doc()
            kind, value = self.next()
            if value == "}":
                return ("object", members, index)
            if value == "[":  # [key: string]: T;
                self.next()
                self.expect(":")
                self.next()
                self.expect("]")
                self.expect(":")
                index = self.type_expr()
            elif kind in ("str", "id"):
                name = json.loads(value) if kind == "str" else value
                optional = False
                if self.peek()[1] == "?":
                    self.next()
                    optional = True
                self.expect(":")
                members.append((name, optional, self.type_expr(), doc))
            else:
                self.i -= 1
                self.fail("unexpected member")
            if self.peek()[1] in (";", ","):
                self.next()

    def module(self):
        """Top-level declarations of one .d.ts file."""
        decls, aliases = [], {}
        while self.peek()[0] is not None:
            doc = self.take_doc()
            kind, value = self.next()
            if value == "import":
                self.skip_to(";")
                continue
            if value != "export":
                self.i -= 1
                self.fail("unexpected top-level token")
            _, what = self.next()
            if what == "interface":
                _, name = self.next()
                bases = []
                if self.peek()[1] == "extends":
                    self.next()
                    while True:
                        bases.append(self.next()[1])
                        if self.peek()[1] == ",":
                            self.next()
                            continue
                        break
                self.expect("{")
                decls.append(("interface", name, bases, self.object_body(), doc))
            elif what == "type" and self.peek()[1] == "{":
                self.next()
                while True:
                    _, local = self.next()
                    self.expect("as")
                    _, exported = self.next()
                    aliases[local] = exported
                    if self.next()[1] == "}":
                        break
                self.expect(";")
            elif what == "type":
                _, name = self.next()
                self.expect("=")
                decls.append(("alias", name, [], self.type_expr(), doc))
                self.expect(";")
            elif what == "declare":
                _, sub = self.next()
                if sub == "class":
                    self.skip_block()
                else:
                    self.skip_to(";")
            elif what in ("{", "*"):
                self.skip_to(";")
            else:
                self.i -= 1
                self.fail("unsupported export")
        return decls, aliases


class Declarations:
    """Every type of one npm package, addressable by its exported names."""

    def __init__(self, package, files, k8s_defs):
        self.package = package
        self.k8s = {}
        for name in k8s_defs:  # io.k8s.api.core.v1.Container -> IIoK8sApiCoreV1Container
            ts = "I" + "".join(p[:1].upper() + p[1:] for p in re.split(r"[.-]", name))
            self.k8s[ts] = name
        self.decls = {}  # def name -> (kind, bases, body, doc, file)
        self.by_ts = {}  # exported or local TypeScript name -> def name
        for path in sorted(files):
            if path.endswith("index.d.ts") or path.startswith("_"):
                continue
            decls, aliases = Parser(files[path], package + "/" + path).module()
            folder = os.path.dirname(path)
            local = {d[1] for d in decls}
            synonyms = {}  # export type X = IX;
            for kind, name, bases, body, doc in decls:
                if kind == "alias" and body[0] == "name" and body[1] in local:
                    synonyms[name] = body[1]
            decls = [d for d in decls if d[1] not in synonyms]
            here = {}  # names declared in this file -> def name
            for kind, name, bases, body, doc in decls:
                short = name[1:] if re.match(r"I[A-Z]", name) else name
                here[name] = (folder.replace("/", ".") + "." + short) if folder else short
            for name, target in synonyms.items():
                here[name] = here[target]
            for kind, name, bases, body, doc in decls:
                def_name = here[name]
                if def_name in self.decls:
                    raise SystemExit("duplicate type %s" % def_name)
                body = bind_local(body, here)
                bases = [("def", here[b]) if b in here else ("name", b) for b in bases]
                self.decls[def_name] = (kind, bases, body, doc, path)
            for name, exported in aliases.items():
                if name not in here:  # a class: same shape as its interface
                    continue
                if self.by_ts.get(exported, here[name]) != here[name]:
                    raise SystemExit("ambiguous TypeScript name %s" % exported)
                self.by_ts[exported] = here[name]
        self.out = {}  # def name -> JSON schema (built on demand)

    def resolve(self, ts_name):
        if ts_name in self.by_ts:
            return ("def", self.by_ts[ts_name])
        if ts_name in self.k8s:
            return ("k8s", self.k8s[ts_name])
        raise SystemExit("%s: unknown type %s" % (self.package, ts_name))

    def schema_of(self, t):
        tag = t[0]
        if tag == "def":
            return self.def_ref(t[1])
        if tag == "name":
            name = t[1]
            if name == "string":
                return {"type": "string"}
            if name == "number":
                return {"type": "number"}
            if name == "boolean":
                return {"type": "boolean"}
            if name == "null":
                return {"type": "null"}
            if name in ("any", "unknown"):
                return {}
            if name == "object":
                return {"type": "object"}
            where, target = self.resolve(name)
            if where == "k8s":
                return {"$ref": "#/$defs/" + target}
            return self.def_ref(target)
        if tag == "lit":
            return {"enum": [t[1]], "type": json_type(t[1])}
        if tag == "array":
            return {"type": "array", "items": self.schema_of(t[1])}
        if tag == "map":
            return {"type": "object", "additionalProperties": self.schema_of(t[1])}
        if tag == "object":
            return self.object_schema([], t)
        if tag == "union":
            alts = [self.schema_of(a) for a in t[1]]
            if all(set(a) <= {"enum", "type"} and "enum" in a for a in alts):
                values = [v for a in alts for v in a["enum"]]
                types = sorted({json_type(v) for v in values})
                return {"enum": values, "type": types[0] if len(types) == 1 else types}
            if all(set(a) == {"type"} and isinstance(a["type"], str) for a in alts):
                return {"type": sorted({a["type"] for a in alts})}
            return {"anyOf": alts}
        raise SystemExit("unsupported type %r" % (t,))

    def def_ref(self, target):
        kind, _, body, doc, _ = self.decls[target]
        if kind == "alias" and self.is_simple(body):
            s = self.schema_of(body)  # inline enums and plain string aliases
            if doc and "description" not in s:
                s["description"] = doc
            return s
        self.build(target)
        return {"$ref": "#/$defs/" + target}

    def is_simple(self, t):
        if t[0] == "name":
            return t[1] in ("string", "number", "boolean")
        if t[0] == "lit":
            return True
        if t[0] == "union":
            return all(self.is_simple(a) for a in t[1])
        return False

    def members_of(self, bases, body):
        """Members of an interface body plus those of every base interface."""
        merged, order = {}, []
        for base in bases:
            if base == ("name", "TypeMeta"):  # apiVersion and kind: declared below
                continue
            target = base[1] if base[0] == "def" else self.resolve(base[1])[1]
            if target not in self.decls:
                raise SystemExit("%s extends %s" % (self.package, base[1]))
            kind, sub_bases, sub_body, _, _ = self.decls[target]
            if kind != "interface":
                raise SystemExit("%s extends non-interface %s" % (self.package, base))
            for m in self.members_of(sub_bases, sub_body):
                if m[0] not in merged:
                    order.append(m[0])
                merged[m[0]] = m
        for m in body[1]:
            if m[0] not in merged:
                order.append(m[0])
            merged[m[0]] = m
        return [merged[n] for n in order]

    def object_schema(self, bases, body, doc=None):
        schema = {"type": "object"}
        if doc:
            schema["description"] = doc
        props, required = {}, []
        for name, optional, t, mdoc in self.members_of(bases, body):
            s = self.schema_of(t)
            if optional:
                s = nullable(s)
            else:
                required.append(name)
            if mdoc:
                s["description"] = mdoc
            props[name] = s
        if props:
            schema["properties"] = props
        if required:
            schema["required"] = sorted(required)
        if body[2] is not None:
            schema["additionalProperties"] = self.schema_of(body[2])
        return schema

    def build(self, def_name):
        if def_name in self.out:
            return
        self.out[def_name] = None  # placeholder: recursion stops here
        kind, bases, body, doc, _ = self.decls[def_name]
        if kind == "interface":
            s = self.object_schema(bases, body, doc)
        else:
            s = self.schema_of(body)
            if doc and "description" not in s:
                s["description"] = doc
        self.out[def_name] = nullable(s)


def bind_local(t, here):
    """Replace references to names declared in the same file by ("def", name)."""
    tag = t[0]
    if tag == "name":
        return ("def", here[t[1]]) if t[1] in here else t
    if tag in ("array", "map"):
        return (tag, bind_local(t[1], here))
    if tag == "union":
        return (tag, [bind_local(a, here) for a in t[1]])
    if tag == "object":
        members = [(n, o, bind_local(mt, here), d) for n, o, mt, d in t[1]]
        return (tag, members, None if t[2] is None else bind_local(t[2], here))
    return t


def json_type(value):
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if value is None:
        return "null"
    return "string"


def nullable(s):
    """Let an optional field be null, as kubernetes-models' validators do.

    A "$ref" is left alone: every definition accepts null itself, the way
    kubernetes-validate's definitions do, so that errors stay precise.
    """
    if "type" not in s or "$ref" in s:
        return s
    s = dict(s)
    types = s["type"] if isinstance(s["type"], list) else [s["type"]]
    if "null" not in types:
        s["type"] = types + ["null"]
    if "enum" in s and None not in s["enum"]:
        s["enum"] = s["enum"] + [None]
    return s


def crd_schemas(npm_files, k8s_defs):
    out, index = {}, {}
    decl_sets = {}
    for package, folder, api_version, kind in CRD_KINDS:
        if package not in decl_sets:
            decl_sets[package] = Declarations(package, npm_files[package], k8s_defs)
        decls = decl_sets[package]
        def_name = folder.replace("/", ".") + "." + kind
        if def_name not in decls.decls:
            raise SystemExit("%s has no %s" % (package, def_name))
        _, bases, body, doc, _ = decls.decls[def_name]
        root = decls.object_schema(bases, body, doc)
        props = root.get("properties", {})
        if props.get("apiVersion", {}).get("enum") != [api_version] or \
                props.get("kind", {}).get("enum") != [kind]:
            raise SystemExit("%s: apiVersion/kind do not match %s %s" % (package, api_version, kind))
        group, version = split_api_version(api_version)
        name = file_name(api_version, kind)
        root["x-kubernetes-group-version-kind"] = [
            {"group": group, "kind": kind, "version": version}]
        root["$id"] = ID_BASE + "crds/" + name
        root["$schema"] = DIALECT
        root["$comment"] = (
            "Generated by schemas/refresh.py from the TypeScript declarations of the npm "
            "package %s@%s (Kubernetes types from kubernetes-validate %s, Kubernetes v%s); "
            "do not edit." % (package, NPM_PACKAGES[package], KUBERNETES_VALIDATE, K8S_VERSION))
        all_defs = dict(k8s_defs)
        all_defs.update(decls.out)  # names never collide: ours have no "io.k8s." prefix
        reachable = closure([root], all_defs)
        root["$defs"] = {n: all_defs[n] for n in sorted(reachable)}
        out[name] = root
        index["%s|%s" % (api_version, kind)] = name
    return out, index


# --------------------------------------------------------------- main ---

def handwritten(crds_dir):
    """{file name: (apiVersion, kind)} for the hand-written CRD schemas (and those converted from an
    upstream CRD, which refresh.py leaves alone)."""
    found = {}
    if not os.path.isdir(crds_dir):
        return found
    for name in sorted(os.listdir(crds_dir)):
        if not name.endswith(".json") or name == "index.json":
            continue
        with open(os.path.join(crds_dir, name), encoding="utf-8") as f:
            schema = json.load(f)
        if not str(schema.get("$comment", "")).startswith((HANDWRITTEN_MARK, FROM_CRD_MARK)):
            continue
        for gvk in schema.get("x-kubernetes-group-version-kind", []):
            api_version = (gvk["group"] + "/" if gvk["group"] else "") + gvk["version"]
            found.setdefault(name, []).append((api_version, gvk["kind"]))
    return found


def rebundle_k8s(schema, k8s_defs):
    """Refill the "io.k8s.*" entries of a hand-written schema's "$defs".

    Everything else in the file is kept exactly as written by hand; the
    Kubernetes definitions it references are copied from kubernetes-validate
    so that they follow the vendored Kubernetes version.
    """
    own = {k: v for k, v in schema.get("$defs", {}).items() if not k.startswith("io.k8s.")}
    body = {k: v for k, v in schema.items() if k != "$defs"}
    all_defs = dict(k8s_defs)
    all_defs.update(own)
    need = closure([body] + list(own.values()), all_defs)
    defs = dict(own)  # hand-written definitions stay even when unused
    for n in need:
        if n.startswith("io.k8s."):
            defs[n] = k8s_defs[n]
    body["$defs"] = {n: defs[n] for n in sorted(defs)}
    return body


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--keep-temp", action="store_true", help="keep the download directory")
    ap.add_argument("--kubernetes-only", action="store_true", help="rewrite kubernetes/ only (no npm)")
    args = ap.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))

    tmp = tempfile.mkdtemp(prefix="schemas-refresh-")
    try:
        wheel = fetch_kubernetes_validate(tmp)
        npm_files = None if args.kubernetes_only else fetch_npm(tmp)

        k8s_root = os.path.join(here, "kubernetes")
        keep = {"removed-apis.json"}  # maintained by hand
        if os.path.isdir(k8s_root):
            for name in os.listdir(k8s_root):
                if name not in keep:
                    path = os.path.join(k8s_root, name)
                    shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
        all_objects = {}
        for version in K8S_VERSIONS:
            objects, index, definitions = kubernetes_schemas(wheel, version)
            all_objects.update(objects)
            folder = os.path.join(k8s_root, "v" + minor(version))
            write(os.path.join(folder, "index.json"), index)
            write(os.path.join(folder, "definitions.json"), definitions)
            print("kubernetes/v%s: %d kinds, %d definitions" % (minor(version), len(index), len(definitions)))
        for key, obj in all_objects.items():
            write(os.path.join(k8s_root, "objects", key + ".json"), obj)
        print("kubernetes/objects: %d" % len(all_objects))
        if args.kubernetes_only:
            return

        base = "kubernetes_validate/kubernetes-json-schema/v%s-local/" % K8S_VERSION
        k8s_defs = json.loads(wheel.read(base + "_definitions.json"))["$defs"]
        crds_dir = os.path.join(here, "crds")
        hand = handwritten(crds_dir)
        os.makedirs(crds_dir, exist_ok=True)
        for name in os.listdir(crds_dir):
            if name.endswith(".json") and name not in hand:
                os.remove(os.path.join(crds_dir, name))
        files, index = crd_schemas(npm_files, k8s_defs)
        for name, schema in files.items():
            if name in hand:
                raise SystemExit("%s is hand-written; refusing to overwrite it" % name)
            write(os.path.join(crds_dir, name), schema)
        for name in sorted(hand):
            path = os.path.join(crds_dir, name)
            with open(path, encoding="utf-8") as f:
                schema = json.load(f)
            if not schema["$comment"].startswith(FROM_CRD_MARK):
                write(path, rebundle_k8s(schema, k8s_defs))
        for name, gvks in sorted(hand.items()):
            for api_version, kind in gvks:
                key = "%s|%s" % (api_version, kind)
                if key in index:
                    raise SystemExit("%s is both generated and hand-written" % key)
                index[key] = name
        write(os.path.join(crds_dir, "index.json"), index)
        print("crds/: %d generated, %d hand-written" % (len(files), len(hand)))
    finally:
        if args.keep_temp:
            print("downloads kept in", tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
