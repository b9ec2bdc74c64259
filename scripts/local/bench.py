#!/usr/bin/env python3
"""Benchmarks that print figures (never tests):

  bench.py coldstart [--runs N] [--against DIR]
                                  exec -> first answered request of the release `agents` binary,
                                  under a minimal Lambda Runtime API, against DynamoDB Local and
                                  moto (the request: an authenticated GET /v1/agents); with
                                  --against, another build's `agents` (e.g. other profile) too
  bench.py sizes [--arm64] [fn..] stripped release binary sizes (host; --arm64 instead the deployed
                                  arm64 bootstraps, zipped, each built in its own crate as sam build does)
  bench.py webhooks [--events N] [--endpoints M]
                                  event -> delivered latency through the local stack (the table's
                                  stream, the event router, the webhook queue, the dispatcher, all
                                  as `scripts/dev` runs them) for N events to M local receivers
  bench.py campaigns [--rows N] [--targets T] [--concurrency C] [--workers W]
                                  audience import rate of N rows, and the dialer's dispatch rate
                                  and slot-refill latency for T zero-length calls at concurrency
                                  C (tests/benches/campaigns.rs, release build, against DynamoDB
                                  Local and moto; W Lambda instances per queue)
  bench.py api [--requests N] [--concurrency C]
                                  GET /v1/agents/{id} through the local stack with release builds
                                  (as `scripts/dev --release` runs it) against raw GetItems of the
                                  same item on the same DynamoDB Local (tests/benches/api.rs), and
                                  the size of a credential item
  bench.py ledger [--calls N] [--concurrency C]
                                  settlements per second of N calls of one workspace ending C at
                                  a time (tests/benches/ledger.rs, release build), against raw
                                  TransactWriteItems of as many items on the same DynamoDB Local
  bench.py audit [--repeat N]     DynamoDB requests and write units of everyday changes with
                                  their audit entry and without it (tests/benches/audit.rs,
                                  in-process, against DynamoDB Local and moto)
  bench.py dsr [--calls N]        export and erasure of a person with N calls (transcripts and
                                  conversations), in-process (tests/benches/dsr.rs)
  bench.py workflows [--runs N] [--workers W] [--events M]
                                  executions per second of a three-step workflow through the
                                  real queue and W runner workers, and event -> first step
                                  latency, in-process (tests/benches/workflows.rs)
  bench.py lost-answers [--requests N] [--concurrency C]
                                  N mixed requests (the OpenAPI document plain and gzipped, the
                                  reference page, voice previews and samples, agents, health)
                                  through the local stack as `scripts/dev` runs it; counts the
                                  answers `cargo lambda watch` made itself instead of the API's
                                  (its 500 typed https://httpstatuses.com/500)
  bench.py fuzz [--seconds S] [TARGET...]
                                  each cargo fuzz target (shared/fuzz: cursors, uploads, JSON bodies,
                                  phone numbers, signature headers) for S seconds with libFuzzer
                                  on the nightly toolchain; runs, executions per second, and any
                                  crash (kept under shared/fuzz/artifacts/)
"""

import argparse
import contextlib
import json
import os
import queue
import secrets
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3

sys.path.insert(0, str(Path(__file__).parent))
import stack  # noqa: E402
from template import Template, load  # noqa: E402

ROOT = stack.ROOT
_TEMPLATE = Template(load(ROOT / "template.yaml"))
BINARIES = sorted(_TEMPLATE.binary(f) for f in _TEMPLATE.functions().values())


