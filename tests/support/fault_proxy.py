#!/usr/bin/python3
"""A test-only HTTP proxy on loopback in front of a registry, that misbehaves on purpose.

Usage: fault_proxy.py UPSTREAM_HOST:PORT PORT_FILE MODE [LOG_FILE]
It listens on 127.0.0.1 (a free port, written to PORT_FILE) and forwards every request to the
registry as it is (same Host header, so the registry's Location headers name the proxy). MODE:
  pass           forward only
  flip           flip one byte in the middle of every blob body of more than 64 bytes
  truncate-once  the first blob GET of more than 64 bytes: full Content-Length, half the body, close
  ignore-range   like truncate-once, and every Range header is dropped (the registry answers 200)
  unframed-truncate-once  like truncate-once, but that answer has no Content-Length: its end is
                 the connection's close, which looks like a complete answer
  patch-503-once the first PATCH is answered 503 (its body read and thrown away)
  alter-manifest every manifest GET answered with the manifest re-serialized with one more
                 annotation (another manifest than the one a digest names)
  pad-manifest   every manifest GET gets 5 MiB of spaces after its JSON (still valid JSON)
  log            forward only, and append "METHOD PATH STATUS" of every request to LOG_FILE, in the
                 order the answers went back (what was sent, and in which order)
  redirect       every blob GET is answered 307 to a second listener on 127.0.0.2, which serves the
                 blob and appends each Authorization header it receives to LOG_FILE
  wrong-digest-header  every Docker-Content-Digest header is replaced by the digest of other bytes
  stale-location-once  the first upload POST's Location gets another upload UUID (its _state still
                 names the real one): the next request on it meets BLOB_UPLOAD_INVALID
  cancel-upload-once   the first closing PUT of an upload: the proxy DELETEs the session upstream
                 first, so the PUT meets BLOB_UPLOAD_UNKNOWN
  expire-token   holds the first PATCH, and the first blob HEAD after it, until the Bearer token
                 each carries has expired (its exp plus distribution's 60 s leeway)
  kill-after-puts:N:PID  after the Nth upload PUT answered 201, SIGKILL to PID (the registry);
                 a request the registry is not there for gets its connection closed unanswered
Every request is appended to requests.log next to PORT_FILE: "METHOD PATH STATUS [ERROR_CODE]"
(status 0: no answer; the code from the registry's error body), so that a test can tell what was
sent, in which order, and what the registry said.
"""
import base64
import http.client
import http.server
import json
import os
import re
import signal
import sys
import threading
import time
import uuid

UPSTREAM, PORT_FILE, MODE = sys.argv[1], sys.argv[2], sys.argv[3]
LOG_FILE = sys.argv[4] if len(sys.argv) > 4 else None
STATE = {"truncated": False, "patched": False, "auth": None, "stale": False, "cancelled": False,
         "held_patch": False, "held_head": False, "puts": 0, "killed": False}
REQUEST_LOG = os.path.join(os.path.dirname(os.path.abspath(PORT_FILE)), "requests.log")
LOCK = threading.Lock()
HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-authorization"}


def is_blob_get(handler):
    return handler.command == "GET" and "/blobs/sha256:" in handler.path


def is_upload_close(handler):
    return handler.command == "PUT" and "/blobs/uploads/" in handler.path and "digest=" in handler.path


def error_code(data):
    """The registry's own error code from an error body ("BLOB_UPLOAD_UNKNOWN"), or ""."""
    try:
        return json.loads(data)["errors"][0]["code"]
    except (ValueError, KeyError, IndexError, TypeError):
        return ""


def log_request(handler, status, code):
    with LOCK:
        with open(REQUEST_LOG, "a") as log:
            log.write("%s %s %d%s\n" % (handler.command, handler.path, status, " " + code if code else ""))


def upstream(method, path, body=None, headers=None):
    conn = http.client.HTTPConnection(UPSTREAM, timeout=60)
    conn.request(method, path, body=body, headers=headers or {})
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp, data


def forward(handler, path=None, drop_range=False, extra_auth=None):
    length = int(handler.headers.get("Content-Length") or 0)
    body = handler.rfile.read(length) if length else None
    headers = {k: v for k, v in handler.headers.items() if k.lower() not in HOP}
    if drop_range:
        headers.pop("Range", None)
    if extra_auth:
        headers["Authorization"] = extra_auth
    return upstream(handler.command, path or handler.path, body, headers)


def send(handler, status, headers, data, cut=None, unframed=False):
    handler.send_response(status)
    for k, v in headers:
        if k.lower() not in HOP and k.lower() != "content-length":
            handler.send_header(k, v)
    # A HEAD answer has no body but tells the size of what a GET would send (a blob's size).
    length = dict((k.lower(), v) for k, v in headers).get("content-length") if handler.command == "HEAD" else None
    if unframed:
        handler.send_header("Connection", "close")
    else:
        handler.send_header("Content-Length", length or str(len(data)))
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(data if cut is None else data[:cut])
    if cut is not None:
        handler.wfile.flush()
        handler.close_connection = True


