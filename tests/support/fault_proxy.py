#!/usr/bin/python3
"""A test-only HTTP proxy on loopback in front of a registry, that misbehaves on purpose.

Usage: fault_proxy.py UPSTREAM_HOST:PORT PORT_FILE MODE [LOG_FILE]
It listens on 127.0.0.1 (a free port, written to PORT_FILE) and forwards every request to the
registry as it is (same Host header, so the registry's Location headers name the proxy). MODE:
  pass           forward only
  flip           flip one byte in the middle of every blob body of more than 64 bytes
  truncate-once  the first blob GET of more than 64 bytes: full Content-Length, half the body, close
  ignore-range   like truncate-once, and every Range header is dropped (the registry answers 200)
  patch-503-once the first PATCH is answered 503 (its body read and thrown away)
  alter-manifest every manifest GET answered with the manifest re-serialized with one more
                 annotation (another manifest than the one a digest names)
  pad-manifest   every manifest GET gets 5 MiB of spaces after its JSON (still valid JSON)
  log            forward only, and append "METHOD PATH STATUS" of every request to LOG_FILE, in the
                 order the answers went back (what was sent, and in which order)
  redirect       every blob GET is answered 307 to a second listener on 127.0.0.2, which serves the
                 blob and appends each Authorization header it receives to LOG_FILE
"""
import http.client
import json
import http.server
import sys
import threading

UPSTREAM, PORT_FILE, MODE = sys.argv[1], sys.argv[2], sys.argv[3]
LOG_FILE = sys.argv[4] if len(sys.argv) > 4 else None
STATE = {"truncated": False, "patched": False, "auth": None}
LOCK = threading.Lock()
HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-authorization"}


def is_blob_get(handler):
    return handler.command == "GET" and "/blobs/sha256:" in handler.path


def forward(handler, path=None, drop_range=False, extra_auth=None):
    length = int(handler.headers.get("Content-Length") or 0)
    body = handler.rfile.read(length) if length else None
    headers = {k: v for k, v in handler.headers.items() if k.lower() not in HOP}
    if drop_range:
        headers.pop("Range", None)
    if extra_auth:
        headers["Authorization"] = extra_auth
    conn = http.client.HTTPConnection(UPSTREAM, timeout=60)
    conn.request(handler.command, path or handler.path, body=body, headers=headers)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp, data


def send(handler, status, headers, data, cut=None):
    handler.send_response(status)
    for k, v in headers:
        if k.lower() not in HOP and k.lower() != "content-length":
            handler.send_header(k, v)
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(data if cut is None else data[:cut])
    if cut is not None:
        handler.wfile.flush()
        handler.close_connection = True


class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def handle_any(self):
        if "Authorization" in self.headers:
            STATE["auth"] = self.headers["Authorization"]
        if MODE == "patch-503-once" and self.command == "PATCH":
            with LOCK:
                first = not STATE["patched"]
                STATE["patched"] = True
            if first:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                return send(self, 503, [], b"try later")
        if MODE == "redirect" and is_blob_get(self):
            other = "http://127.0.0.2:%d%s" % (SECOND.server_address[1], self.path)
            return send(self, 307, [("Location", other)], b"")
        resp, data = forward(self, drop_range=(MODE == "ignore-range"))
        cut = None
        if MODE == "alter-manifest" and self.command == "GET" and "/manifests/" in self.path:
            doc = json.loads(data)
            doc.setdefault("annotations", {})["injected"] = "by the proxy"
            data = json.dumps(doc).encode()
        if MODE == "pad-manifest" and self.command == "GET" and "/manifests/" in self.path:
            data += b" " * (5 * 1024 * 1024)
        if is_blob_get(self) and len(data) > 64:
            if MODE == "flip":
                data = bytearray(data)
                data[len(data) // 2] ^= 0x01
                data = bytes(data)
            if MODE in ("truncate-once", "ignore-range"):
                with LOCK:
                    if not STATE["truncated"]:
                        STATE["truncated"] = True
                        cut = len(data) // 2
        if MODE == "log":
            with LOCK, open(LOG_FILE, "a") as log:
                log.write("%s %s %d\n" % (self.command, self.path, resp.status))
        send(self, resp.status, resp.getheaders(), data, cut)

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
