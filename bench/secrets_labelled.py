#!/usr/bin/env python3
"""Writes the labelled secrets set, tests/fixtures/secrets-labelled/: manifests that hold a credential
(`pos-*`, in every shape real repositories use) and clean manifests (`neg-*`, many of which look as if
they might), with `labels.json` saying which is which and the shape of each. Every value is invented
here, from a fixed seed, so the set is the same on every run:

    python3 bench/secrets_labelled.py tests/fixtures/secrets-labelled

tests/secrets_labelled.rs scores our rules on it; bench/secrets_score.py scores other scanners.
"""
import base64, json, os, random, sys

OUT = sys.argv[1]
rng = random.Random(20261128)
ALNUM = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"


def pw(n=14):
    return "".join(rng.choice(ALNUM) for _ in range(n))


def human_pw():
    words = ["Summer", "Winter", "Dragon", "Monkey", "Coffee", "Falcon", "Harbor", "Violet", "Orbit", "Maple"]
    return rng.choice(words) + rng.choice(words).lower() + str(rng.randint(10, 99)) + rng.choice("!#%&")


def b64(s):
    return base64.b64encode(s.encode()).decode()


def hexs(n):
    return "".join(rng.choice("0123456789abcdef") for _ in range(n))


labels = {}
files = {}


def add(name, positive, shape, text):
    assert name not in files, name
    files[name] = text
    labels[name] = {"secret": positive, "shape": shape}


def deployment(name, container_extra="", pod_extra="", meta_extra="", tmpl_meta_extra="", kind="Deployment", image="registry.example/app:1.4.2"):
    return f"""apiVersion: apps/v1
kind: {kind}
metadata:
  name: {name}
  namespace: shop{meta_extra}
spec:
  replicas: 2
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}{tmpl_meta_extra}
    spec:{pod_extra}
      containers:
        - name: {name}
          image: {image}{container_extra}
"""


def configmap(name, data_yaml):
    return f"""apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}
  namespace: shop
data:
{data_yaml}"""


def block(text, indent=4):
    return "\n".join((" " * indent + l) if l else "" for l in text.splitlines()) + "\n"


def cronjob(name, container_extra):
    return f"""apiVersion: batch/v1
kind: CronJob
metadata:
  name: {name}
  namespace: shop
spec:
  schedule: "15 2 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
            - name: {name}
              image: registry.example/tools:2.1.0{container_extra}
"""


# ------------------------------------------------------------------------------------------ positives
P = 0


def pos(shape, text):
    global P
    P += 1
    add(f"pos-{P:03d}-{shape}.yaml", True, shape, text)


for i in range(4):
    pos("secret-data", f"""apiVersion: v1
kind: Secret
metadata:
  name: db-{i}
  namespace: shop
type: Opaque
data:
  username: {b64('app')}
  password: {b64(pw())}
""")
for i in range(3):
    pos("secret-stringdata", f"""apiVersion: v1
kind: Secret
metadata:
  name: api-keys-{i}
  namespace: shop
stringData:
  {['api-key', 'smtp-password', 'webhook-token'][i]}: {pw(24)}
""")
for i, key in enumerate(["DB_PASSWORD", "REDIS_PASSWORD", "SMTP_PASS", "apiKey", "client_secret"]):
    pos("configmap-key", configmap(f"settings-{i}", f"  LOG_LEVEL: info\n  {key}: {pw()}\n"))
for i in range(3):
    pos("configmap-yaml-file", configmap(f"app-config-{i}", "  config.yaml: |\n" + block(f"""server:
  port: 8080
database:
  host: postgres.shop.svc
  user: shop
  password: {pw()}
""")))
for i in range(3):
    pos("configmap-properties", configmap(f"spring-{i}", "  application.properties: |\n" + block(f"""spring.datasource.url=jdbc:postgresql://db:5432/shop
spring.datasource.username=shop
spring.datasource.password={pw()}
""")))
for i in range(2):
    pos("configmap-dotenv", configmap(f"dotenv-{i}", "  .env: |\n" + block(f"""NODE_ENV=production
STRIPE_SECRET={pw(20)}
""")))
for i in range(3):
    pos("configmap-json", configmap(f"json-config-{i}", "  settings.json: |\n" + block(json.dumps({"db": {"host": "db", "password": pw()}, "cache": {"ttl": 60}}, indent=2))))