class RuntimeApi:
    """Just enough of the Lambda Runtime API to hand one function process one event and time its
    answer. One per process: a killed process's pending `/next` must not take the next event."""

    def __init__(self):
        self.events = queue.Queue()
        self.answers = queue.Queue()
        self.first_poll = None
        runtime = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_):
                pass

            def do_GET(self):
                if self.path.endswith("/invocation/next"):
                    runtime.first_poll = runtime.first_poll or time.monotonic()
                    request_id, event = runtime.events.get()
                    body = json.dumps(event).encode()
                    self.send_response(200)
                    self.send_header("Lambda-Runtime-Aws-Request-Id", request_id)
                    self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30_000))
                    self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:bench")
                    self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                at = time.monotonic()
                self.send_response(202)
                self.end_headers()
                if "/response" in self.path or "/error" in self.path:
                    runtime.answers.put((at, "/error" not in self.path, json.loads(body or b"null")))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def invoke(binary, env, event, directory=None):
    """Starts `binary` (of `directory`, default this checkout's release build) under a fresh
    Runtime API, hands it `event`; returns (seconds from exec to its first poll for work (init),
    seconds from exec to its answer, the answer)."""
    runtime = RuntimeApi()
    runtime.events.put((str(uuid.uuid4()), event))
    started = time.monotonic()
    child = subprocess.Popen([str(Path(directory or ROOT / "target" / "release") / binary)], env={**os.environ, **env, **runtime_env(runtime.address)},
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        at, ok, answer = runtime.answers.get(timeout=60)
    finally:
        child.kill()
        child.wait()
        runtime.server.shutdown()
    if not ok:
        raise SystemExit(f"{binary} failed: {answer}")
    return runtime.first_poll - started, at - started, answer


def runtime_env(address):
    return {"AWS_LAMBDA_RUNTIME_API": address, "AWS_LAMBDA_FUNCTION_NAME": "bench", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST", "AWS_LAMBDA_LOG_STREAM_NAME": "bench", "AWS_LAMBDA_LOG_GROUP_NAME": "bench",
            "RUST_LOG": "warn"}


def http_event(method, path, body=None, token=None):
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    event = {"version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "", "headers": headers, "isBase64Encoded": False,
             "requestContext": {"domainName": "localhost", "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1",
                                                                 "userAgent": "bench"}, "requestId": str(uuid.uuid4()), "routeKey": "$default",
                                "stage": "$default", "timeEpoch": int(time.time() * 1000)}}
    if body is not None:
        event["body"] = json.dumps(body)
    return event


def answer_body(answer):
    return json.loads(answer.get("body") or "null")


def build(binaries=BINARIES):
    print("building release binaries (LTO; several minutes on 2 cores)...", flush=True)
    subprocess.run(["cargo", "build", "--release", "--locked", *sum((["--bin", b] for b in binaries), [])], cwd=ROOT, check=True)


def coldstart(args):
    build(["auth", "api-keys", "agents"])
    with stack.run_folder(f"bench-{os.getpid()}") as (state_dir, procs):
        tpl = Template(load(ROOT / "template.yaml"))
        endpoints = stack.start_emulators(procs, stack.free_port(), stack.free_port())
        made = stack.provision(tpl, endpoints, f"-bench-{secrets.token_hex(3)}")
        env = stack.function_env(tpl, made, endpoints, tpl.parameters(PublicBaseUrl="http://localhost", SignupPlan="enterprise", LogLevel="warn"),
                                 state_dir)
        email, password = f"bench-{secrets.token_hex(4)}@example.com", "correct horse battery"
        invoke("auth", env, http_event("POST", "/v1/auth/signup", {"email": email, "password": password, "country": "US"}))
        _, _, login = invoke("auth", env, http_event("POST", "/v1/auth/login", {"email": email, "password": password}))
        token = answer_body(login)["token"]
        _, _, key = invoke("api-keys", env, http_event("POST", "/v1/api-keys", {"name": "bench", "scope": "read"}, token))
        secret = answer_body(key)["secret"]

        builds = [("this build", None)] + ([(args.against, args.against)] if args.against else [])
        times = {label: ([], []) for label, _ in builds}
        # Interleaved, so that both builds see the same machine.
        for _ in range(args.runs):
            for label, directory in builds:
                init, total, answer = invoke("agents", env, http_event("GET", "/v1/agents", token=secret), directory)
                assert answer["statusCode"] == 200, answer
                times[label][0].append(init * 1000)
                times[label][1].append(total * 1000)
        for label, (inits, totals) in times.items():
            print()
            print(f"agents cold start ({label}), {args.runs} runs:")
            for name, runs in [("exec -> ready for its first event (init)", inits), ("exec -> first answered request", totals)]:
                runs.sort()
                print(f"  {name:42} min {runs[0]:6.1f} ms   p50 {statistics.median(runs):6.1f} ms   max {runs[-1]:6.1f} ms")
        print("  the request: an authenticated GET /v1/agents answered 200; init reads the JWT secret from moto, the")
        print("  request makes one UpdateItem (auth + rate limit) and one Query against DynamoDB Local on 127.0.0.1")


