#!/usr/bin/env python3
"""An example Switchboard webhook receiver (standard library only).

It checks both signatures of every delivery with the endpoint's secret, answers 2xx only when
they verify, and prints one JSON line per delivery:

  scripts/webhook-receiver.py --port 8787 --secret whsec_...
  curl -X POST $SWITCHBOARD_API_URL/v1/webhooks -H "Authorization: Bearer $SWITCHBOARD_API_KEY" \\
    -H 'Content-Type: application/json' -d '{"url": "http://127.0.0.1:8787/", "events": ["call.ended"]}'

(Create the endpoint first to get its secret, then start the receiver with it; locally, plain
http to 127.0.0.1 is allowed.)

- `X-Switchboard-Signature: sha256=<hex>`: HMAC-SHA256 of the raw body, keyed with the secret.
- `Switchboard-Signature: t=<unix>,v1=<hex>[,v1=<hex>]`: HMAC-SHA256 of "<t>.<raw body>"; any
  `v1` may match (during a secret rotation there is one per secret), and `t` must be recent, so
  that a captured delivery cannot be replayed later.

Deliveries are at least once: deduplicate on the event's `id`.
"""

import argparse
import hashlib
import hmac
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def simple_signature_valid(raw_body: bytes, header: str, secret: str) -> bool:
    expected = "sha256=" + hmac.new(secret.encode(), raw_body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header or "")


def timed_signature_valid(raw_body: bytes, header: str, secret: str, tolerance: int) -> bool:
    fields = [part.split("=", 1) for part in (header or "").split(",") if "=" in part]
    stamps = [value for name, value in fields if name.strip() == "t"]
    signatures = [value for name, value in fields if name.strip() == "v1"]
    if len(stamps) != 1 or not stamps[0].isdigit() or abs(time.time() - int(stamps[0])) > tolerance:
        return False
    expected = hmac.new(secret.encode(), stamps[0].encode() + b"." + raw_body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, s) for s in signatures)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8787, help="port on 127.0.0.1 (0: any free port, printed first)")
    parser.add_argument("--secret", required=True, help="the endpoint's signing secret (whsec_...)")
    parser.add_argument("--tolerance", type=int, default=300, help="seconds a t= stamp may be old")
    args = parser.parse_args()

    printing = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_):
            pass

        def do_POST(self):
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            simple = simple_signature_valid(raw, self.headers.get("X-Switchboard-Signature"), args.secret)
            timed = timed_signature_valid(raw, self.headers.get("Switchboard-Signature"), args.secret, args.tolerance)
            try:
                event = json.loads(raw)
            except ValueError:
                event = {}
            line = json.dumps({"id": event.get("id"), "event": event.get("event"),
                               "delivery_id": self.headers.get("Switchboard-Delivery-Id"),
                               "simple_signature": simple, "timed_signature": timed})
            # Deliveries arrive concurrently (one thread each): one line each, never interleaved.
            with printing:
                sys.stdout.write(line + "\n")
                sys.stdout.flush()
            self.send_response(204 if simple and timed else 401)
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print(json.dumps({"listening": f"http://127.0.0.1:{server.server_address[1]}/"}), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