for i, (var, val) in enumerate([("POSTGRES_PASSWORD", pw()), ("GITLAB_TOKEN", pw(20)), ("API_KEY", pw(32)), ("MONGO_INITDB_ROOT_PASSWORD", human_pw()), ("AUTH_SECRET", human_pw()), ("SESSION_SECRET", pw(40))]):
    pos("env-literal", deployment(f"svc-env-{i}", f"""
          env:
            - {{name: LOG_LEVEL, value: info}}
            - {{name: {var}, value: "{val}"}}"""))
for i, val in enumerate(["admin", "changeme", "password"]):
    pos("env-default-password", deployment(f"svc-default-{i}", f"""
          env:
            - {{name: ADMIN_PASSWORD, value: {val}}}"""))
for i in range(4):
    pos("args-equals", deployment(f"svc-args-{i}", f"""
          args: ["--port=8080", "--{['password', 'db-password', 'admin-password', 'auth-token'][i]}={human_pw() if i % 2 else pw()}"]"""))
for i in range(3):
    pos("args-pair", deployment(f"svc-argpair-{i}", f"""
          args: ["--user", "shop", "--{['password', 'redis-password', 'api-key'][i]}", "{pw()}"]"""))
for i in range(3):
    pos("command-script", deployment(f"svc-script-{i}", f"""
          command: ["sh", "-c", "{['PGPASSWORD=' + pw() + ' psql -h db -U shop -c select', 'export MYSQL_PWD=' + pw() + ' && mysql -h db', 'curl -u admin:' + pw() + ' http://api/health'][i]}"]"""))
for i in range(3):
    pos("probe-mysql", deployment(f"mysql-{i}", f"""
          livenessProbe:
            exec:
              command: ["mysqladmin", "ping", "-uroot", "-p{pw()}"]""", kind="StatefulSet", image="mysql:8.4"))
for i in range(3):
    pos("probe-redis", deployment(f"redis-{i}", f"""
          readinessProbe:
            exec:
              command: ["redis-cli", "-a", "{pw()}", "ping"]""", kind="StatefulSet", image="redis:7.4"))
for i in range(3):
    pos("redis-requirepass", configmap(f"redis-conf-{i}", "  redis.conf: |\n" + block(f"""bind 0.0.0.0
port 6379
requirepass {pw()}
appendonly yes
""")))
for i in range(2):
    pos("redis-masterauth", configmap(f"redis-replica-{i}", "  redis.conf: |\n" + block(f"""replicaof redis-0 6379
masterauth {pw()}
""")))
for i in range(2):
    pos("sentinel-auth-pass", configmap(f"sentinel-{i}", "  sentinel.conf: |\n" + block(f"""sentinel monitor mymaster redis-0 6379 2
sentinel auth-pass mymaster {pw()}
""")))
for i in range(3):
    pos("label", deployment(f"svc-label-{i}", "", meta_extra=f"""
  labels:
    app: svc-label-{i}
    {['redis-password', 'db-pass', 'api-token'][i]}: {pw(12)}"""))
for i in range(3):
    pos("annotation", deployment(f"svc-annot-{i}", "", meta_extra=f"""
  annotations:
    {['db-password', 'example.com/api-token', 'smtp-password'][i]}: {pw()}"""))
for i in range(3):
    pos("url-password", configmap(f"urls-{i}", f"  DATABASE_URL: {['postgres', 'mongodb', 'amqp'][i]}://shop:{pw()}@db.shop.svc:5432/shop\n"))
for i in range(3):
    pos("url-empty-user", configmap(f"cache-url-{i}", f"  CACHE_URL: redis://:{pw()}@redis.shop.svc:6379/{i}\n"))
for i in range(3):
    kc = f"""apiVersion: v1
kind: Config
clusters:
  - name: prod
    cluster:
      server: https://10.0.0.{i + 1}:6443
users:
  - name: deployer
    user:
      {'client-key-data: ' + b64('-----BEGIN RSA PRIVATE KEY-----' + chr(10) + pw(64) + chr(10) + '-----END RSA PRIVATE KEY-----') if i < 2 else 'token: ' + pw(48)}
contexts:
  - name: prod
    context: {{cluster: prod, user: deployer}}
current-context: prod
"""
    pos("kubeconfig", configmap(f"kubeconfig-{i}", "  config: |\n" + block(kc)))
for i in range(2):
    pos("aws-key", configmap(f"aws-{i}", f"  AWS_REGION: eu-west-1\n  access: AKIA{''.join(rng.choice('ABCDEFGHIJKLMNOPQRSTUVWXYZ234567') for _ in range(16))}\n"))
for i in range(2):
    pos("github-token", deployment(f"ci-runner-{i}", f"""
          args: ["--github-token", "ghp_{pw(36)}"]"""))