def sizes(args):
    if not args.arm64:
        build()
        print()
        print("stripped release binaries (host, x86_64):")
        for binary in BINARIES:
            path = ROOT / "target" / "release" / binary
            print(f"  {binary:10} {path.stat().st_size / 1e6:6.2f} MB")
    else:
        venv_bin = stack.VENV_BIN
        subprocess.run([str(venv_bin / "pip"), "install", "-q", "ziglang"], check=True)
        env = {**os.environ, "PATH": f"{venv_bin}:{os.environ['PATH']}"}
        binaries = args.functions or BINARIES
        print("building arm64 Lambda bootstraps with cargo-lambda + Zig, each in its own crate as sam build does...", flush=True)
        for binary in binaries:
            subprocess.run([str(venv_bin / "cargo-lambda"), "lambda", "build", "--release", "--arm64", "--bin", binary],
                           cwd=ROOT / "functions" / binary, env=env, check=True)
        print("stripped Lambda bootstraps (arm64, provided.al2023), and zipped as deployed:")
        for binary in binaries:
            path = ROOT / "target" / "lambda" / binary / "bootstrap"
            zipped = stack.LOCAL / f"{binary}.zip"
            with zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED) as z:
                z.write(path, "bootstrap")
            print(f"  {binary:10} {path.stat().st_size / 1e6:6.2f} MB   zip {zipped.stat().st_size / 1e6:5.2f} MB")


CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def ulid(prefix):
    """A `prefix_` ULID: 48 bits of milliseconds, 80 random bits, Crockford base32."""
    value = (int(time.time() * 1000) << 80) | int.from_bytes(secrets.token_bytes(10), "big")
    return prefix + "_" + "".join(CROCKFORD[(value >> (5 * i)) & 31] for i in reversed(range(26)))


@contextlib.contextmanager
def dev_stack(name, extra_env):
    """The local stack as `scripts/dev` runs it (debug builds, all built first, the enterprise
    plan), on free ports: its URL and environment; stopped on leaving."""
    with stack.run_folder(f"bench-{name}-{os.getpid()}") as (state_dir, procs):
        bridge = None
        ports = {"dynamodb": stack.free_port(), "moto": stack.free_port(), "api": stack.free_port()}
        try:
            subprocess.run(["cargo", "build", "--workspace", "--bins", "--locked"], cwd=ROOT, check=True)
            api, env, _, bridge = stack.start_stack(procs, state_dir, ports, f"-bench-{secrets.token_hex(3)}", extra_env,
                                                    reload=False, SignupPlan="enterprise")
            yield api, env
        finally:
            if bridge:
                bridge.stop()


def webhooks(args):
    """Writes event items as changes write them, and times each until every receiver has it."""
    received = {}  # (event id, receiver) -> monotonic time
    lock = threading.Lock()

    def receiver(index):
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with lock:
                    received.setdefault((body["id"], index), time.monotonic())
                self.send_response(204)
                self.end_headers()

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{server.server_address[1]}/"

    with dev_stack("webhooks", {"RUST_LOG": "warn"}) as (api, env):
        key, token = stack.seed_workspace(api, f"bench-{secrets.token_hex(4)}@example.com", secrets.token_urlsafe(18))
        auth = {"Authorization": f"Bearer {key}"}
        for index in range(args.endpoints):
            status, body = stack.http_json("POST", f"{api}/v1/webhooks", {"url": receiver(index), "events": ["appointment.created"]}, auth)
            assert status == 201, body
        workspace = stack.http_json("GET", f"{api}/v1/auth/me", headers={"Authorization": f"Bearer {token}"})[1]["workspace"]["id"]
        ddb = boto3.client("dynamodb", endpoint_url=env["AWS_ENDPOINT_URL_DYNAMODB"], region_name=stack.REGION,
                           aws_access_key_id="local", aws_secret_access_key="local")
        table = env["TABLE_NAME"]
        # Warm every function up with one event first, so cold starts do not count.
        written = {}
        for n in range(args.events + 1):
            event_id = ulid("evt")
            stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            item = {"PK": {"S": f"{workspace}#EVENT"}, "SK": {"S": event_id}, "entity": {"S": "event"}, "workspace_id": {"S": workspace},
                    "id": {"S": event_id}, "object": {"S": "event"}, "event": {"S": "appointment.created"}, "timestamp": {"S": stamp},
                    "data": {"M": {"n": {"N": str(n)}}}}
            if args.rate and n:
                # Paced: the n-th event is written at n / rate seconds.
                time.sleep(max(0.0, start + n / args.rate - time.monotonic()))
            ddb.put_item(TableName=table, Item=item)
            written[event_id] = time.monotonic()
            if n == 0:
                deadline = time.monotonic() + 300
                while len(received) < args.endpoints and time.monotonic() < deadline:
                    time.sleep(0.05)
                warm = event_id
                start = time.monotonic()
        expected = args.events * args.endpoints
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            with lock:
                done = sum(1 for (event_id, _) in received if event_id != warm)
            if done >= expected:
                break
            time.sleep(0.2)
        latencies = sorted((at - written[event_id]) * 1000 for (event_id, _), at in received.items() if event_id != warm)
        first = min(written[e] for e in written if e != warm)
        last = max(at for (e, _), at in received.items() if e != warm)
        print()
        pace = f"{args.rate} events/s" if args.rate else "written as fast as one client can"
        print(f"webhooks: {args.events} events ({pace}) x {args.endpoints} endpoints on the local stack (debug builds, 2 cores):")
        print(f"  delivered {len(latencies)} of {expected} in {last - first:.1f} s ({len(latencies) / (last - first):.0f} deliveries/s)")
        pct = lambda p: latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))]  # noqa: E731
        print(f"  event written -> received: p50 {pct(50):.0f} ms   p90 {pct(90):.0f} ms   p99 {pct(99):.0f} ms   max {latencies[-1]:.0f} ms")