def first(key):
    """True the first time it is asked for `key`."""
    with LOCK:
        was = STATE[key]
        STATE[key] = True
    return not was


def wait_until_token_expired(handler):
    """Sleeps until the Bearer token the request carries is one distribution no longer accepts."""
    auth = handler.headers.get("Authorization", "")
    if not auth.startswith("Bearer "):
        return
    payload = auth.split(" ", 1)[1].split(".")[1]
    exp = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["exp"]
    while time.time() <= exp + 60 + 1:
        time.sleep(0.1)


class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def handle_any(self):
        try:
            status, code = self.answer()
        except OSError:  # the registry is not there (killed): the client sees the connection close
            status, code = 0, ""
            self.close_connection = True
        log_request(self, status, code)

    def answer(self):
        if "Authorization" in self.headers:
            STATE["auth"] = self.headers["Authorization"]
        if MODE == "patch-503-once" and self.command == "PATCH" and first("patched"):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            send(self, 503, [], b"try later")
            return 503, ""
        if MODE == "redirect" and is_blob_get(self):
            other = "http://127.0.0.2:%d%s" % (SECOND.server_address[1], self.path)
            send(self, 307, [("Location", other)], b"")
            return 307, ""
        if MODE == "expire-token":
            if self.command == "PATCH" and first("held_patch"):
                wait_until_token_expired(self)
            elif self.command == "HEAD" and "/blobs/" in self.path and STATE["held_patch"] and first("held_head"):
                wait_until_token_expired(self)
        if MODE == "cancel-upload-once" and is_upload_close(self) and first("cancelled"):
            headers = {"Authorization": self.headers["Authorization"]} if "Authorization" in self.headers else {}
            upstream("DELETE", self.path.split("digest=")[0].rstrip("?&"), headers=headers)
        if MODE.startswith("kill-after-puts:") and STATE["killed"]:
            raise ConnectionRefusedError("the registry was killed")
        resp, data = forward(self, drop_range=(MODE == "ignore-range"))
        headers = resp.getheaders()
        cut = None
        if MODE == "alter-manifest" and self.command == "GET" and "/manifests/" in self.path:
            doc = json.loads(data)
            doc.setdefault("annotations", {})["injected"] = "by the proxy"
            data = json.dumps(doc).encode()
        if MODE == "pad-manifest" and self.command == "GET" and "/manifests/" in self.path:
            data += b" " * (5 * 1024 * 1024)
        if MODE == "wrong-digest-header":
            wrong = "sha256:" + "0" * 64
            headers = [(k, wrong if k.lower() == "docker-content-digest" else v) for k, v in headers]
        if MODE == "stale-location-once" and self.command == "POST" and resp.status == 202 and first("stale"):
            stale = str(uuid.uuid4())
            headers = [(k, re.sub(r"/uploads/[0-9a-f-]{36}", "/uploads/" + stale, v) if k.lower() == "location" else v)
                       for k, v in headers]
        if MODE.startswith("kill-after-puts:") and is_upload_close(self) and resp.status == 201:
            _, n, pid = MODE.split(":")
            with LOCK:
                STATE["puts"] += 1
                if STATE["puts"] == int(n):
                    os.kill(int(pid), signal.SIGKILL)
                    STATE["killed"] = True
        if is_blob_get(self) and len(data) > 64:
            if MODE == "flip":
                data = bytearray(data)
                data[len(data) // 2] ^= 0x01
                data = bytes(data)
            if MODE in ("truncate-once", "ignore-range", "unframed-truncate-once") and first("truncated"):
                cut = len(data) // 2
        if MODE == "log":
            with LOCK, open(LOG_FILE, "a") as log:
                log.write("%s %s %d\n" % (self.command, self.path, resp.status))
        send(self, resp.status, headers, data, cut, unframed=MODE == "unframed-truncate-once" and cut is not None)
        return resp.status, error_code(data) if resp.status >= 400 else ""

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any


class Second(http.server.BaseHTTPRequestHandler):
    """The other host of a redirect: logs what Authorization it was sent, serves the blob."""
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        with open(LOG_FILE, "a") as log:
            log.write("GET %s Authorization=%s\n" % (self.path, self.headers.get("Authorization", "")))
        resp, data = forward(self, extra_auth=STATE["auth"])
        send(self, resp.status, resp.getheaders(), data)


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
SECOND = None
if MODE == "redirect":
    SECOND = http.server.ThreadingHTTPServer(("127.0.0.2", 0), Second)
    threading.Thread(target=SECOND.serve_forever, daemon=True).start()
with open(PORT_FILE + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
import os
os.rename(PORT_FILE + ".tmp", PORT_FILE)
server.serve_forever()