pos("slack-webhook", configmap("alerts", f"  SLACK_URL: https://hooks.slack.com/services/T{pw(8).upper()}/B{pw(8).upper()}/{pw(24)}\n"))
pos("jwt", configmap("auth-cache", "  bootstrap: eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJzZXJ2aWNlIiwiaWF0IjoxNzAwMDAwMDAwfQ." + pw(43) + "\n"))
for i in range(2):
    pos("private-key", configmap(f"tls-key-{i}", "  tls.key: |\n" + block("-----BEGIN PRIVATE KEY-----\n" + "\n".join(pw(64) for _ in range(4)) + "\n-----END PRIVATE KEY-----")))
pos("stripe-secret", configmap("payments", f"  STRIPE_KEY: sk_live_{pw(28)}\n"))
pos("google-api-key", configmap("maps", f"  MAPS: AIza{pw(35)}\n"))
for i in range(2):
    pos("cronjob-args", cronjob(f"backup-{i}", f"""
              args: ["pg_dump", "--dbname=postgresql://backup:{pw()}@db/shop"]"""))
pos("init-container-env", deployment("svc-init", "", pod_extra=f"""
      initContainers:
        - name: migrate
          image: registry.example/migrate:3.0.0
          env:
            - {{name: MIGRATE_TOKEN, value: {pw(20)}}}"""))
pos("docker-auth", configmap("registry", "  config.json: |\n" + block(json.dumps({"auths": {"registry.example": {"auth": b64("robot:" + pw(20))}}}, indent=2))))
pos("ini-smtp", configmap("mailer", "  mail.ini: |\n" + block(f"""[smtp]
host = smtp.example.com
user = mailer
password = {human_pw()}
""")))
pos("htpasswd-basic-auth", configmap("basic-auth", f"  users: |\n    admin:{pw(8)}\n  auth_password: {human_pw()}\n"))

n_pos = P

# --------------------------------------------------------------------------------------------- clean
N = 0


def neg(shape, text):
    global N
    N += 1
    add(f"neg-{N:03d}-{shape}.yaml", False, shape, text)


CERT = "-----BEGIN CERTIFICATE-----\n" + "\n".join("MII" + pw(61) for _ in range(5)) + "\n-----END CERTIFICATE-----"
for i in range(3):
    neg("ca-certificate", configmap(f"ca-bundle-{i}", "  ca.crt: |\n" + block(CERT.replace("MII", "MIJ" if i else "MII"))))
for i in range(2):
    neg("public-key", configmap(f"verify-key-{i}", "  key.pub: |\n" + block("-----BEGIN PUBLIC KEY-----\n" + "\n".join(pw(64) for _ in range(3)) + "\n-----END PUBLIC KEY-----")))
neg("ssh-public-key", configmap("authorized-keys", f"  authorized_keys: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI{pw(43)} deploy@ci\n"))
for i in range(3):
    jwks = {"keys": [{"kty": "RSA", "kid": hexs(16), "use": "sig", "alg": "RS256", "n": pw(342), "e": "AQAB"}]}
    neg("jwks", configmap(f"jwks-{i}", "  jwks.json: |\n" + block(json.dumps(jwks, indent=2))))
for i in range(3):
    neg("sri-hash", configmap(f"web-index-{i}", "  index.html: |\n" + block(f"""<!doctype html>
<script src="https://cdn.example.com/lib.min.js" integrity="sha384-{pw(64)}" crossorigin="anonymous"></script>
<p>Welcome</p>
""")))
for i in range(2):
    neg("publishable-key", configmap(f"checkout-{i}", f"  STRIPE_PUBLISHABLE_KEY: pk_live_{pw(32)}\n"))
for i in range(3):
    neg("checksum-annotation", deployment(f"svc-checksum-{i}", "", tmpl_meta_extra=f"""
      annotations:
        checksum/config: {hexs(64)}
        checksum/secret: {hexs(64)}"""))
for i in range(2):
    neg("sha256sum-key", configmap(f"downloads-{i}", f"  sha256sum: {hexs(64)}\n  url: https://downloads.example.com/tool-{i}.tar.gz\n"))
for i in range(3):
    neg("existing-secret-ref", configmap(f"chart-values-{i}", "  values.yaml: |\n" + block(f"""auth:
  existingSecret: shop-db-{i}
  adminPasswordKey: admin-password
  userPasswordKey: user-password
""")))
for i in range(2):
    neg("random-root-password", deployment(f"mysql-rand-{i}", """
          env:
            - {name: MYSQL_RANDOM_ROOT_PASSWORD, value: "yes"}
            - {name: MYSQL_ALLOW_EMPTY_PASSWORD, value: "no"}""", image="mysql:8.4"))