def cargo_bench(name, runs):
    """Runs `cargo bench --bench <name> -- <run>` for each run, against emulators of its own."""
    with stack.run_folder(f"bench-{os.getpid()}") as (state_dir, procs):
        endpoints = stack.start_emulators(procs, stack.free_port(), stack.free_port())
        made = stack.provision(_TEMPLATE, endpoints, f"-bench-{secrets.token_hex(3)}")
        env = stack.function_env(_TEMPLATE, made, endpoints, _TEMPLATE.parameters(PublicBaseUrl="http://127.0.0.1"), state_dir)
        env["RUST_LOG"] = "warn"
        bench = ["cargo", "bench", "--locked", "-p", "switchboard-tests", "--bench", name, "--"]
        for run in runs:
            subprocess.run([*bench, *run], cwd=ROOT, env={**os.environ, **env}, check=True)


# What the API benchmark calls, and what its requests and the stack's schedules set running
# (a function built on first use would hold the build directory's lock while the others wait).
BENCH_API_FUNCTIONS = ["catalog", "auth", "api-keys", "agents", "mailer", "event-router", "number-renewals", "workflow-scheduler"]


def api(args):
    with stack.run_folder(f"bench-api-{os.getpid()}") as (state_dir, procs):
        bridge = None
        try:
            ports = {"dynamodb": stack.free_port(), "moto": stack.free_port(), "api": stack.free_port()}
            # As on AWS, a function runs as many instances as requests come at once.
            stack.CONCURRENCY = args.concurrency
            # The enterprise plan's buckets, scaled up a hundredfold (the same code counts them), hold
            # the measured requests: the benchmark times requests, not refusals.
            url, env, _, bridge = stack.start_stack(procs, state_dir, ports, f"-bench-{secrets.token_hex(3)}", {"RATE_LIMIT_SCALE": "100"}, reload=False,
                                                    release=True, release_binaries=BENCH_API_FUNCTIONS,
                                                    SignupPlan="enterprise")
            key, token = stack.seed_workspace(url, "bench@switchboard.local", secrets.token_urlsafe(18))
            keys = [key]
            for _ in range(2):
                status, body = stack.http_json("POST", f"{url}/v1/api-keys", {"name": "bench", "scope": "read"}, {"Authorization": f"Bearer {token}"})
                assert status == 201, body
                keys.append(body["secret"])
            status, me = stack.http_json("GET", f"{url}/v1/auth/me", None, {"Authorization": f"Bearer {token}"})
            assert status == 200, me
            status, agent = stack.http_json("POST", f"{url}/v1/agents", {"name": "bench", "system_prompt": "p"}, {"Authorization": f"Bearer {key}"})
            assert status == 201, agent
            run_env = {**os.environ, **env, "RUST_LOG": "warn", "BENCH_API_URL": url, "BENCH_API_KEYS": ",".join(keys),
                       "BENCH_WORKSPACE": me["workspace"]["id"], "BENCH_AGENT": agent["id"]}
            subprocess.run(["cargo", "bench", "--locked", "-p", "switchboard-tests", "--bench", "api", "--",
                            "--requests", str(args.requests), "--concurrency", str(args.concurrency)], cwd=ROOT, env=run_env, check=True)
        finally:
            if bridge:
                bridge.stop()


