"""A local Web Push service for Mentorhub's notification tests.

It plays both sides a browser and its push service would:
- like a browser, it makes subscriptions: a P-256 key pair and a 16-byte auth secret
  per subscription, bound to the server's VAPID public key (`applicationServerKey`);
- like a push service (RFC 8030), it takes `POST /push/<id>` and answers 201, after
  checking the VAPID header (RFC 8292: an ES256 JWT signed by the key the subscription
  was bound to, `aud` this service's origin, `exp` within 24 hours, a `sub` contact)
  and decrypting the body (RFC 8291 `aes128gcm`) with the subscription's own keys.

Control API (JSON), for the tests:
  POST /subscriptions {"application_server_key": "<b64url>"}
       -> {"id", "endpoint", "keys": {"p256dh", "auth"}}
  POST /subscriptions/<id>/gone   every later push to it answers 410
  GET  /received                  {"messages": [...], "refused": [...], "gone": n}

Each received message: {"subscription", "topic", "ttl", "urgency", "payload",
"replaced"} (payload as decrypted JSON). As RFC 8030 §5.4 has it, a message with the
topic of an earlier one to the same subscription replaces it (`replaced`: true on the
earlier one), as if the device had not fetched it yet. `--delay-ms N` holds every push
request N ms before answering (a slow push service). A push that fails a check is answered 400/401/403 and listed in
`refused` with the reason. Prints `push-receiver listening on http://127.0.0.1:PORT`.

Uses PyPI `http-ece` (decryption) and `py-vapid` (JWT verification).
"""

import base64
import json
import os
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import http_ece
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import jwt as vapid_jwt


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


LOCK = threading.Lock()
SUBSCRIPTIONS = {}  # id -> {"private_key", "auth", "server_key", "gone"}
MESSAGES = []
REFUSED = []
GONE = [0]  # pushes answered 410
DELAY_MS = [0]
ORIGIN = ""


def vapid_claims(header: str, server_key: str):
    """Checks `Authorization: vapid t=<jwt>, k=<key>`; returns the claims or raises."""
    match = re.fullmatch(r"vapid\s+(.*)", header.strip(), re.IGNORECASE)
    if not match:
        raise ValueError("not a vapid Authorization header")
    params = {}
    for part in match.group(1).split(","):
        name, _, value = part.strip().partition("=")
        params[name.strip()] = value.strip()
    token, key = params.get("t"), params.get("k")
    if not token or not key:
        raise ValueError("vapid header without t= and k=")
    if key != server_key:
        raise PermissionError("signed by another key than the subscription's")
    head = json.loads(unb64url(token.split(".")[0]))
    if head.get("alg") != "ES256":
        raise ValueError("JWT alg is not ES256")
    claims = vapid_jwt.decode(token, key)  # raises InvalidSignature
    now = time.time()
    if claims.get("aud") != ORIGIN:
        raise ValueError(f"aud {claims.get('aud')!r} is not {ORIGIN!r}")
    exp = claims.get("exp")
    if not isinstance(exp, (int, float)) or exp <= now or exp > now + 24 * 3600 + 60:
        raise ValueError("exp missing, past, or more than 24 hours ahead")
    sub = claims.get("sub", "")
    if not (sub.startswith("mailto:") or sub.startswith("https://")):
        raise ValueError("sub is not a mailto: or https: contact")
    return claims


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body=None, headers=None):
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_GET(self):
        if self.path == "/received":
            with LOCK:
                self.reply(200, {"messages": MESSAGES, "refused": REFUSED, "gone": GONE[0]})
        else:
            self.reply(404, {"error": "no such route"})

    def do_POST(self):
        raw = self.body()
        if self.path == "/subscriptions":
            request = json.loads(raw or b"{}")
            private_key = ec.generate_private_key(ec.SECP256R1())
            public = private_key.public_key().public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            )
            auth = os.urandom(16)
            sid = b64url(os.urandom(12))
            with LOCK:
                SUBSCRIPTIONS[sid] = {
                    "private_key": private_key,
                    "auth": auth,
                    "server_key": request["application_server_key"],
                    "gone": False,
                }
            self.reply(
                201,
                {
                    "id": sid,
                    "endpoint": f"{ORIGIN}/push/{sid}",
                    "keys": {"p256dh": b64url(public), "auth": b64url(auth)},
                },
            )
            return
        match = re.fullmatch(r"/subscriptions/([A-Za-z0-9_-]+)/gone", self.path)
        if match:
            with LOCK:
                SUBSCRIPTIONS[match.group(1)]["gone"] = True
            self.reply(204)
            return
        match = re.fullmatch(r"/push/([A-Za-z0-9_-]+)", self.path)
        if match:
            self.push(match.group(1), raw)
            return
        self.reply(404, {"error": "no such route"})

    def push(self, sid, raw):
        with LOCK:
            subscription = SUBSCRIPTIONS.get(sid)
        if subscription is None:
            self.reply(404)
            return
        time.sleep(DELAY_MS[0] / 1000)
        if subscription["gone"]:
            with LOCK:
                GONE[0] += 1
            self.reply(410)
            return

        def refuse(status, reason):
            with LOCK:
                REFUSED.append({"subscription": sid, "reason": reason})
            self.reply(status, {"reason": reason})

        try:
            vapid_claims(self.headers.get("Authorization", ""), subscription["server_key"])
        except PermissionError as error:
            return refuse(403, str(error))
        except Exception as error:  # noqa: BLE001 - every failure is a refusal
            return refuse(401, f"VAPID: {error!r}")
        if self.headers.get("Content-Encoding") != "aes128gcm":
            return refuse(400, "Content-Encoding is not aes128gcm")
        ttl = self.headers.get("TTL")
        if ttl is None or not ttl.isdigit():
            return refuse(400, "TTL header missing")
        try:
            plain = http_ece.decrypt(
                raw,
                private_key=subscription["private_key"],
                auth_secret=subscription["auth"],
                version="aes128gcm",
            )
            payload = json.loads(plain)
        except Exception as error:  # noqa: BLE001
            return refuse(400, f"decryption: {error!r}")
        topic = self.headers.get("Topic")
        with LOCK:
            for earlier in MESSAGES:
                if topic and earlier["subscription"] == sid and earlier["topic"] == topic:
                    earlier["replaced"] = True
            MESSAGES.append(
                {
                    "replaced": False,
                    "subscription": sid,
                    "topic": topic,
                    "ttl": int(ttl),
                    "urgency": self.headers.get("Urgency"),
                    "payload": payload,
                }
            )
            number = len(MESSAGES)
        self.reply(201, headers={"Location": f"{ORIGIN}/messages/{number}"})


def main():
    global ORIGIN
    if "--delay-ms" in sys.argv:
        DELAY_MS[0] = int(sys.argv[sys.argv.index("--delay-ms") + 1])
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ORIGIN = f"http://127.0.0.1:{server.server_address[1]}"
    print(f"push-receiver listening on {ORIGIN}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