for i in range(2):
    neg("grafana-file-ref", configmap(f"grafana-ini-{i}", "  grafana.ini: |\n" + block("""[security]
admin_user = admin
admin_password = $__file{/etc/secrets/admin_password}
[database]
password = $__env{GF_DATABASE_PASSWORD}
""")))
for i in range(3):
    neg("prose", configmap(f"i18n-{i}", "  en.json: |\n" + block(json.dumps({"login.forgot": "Forgot your password?", "login.reset": "Reset password", "token.expired": "Your session token has expired, sign in again"}, indent=2))))
for i in range(4):
    neg("secret-key-ref", deployment(f"svc-ref-{i}", f"""
          env:
            - name: DB_PASSWORD
              valueFrom:
                secretKeyRef: {{name: shop-db, key: password}}
            - name: API_TOKEN
              valueFrom:
                secretKeyRef: {{name: shop-api, key: token}}"""))
for i in range(3):
    neg("args-reference", deployment(f"svc-argref-{i}", """
          env:
            - name: DB_PASSWORD
              valueFrom: {secretKeyRef: {name: shop-db, key: password}}
          args: ["--password=$(DB_PASSWORD)", "--password-file=/run/secrets/db"]"""))
neg("nsswitch", configmap("nsswitch", "  nsswitch.conf: |\n" + block("""passwd: files systemd
group: files systemd
shadow: files
hosts: files dns
""")))
for i in range(3):
    neg("image-digest", deployment(f"svc-digest-{i}", "", image=f"registry.example/app@sha256:{hexs(64)}"))
for i in range(2):
    neg("uuid", configmap(f"ids-{i}", f"  tenant-id: {hexs(8)}-{hexs(4)}-{hexs(4)}-{hexs(4)}-{hexs(12)}\n  region: eu\n"))
for i in range(3):
    neg("external-secret", f"""apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: shop-db-{i}
  namespace: shop
spec:
  refreshInterval: 1h
  secretStoreRef: {{name: vault, kind: ClusterSecretStore}}
  target: {{name: shop-db-{i}}}
  data:
    - secretKey: password
      remoteRef: {{key: shop/db, property: password}}
""")
for i in range(2):
    neg("sealed-secret", f"""apiVersion: bitnami.com/v1alpha1
kind: SealedSecret
metadata:
  name: sealed-{i}
  namespace: shop
spec:
  encryptedData:
    password: AgB{pw(300)}
""")
for i in range(2):
    neg("secret-empty", f"""apiVersion: v1
kind: Secret
metadata:
  name: filled-later-{i}
  namespace: shop
type: Opaque
data: {{}}
""")
for i in range(2):
    neg("token-settings", configmap(f"auth-settings-{i}", "  TOKEN_TTL: \"3600\"\n  PASSWORD_MIN_LENGTH: \"12\"\n  SESSION_TIMEOUT: 30m\n"))
for i in range(2):
    neg("commit-annotation", deployment(f"svc-commit-{i}", "", meta_extra=f"""
  annotations:
    example.com/git-commit: {hexs(40)}
    deployment.kubernetes.io/revision: "{i + 3}\""""))
for i in range(2):
    neg("ingress-tls", f"""apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: shop-{i}
  namespace: shop
  annotations:
    nginx.ingress.kubernetes.io/auth-type: basic
    nginx.ingress.kubernetes.io/auth-secret: basic-auth
spec:
  tls:
    - hosts: [shop{i}.example.com]
      secretName: shop-tls
  rules:
    - host: shop{i}.example.com
      http:
        paths:
          - path: /
            pathType: Prefix
            backend: {{service: {{name: shop, port: {{number: 80}}}}}}
""")
for i in range(2):
    neg("vault-annotations", deployment(f"svc-vault-{i}", "", tmpl_meta_extra="""
      annotations:
        vault.hashicorp.com/agent-inject: "true"
        vault.hashicorp.com/agent-inject-secret-db: database/creds/shop
        vault.hashicorp.com/role: shop"""))
neg("redis-conf-commented", configmap("redis-default", "  redis.conf: |\n" + block("""port 6379
# requirepass foobared
appendonly no
""")))
neg("mysql-prompt", deployment("mysql-client", """
          command: ["sh", "-c", "mysql -h db -u root -p < /dev/null || true"]""", image="mysql:8.4"))
for i in range(2):
    neg("projected-token", deployment(f"svc-sa-{i}", """
          volumeMounts: [{name: token, mountPath: /var/run/secrets/tokens}]""", pod_extra="""
      volumes:
        - name: token
          projected:
            sources:
              - serviceAccountToken: {path: token, expirationSeconds: 3600, audience: vault}"""))