def campaigns(args):
    workers = ["--workers", str(args.workers)]
    cargo_bench("campaigns", [["import", "--rows", str(args.rows), *workers],
                              ["dialer", "--targets", str(args.targets), "--concurrency", str(args.concurrency), *workers]])


def ledger(args):
    cargo_bench("ledger", [["--calls", str(args.calls), "--concurrency", str(args.concurrency)]])


def audit(args):
    cargo_bench("audit", [["--repeat", str(args.repeat)]])


def dsr(args):
    cargo_bench("dsr", [["--calls", str(args.calls)]])


def workflows(args):
    cargo_bench("workflows", [["--runs", str(args.runs), "--workers", str(args.workers), "--events", str(args.events)]])


def lost_answers(args):
    import urllib.error
    import urllib.request
    from concurrent.futures import ThreadPoolExecutor
    extra = {"RUST_LOG": "warn", "PUBLIC_RATE_LIMIT_PER_MINUTE": "1000", "RATE_LIMIT_SCALE": "100"}
    with dev_stack("lost-answers", extra) as (api, _):
        key, _ = stack.seed_workspace(api, f"bench-{secrets.token_hex(4)}@example.com", secrets.token_urlsafe(18))
        status, agent = stack.http_json("POST", f"{api}/v1/agents", {"name": "bench", "system_prompt": "p"}, {"Authorization": f"Bearer {key}"})
        assert status == 201, agent
        preview = json.dumps({"voice": "amelia", "text": "Hello, this is Amelia from Acme Dental. How can I help you today?"}).encode()
        # (name, method, path, body, headers): answers from tens of bytes to a hundred KB and more.
        kinds = [("openapi", "GET", "/v1/openapi.json", None, {}),
                 ("openapi gzip", "GET", "/v1/openapi.json", None, {"Accept-Encoding": "gzip"}),
                 ("reference", "GET", "/docs", None, {}),
                 ("preview", "POST", "/v1/voices/preview", preview, {"Content-Type": "application/json"}),
                 ("sample", "GET", "/v1/voices/leo/sample", None, {}),
                 ("voices", "GET", "/v1/voices", None, {}),
                 ("agents", "GET", "/v1/agents", None, {"Authorization": f"Bearer {key}"}),
                 ("agent", "GET", f"/v1/agents/{agent['id']}", None, {"Authorization": f"Bearer {key}"}),
                 ("health", "GET", "/v1/healthz", None, {})]

        def ask(n):
            name, method, path, body, headers = kinds[n % len(kinds)]
            request = urllib.request.Request(f"{api}{path}", data=body, method=method, headers=headers)
            try:
                with urllib.request.urlopen(request, timeout=120) as res:
                    return name, res.status, len(res.read()), False
            except urllib.error.HTTPError as e:
                answer = e.read()
                return name, e.code, len(answer), e.code == 500 and b"httpstatuses.com" in answer

        for n in range(len(kinds)):
            ask(n)  # every function started once, before counting
        started = time.monotonic()
        with ThreadPoolExecutor(args.concurrency) as pool:
            results = list(pool.map(ask, range(args.requests)))
        elapsed = time.monotonic() - started
        print(f"\n{args.requests} requests through cargo lambda watch, {args.concurrency} at a time, in {elapsed:.0f} s")
        for name, *_ in kinds:
            mine = [r for r in results if r[0] == name]
            lost = sum(1 for r in mine if r[3])
            sizes = sorted(r[2] for r in mine if not r[3])
            print(f"  {name:<13} {len(mine):>6} requests, answers of ~{sizes[len(sizes) // 2] if sizes else 0:>7,} bytes: {lost} lost")
        lost = sum(1 for r in results if r[3])
        print(f"answers not written by the API: {lost} of {args.requests}")


