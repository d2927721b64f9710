#!/usr/bin/python3
"""A test-only token service for a registry's Bearer auth (the docker token protocol).

Usage: token_server.py CERT_FILE PORT_FILE [TTL_SECONDS]
Makes an RSA key and a self-signed certificate (written to CERT_FILE, the registry's
rootcertbundle), listens on 127.0.0.1 (a free port, written to PORT_FILE) and answers
GET /token?service=S&scope=repository:NAME:ACTIONS... for user "alice", password "s3cret" (Basic)
with an RS256 JWT carrying its certificate in `x5c`, issuer "airlock-test-issuer", audience S, and
every requested action granted on repositories under "airlock/" (none elsewhere: a push there meets
`insufficient_scope`). Wrong or missing credentials get 401.
A token is good for TTL_SECONDS (300 unless given): distribution accepts a token up to 60 s past
its `exp`, so `exp` is set that much earlier. Each token issued is a line in tokens.log next to
PORT_FILE.
"""
import base64
import datetime
import http.server
import json
import os
import sys
import time
import urllib.parse

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

CERT_FILE, PORT_FILE = sys.argv[1], sys.argv[2]
TTL = int(sys.argv[3]) if len(sys.argv) > 3 else 300
LEEWAY = 60  # distribution's allowance past exp (registry/auth/token: Leeway)
TOKEN_LOG = os.path.join(os.path.dirname(os.path.abspath(PORT_FILE)), "tokens.log")
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
NAME = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "airlock-test-token")])
NOW = datetime.datetime.now(datetime.timezone.utc)
CERT = (x509.CertificateBuilder().subject_name(NAME).issuer_name(NAME).public_key(KEY.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(NOW - datetime.timedelta(hours=1))
        .not_valid_after(NOW + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(KEY, hashes.SHA256()))
with open(CERT_FILE, "wb") as f:
    f.write(CERT.public_bytes(serialization.Encoding.PEM))
EXPECTED = "Basic " + base64.b64encode(b"alice:s3cret").decode()


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token(service, scopes):
    access = []
    for scope in scopes:
        kind, _, rest = scope.partition(":")
        name, _, actions = rest.rpartition(":")
        granted = actions.split(",") if name.startswith("airlock/") else []
        access.append({"type": kind, "name": name, "actions": granted})
    now = int(time.time())
    header = {"typ": "JWT", "alg": "RS256",
              "x5c": [base64.b64encode(CERT.public_bytes(serialization.Encoding.DER)).decode()]}
    claims = {"iss": "airlock-test-issuer", "sub": "alice", "aud": service, "exp": now + TTL - LEEWAY,
              "nbf": now - 10, "iat": now, "jti": b64url(os.urandom(12)), "access": access}
    signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
    sig = KEY.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return signing_input + "." + b64url(sig)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        query = urllib.parse.parse_qs(url.query)
        if self.headers.get("Authorization") != EXPECTED:
            body, status = b'{"details":"bad credentials"}', 401
        else:
            t = token(query.get("service", [""])[0], query.get("scope", []))
            body, status = json.dumps({"token": t, "expires_in": TTL}).encode(), 200
            with open(TOKEN_LOG, "a") as log:
                log.write("%d %s\n" % (int(time.time()), " ".join(query.get("scope", []))))
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(PORT_FILE + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(PORT_FILE + ".tmp", PORT_FILE)
server.serve_forever()