neg("jwks-uri", configmap("oidc", "  issuer: https://auth.example.com\n  jwks_uri: https://auth.example.com/.well-known/jwks.json\n  client_id: shop-frontend\n"))
for i in range(2):
    neg("pod-template-hash", deployment(f"svc-hash-{i}", "", tmpl_meta_extra=f"""
      annotations:
        example.com/config-hash: {hexs(10)}
        example.com/build-id: "{rng.randint(1000, 9999)}\""""))
for i in range(2):
    neg("plain-config", configmap(f"plain-{i}", "  config.yaml: |\n" + block("""server:
  port: 8080
  readTimeout: 30s
auth:
  enabled: true
  provider: oidc
  passwordPolicy: strong
""")))
for i in range(2):
    neg("password-file-args", deployment(f"svc-pwfile-{i}", """
          args: ["--db-password-file=/run/secrets/db/password", "--tls-cert-file=/etc/tls/tls.crt", "--use-service-account-credentials=true"]"""))
neg("crd-schema", """apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: databases.example.com
spec:
  group: example.com
  names: {kind: Database, plural: databases}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties:
                passwordSecretRef:
                  type: string
                  description: The name of the Secret that holds the password.
""")
for i in range(2):
    neg("env-placeholder", deployment(f"svc-ph-{i}", """
          env:
            - {name: API_TOKEN, value: ""}
            - {name: DB_PASSWORD, value: "<set-in-vault>"}"""))
neg("helm-template-ref", configmap("templated", "  DB_PASSWORD: \"{{ .Values.db.password }}\"\n  API_KEY: ${API_KEY}\n"))

neg("empty-password-config", configmap("db-config", "  config.yaml: |\n" + block("""database:
  host: db
  user: shop
  password: ""
""")))
neg("service-account-secrets", """apiVersion: v1
kind: ServiceAccount
metadata:
  name: builder
  namespace: shop
secrets:
  - name: builder-token
imagePullSecrets:
  - name: regcred
""")
neg("sa-token-secret", """apiVersion: v1
kind: Secret
metadata:
  name: builder-token
  namespace: shop
  annotations:
    kubernetes.io/service-account.name: builder
type: kubernetes.io/service-account-token
""")
neg("nginx-basic-auth-file", configmap("nginx", "  default.conf: |\n" + block("""server {
  listen 80;
  location /admin {
    auth_basic "Admin";
    auth_basic_user_file /etc/nginx/htpasswd;
  }
}
""")))
neg("prometheus-password-file", configmap("prometheus", "  prometheus.yml: |\n" + block("""scrape_configs:
  - job_name: shop
    basic_auth:
      username: prometheus
      password_file: /etc/prometheus/secrets/password
    authorization:
      credentials_file: /etc/prometheus/secrets/token
""")))
neg("kubeconfig-path-arg", deployment("controller", """
          args: ["--kubeconfig=/etc/kube/config", "--leader-elect=true", "--client-ca-file=/etc/ca/ca.crt"]"""))
neg("pg-hba", configmap("pg-hba", "  pg_hba.conf: |\n" + block("""host all all 10.0.0.0/8 scram-sha-256
local all postgres peer
""")))
for i in range(2):
    neg("cluster-id-hex", configmap(f"cluster-info-{i}", f"  cluster-id: {hexs(32)}\n  region: eu-west-1\n"))
neg("pgp-public-key", configmap("release-key", "  release.asc: |\n" + block("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n" + "\n".join(pw(64) for _ in range(4)) + "\n-----END PGP PUBLIC KEY BLOCK-----")))
neg("keycloak-policy", configmap("realm", "  realm.json: |\n" + block(json.dumps({"realm": "shop", "passwordPolicy": "length(12) and digits(1)", "bruteForceProtected": True}, indent=2))))
neg("image-pull-secrets", deployment("svc-pull", "", pod_extra="""
      imagePullSecrets:
        - name: regcred"""))
neg("auth-token-webhook-flag", deployment("kubelet-proxy", """
          args: ["--authentication-token-webhook=true", "--authorization-mode=Webhook", "--token-auth-file=/etc/tokens.csv"]"""))

n_neg = N

os.makedirs(OUT, exist_ok=True)
for name, text in files.items():
    with open(os.path.join(OUT, name), "w") as f:
        f.write(text)
with open(os.path.join(OUT, "labels.json"), "w") as f:
    json.dump({"positives": n_pos, "clean": n_neg, "files": labels}, f, indent=1, sort_keys=True)
    f.write("\n")
print(n_pos, n_neg)