FUZZ_TARGETS = ["cursor", "upload", "json_body", "phone", "signatures"]


def fuzz(args):
    cargo_fuzz = stack.LOCAL / "cargo-fuzz" / "bin" / "cargo-fuzz"
    if not cargo_fuzz.exists():
        subprocess.run(["cargo", "install", "cargo-fuzz", "--locked", "--root", str(cargo_fuzz.parent.parent)], check=True)
    env = {**os.environ, "RUSTUP_TOOLCHAIN": "nightly"}
    unknown = set(args.targets) - set(FUZZ_TARGETS)
    if unknown:
        raise SystemExit(f"no fuzz target {', '.join(sorted(unknown))}: the targets are {', '.join(FUZZ_TARGETS)}")
    crashed = []
    for target in args.targets or FUZZ_TARGETS:
        run = subprocess.run([str(cargo_fuzz), "fuzz", "run", "--fuzz-dir", "shared/fuzz", target, "--", f"-max_total_time={args.seconds}"],
                             cwd=ROOT, env=env, capture_output=True, text=True)
        done = [line for line in run.stderr.splitlines() if line.startswith("Done ")]
        # libFuzzer's last line: "Done N runs in S second(s)".
        runs, seconds = (int(done[-1].split()[1]), max(int(done[-1].split()[4]), 1)) if done else (0, 1)
        status = "clean" if run.returncode == 0 else f"CRASHED (exit {run.returncode})"
        print(f"fuzz {target:<11} {runs:>10,} runs in {seconds} s ({runs // seconds:,}/s): {status}", flush=True)
        if run.returncode != 0:
            print(run.stderr[-4000:])
            crashed.append(target)
    if crashed:
        raise SystemExit(f"crashes in {', '.join(crashed)}: inputs under shared/fuzz/artifacts/")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("coldstart")
    c.add_argument("--runs", type=int, default=10)
    c.add_argument("--against", help="a directory holding another release build's `agents`, timed alongside")
    c.set_defaults(run=coldstart)
    s = sub.add_parser("sizes")
    s.add_argument("--arm64", action="store_true")
    s.add_argument("functions", nargs="*", help="only these functions' arm64 bootstraps (default: all)")
    s.set_defaults(run=sizes)
    w = sub.add_parser("webhooks")
    w.add_argument("--events", type=int, default=1000)
    w.add_argument("--endpoints", type=int, default=3)
    w.add_argument("--rate", type=float, default=0, help="events written per second (0: as fast as possible)")
    w.set_defaults(run=webhooks)
    m = sub.add_parser("campaigns")
    m.add_argument("--rows", type=int, default=100_000)
    m.add_argument("--targets", type=int, default=10_000)
    m.add_argument("--concurrency", type=int, default=100)
    m.add_argument("--workers", type=int, default=4)
    m.set_defaults(run=campaigns)
    a = sub.add_parser("api")
    a.add_argument("--requests", type=int, default=2000)
    a.add_argument("--concurrency", type=int, default=16)
    a.set_defaults(run=api)
    g = sub.add_parser("ledger")
    g.add_argument("--calls", type=int, default=2000)
    g.add_argument("--concurrency", type=int, default=32)
    g.set_defaults(run=ledger)
    u = sub.add_parser("audit")
    u.add_argument("--repeat", type=int, default=20)
    u.set_defaults(run=audit)
    d = sub.add_parser("dsr")
    d.add_argument("--calls", type=int, default=1000)
    d.set_defaults(run=dsr)
    w = sub.add_parser("workflows")
    w.add_argument("--runs", type=int, default=500)
    w.add_argument("--workers", type=int, default=8)
    w.add_argument("--events", type=int, default=200)
    w.set_defaults(run=workflows)
    la = sub.add_parser("lost-answers")
    la.add_argument("--requests", type=int, default=10_000)
    la.add_argument("--concurrency", type=int, default=4)
    la.set_defaults(run=lost_answers)
    f = sub.add_parser("fuzz")
    f.add_argument("--seconds", type=int, default=60)
    f.add_argument("targets", nargs="*", help=f"of {', '.join(FUZZ_TARGETS)} (default: every one)")
    f.set_defaults(run=fuzz)
    args = parser.parse_args()
    # Stopped: the emulators and the stack stop too.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    args.run(args)


if __name__ == "__main__":
    main()
