#!/usr/bin/python3
"""The Updates page over plain HTTP: what an intruder or a foreign page tries is refused.
usage: security_test.py AIRLOCK_BINARY SOURCE_DIR"""
import fcntl
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import uitest  # noqa: E402

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
LIMIT = 256 * 1024
E = None


def setUpModule():
    global E
    E = uitest.Env(sys.argv[1], sys.argv[2])
    E.build("demo-1.1.0", "manifests/example")
    E.build("demo-1.1.1-xss", "manifests/example", {r'^version = .*': 'version = "1.1.1"',
                                                     r'^summary = .*': 'summary = "<script>alert(1)</script>"'})
    E.make_site(f"upload_limit = {LIMIT}\n")
    E.start()


def tearDownModule():
    E.cleanup()


def read(path):
    with open(path, "rb") as f:
        return f.read()


def history_len():
    return len(E.json("history")["history"])


class UpdatesPageSecurity(unittest.TestCase):
    def test_no_session_gets_no_page_and_changes_nothing(self):
        r, _ = E.request("GET", "/")
        self.assertEqual(r.status, 303)
        self.assertEqual(r.getheader("Location"), "/login")
        r, _ = E.request("GET", "/api/progress")
        self.assertEqual(r.status, 403)
        r, _ = E.request("GET", "/audit-export")
        self.assertEqual(r.status, 403)
        before = history_len()
        r, _ = E.request("POST", "/action/skip", "version=1.1.0", FORM)
        self.assertEqual(r.status, 403)
        self.assertEqual(history_len(), before)

    def test_session_cookie_is_httponly_samesite_strict(self):
        r, session, csrf = E.login()
        self.assertEqual(r.status, 303)
        cookie = r.getheader("Set-Cookie")
        self.assertIn("HttpOnly", cookie)
        self.assertIn("SameSite=Strict", cookie)
        self.assertEqual(len(session.split("=")[1]), 64)
        self.assertEqual(len(csrf), 64)

    def test_post_without_or_with_wrong_csrf_token_is_403_and_changes_nothing(self):
        _, session, csrf = E.login()
        before = history_len()
        for body in ["version=1.1.0", "version=1.1.0&csrf=" + "0" * 64, "version=1.1.0&csrf=" + csrf[:-1]]:
            r, _ = E.request("POST", "/action/skip", body, dict(FORM, Cookie=session))
            self.assertEqual(r.status, 403, body)
        r, _ = E.request("POST", "/action/channel", "channel=beta", dict(FORM, Cookie=session))
        self.assertEqual(r.status, 403)
        self.assertEqual(history_len(), before)
        self.assertFalse(E.json("channel", "show")["chosen"])
        # The same request with the token is carried out: the refusals above were the token's.
        r, _ = E.request("POST", "/action/skip", "version=9.9.9&csrf=" + csrf, dict(FORM, Cookie=session))
        self.assertEqual(r.status, 303)
        self.assertEqual(history_len(), before + 1)
        self.assertIn("via page", E.json("history")["history"][-1]["started_by"])
        last = E.json("audit", "export")["entries"][-1]
        self.assertEqual(last["kind"], "page")
        self.assertEqual(last["data"]["via"], "page")
        self.assertIn("9.9.9 skipped", last["data"]["detail"])

    def test_plan_view_needs_session_host_and_csrf_and_changes_nothing(self):
        _, session, csrf = E.login()
        body = "source=inbox&file=plan-1.1.0.tar.zst"
        shutil.copy(E.bundles["demo-1.1.0"], os.path.join(E.inbox(), "plan-1.1.0.tar.zst"))
        before = history_len()
        r, _ = E.request("POST", "/plan", body + "&csrf=" + csrf, FORM)
        self.assertEqual(r.status, 403)
        r, _ = E.request("POST", "/plan", body + "&csrf=" + csrf, dict(FORM, Cookie=session),
                         host=f"evil.example:{E.port}")
        self.assertEqual(r.status, 421)
        for b in [body, body + "&csrf=" + "0" * 64]:
            r, _ = E.request("POST", "/plan", b, dict(FORM, Cookie=session))
            self.assertEqual(r.status, 403, b)
        r, _ = E.request("POST", "/plan", "source=inbox&file=../site.toml&csrf=" + csrf, dict(FORM, Cookie=session))
        self.assertEqual(r.status, 400)
        r, page = E.request("POST", "/plan", body + "&csrf=" + csrf, dict(FORM, Cookie=session))
        self.assertEqual(r.status, 200)
        self.assertIn(b'data-id="0001_create_items"', page)
        self.assertIn(b'action="/action/apply"', page)
        self.assertEqual(history_len(), before)
        self.assertFalse(E.json("status")["installed"])
        os.remove(os.path.join(E.inbox(), "plan-1.1.0.tar.zst"))

    def test_plan_on_a_fresh_site_says_failing_preflight_checks_only_measure(self):
        # Nothing installed: the site's hard checks fail (no database yet) but only measure; the
        # plan must not list them as failing and then say "would go ahead" as if they had passed.
        _, session, csrf = E.login()
        shutil.copy(E.bundles["demo-1.1.0"], os.path.join(E.inbox(), "fresh-1.1.0.tar.zst"))
        try:
            for lang, words in [("en", "only measure"), ("pt-BR", "apenas medem"), ("es", "solo miden")]:
                r, page = E.request("POST", "/plan", "source=inbox&file=fresh-1.1.0.tar.zst&csrf=" + csrf,
                                    dict(FORM, Cookie=session, **{"Accept-Language": lang}))
                self.assertEqual(r.status, 200)
                page = page.decode()
                self.assertIn('data-ok="0"', page)  # a failing preflight check is listed
                go = re.search(r'<p class="ok" id="plan-go">([^<]*)</p>', page)
                self.assertTrue(go, lang)
                self.assertIn(words, go.group(1), lang)
                failing = re.findall(r'<li class="[a-z]*" data-ok="0">([^<]*)</li>', page)
                self.assertTrue(failing and all(words in f for f in failing), (lang, failing))
        finally:
            os.remove(os.path.join(E.inbox(), "fresh-1.1.0.tar.zst"))

    def test_foreign_host_header_is_refused(self):
        _, session, _ = E.login()
        for host in ["evil.example", f"evil.example:{E.port}", f"127.0.0.1:{E.port + 1}"]:
            r, body = E.request("GET", "/", headers={"Cookie": session}, host=host)
            self.assertEqual(r.status, 421, host)
            self.assertNotIn(b"csrf", body)
        r, _ = E.request("GET", "/", headers={"Cookie": session}, host=f"localhost:{E.port}")
        self.assertEqual(r.status, 200)

    def test_cross_origin_post_is_refused_and_no_cors_headers(self):
        _, session, csrf = E.login()
        r, _ = E.request("POST", "/action/skip", "version=9.9.8&csrf=" + csrf,
                         dict(FORM, Cookie=session, Origin="http://evil.example"))
        self.assertEqual(r.status, 403)
        r, _ = E.request("GET", "/", headers={"Cookie": session, "Origin": f"http://127.0.0.1:{E.port}"})
        self.assertEqual(r.status, 200)
        self.assertFalse([h for h, _ in r.getheaders() if h.lower().startswith("access-control-")])
        csp = r.getheader("Content-Security-Policy")
        self.assertIn("script-src 'self'", csp)
        self.assertNotIn("unsafe-inline", csp)
        self.assertEqual(r.getheader("X-Frame-Options"), "DENY")

    def test_bundle_text_is_escaped_not_markup(self):
        shutil.copy(E.bundles["demo-1.1.1-xss"], E.inbox())
        _, session, _ = E.login()
        r, body = E.request("GET", "/", headers={"Cookie": session})
        self.assertEqual(r.status, 200)
        self.assertIn(b'data-version="1.1.1"', body)
        self.assertNotIn(b"<script>alert", body)
        self.assertIn(b"&lt;script&gt;alert(1)&lt;/script&gt;", body)
        self.assertNotIn(b"<script>", body.replace(b'<script src="/assets/app.js" defer></script>', b""))
        os.remove(os.path.join(E.inbox(), os.path.basename(E.bundles["demo-1.1.1-xss"])))

    def test_oversized_upload_is_refused(self):
        _, session, csrf = E.login()
        big = b"\0" * (LIMIT + 1)
        r, _ = E.request("POST", "/action/upload", big, {"Cookie": session, "X-CSRF-Token": csrf,
                                                         "Content-Type": "application/octet-stream"})
        self.assertEqual(r.status, 413)
        # Chunked, with no Content-Length to judge by: refused as it streams past the limit.
        chunks = (b"\0" * 65536 for _ in range(LIMIT // 65536 + 2))
        r, _ = E.request("POST", "/action/upload", chunks, {"Cookie": session, "X-CSRF-Token": csrf,
                                                            "Content-Type": "application/octet-stream"}, chunked=True)
        self.assertEqual(r.status, 413)
        up = os.path.join(E.inbox(), ".upload")
        self.assertEqual(os.listdir(up) if os.path.isdir(up) else [], [])
        self.assertFalse([f for f in os.listdir(E.inbox()) if f.startswith("upload-")])

    def test_upload_without_csrf_token_is_refused(self):
        _, session, _ = E.login()
        data = read(E.bundles["demo-1.1.0"])
        before = sorted(os.listdir(E.inbox()))
        r, _ = E.request("POST", "/action/upload", data, {"Cookie": session, "Content-Type": "application/octet-stream"})
        self.assertEqual(r.status, 403)
        self.assertEqual(sorted(os.listdir(E.inbox())), before)

    def test_upload_name_with_a_path_is_ignored(self):
        _, session, csrf = E.login()
        data = read(E.bundles["demo-1.1.0"])
        self.assertLess(len(data), LIMIT)
        evil = "../../escaped.tar.zst"
        r, body = E.request("POST", "/action/upload?name=" + urllib.parse.quote(evil), data,
                            {"Cookie": session, "X-CSRF-Token": csrf, "X-Filename": evil,
                             "Content-Disposition": 'attachment; filename="' + evil + '"',
                             "Content-Type": "application/octet-stream"})
        self.assertEqual(r.status, 200, body)
        self.assertFalse(os.path.exists(os.path.join(E.dir, "escaped.tar.zst")))
        self.assertFalse(os.path.exists(os.path.join(E.dir, "site", "escaped.tar.zst")))
        self.assertIn("demo-1.1.0.tar.zst", os.listdir(E.inbox()))
        kinds = [e["kind"] for e in E.json("audit", "export")["entries"]]
        self.assertIn("page", kinds)

    def upload(self, data, session, csrf):
        r, body = E.request("POST", "/action/upload", data, {"Cookie": session, "X-CSRF-Token": csrf,
                                                            "Content-Type": "application/octet-stream"})
        return r.status, json.loads(body)

    def test_the_same_bundle_uploaded_again_is_not_added_again(self):
        _, session, csrf = E.login()
        data = read(E.bundles["demo-1.1.0"])
        digest = hashlib.sha256(data).hexdigest()

        def copies():
            return [f for f in os.listdir(E.inbox())
                    if os.path.isfile(os.path.join(E.inbox(), f))
                    and hashlib.sha256(read(os.path.join(E.inbox(), f))).hexdigest() == digest]
        for _ in range(3):
            status, answer = self.upload(data, session, csrf)
            self.assertEqual(status, 200, answer)
        self.assertEqual(len(copies()), 1, copies())
        self.assertIn("already", answer["message"])
        self.assertEqual(answer["file"], copies()[0])
        up = os.path.join(E.inbox(), ".upload")
        self.assertEqual(os.listdir(up) if os.path.isdir(up) else [], [])

    def test_a_trickling_upload_does_not_hold_the_upload_slot(self):
        # One upload at a time: a client sending its body a few bytes a second is cut off, and
        # the next upload goes through.
        _, session, csrf = E.login()
        data = read(E.bundles["demo-1.1.1-xss"])
        s = socket.create_connection(("127.0.0.1", E.port), timeout=60)
        s.sendall((f"POST /action/upload HTTP/1.1\r\nHost: 127.0.0.1:{E.port}\r\nCookie: {session}\r\n"
                   f"X-CSRF-Token: {csrf}\r\nContent-Type: application/octet-stream\r\n"
                   f"Content-Length: {len(data)}\r\n\r\n").encode())
        started = time.monotonic()
        cut = None
        got = b""
        try:
            for i in range(40):
                s.sendall(data[i * 4:(i + 1) * 4])
                time.sleep(1)
                s.settimeout(0.01)
                try:
                    got = s.recv(4096)
                    cut = time.monotonic() - started
                    break
                except socket.timeout:
                    pass
                except OSError:
                    cut = time.monotonic() - started
                    break
                s.settimeout(60)
        except OSError:
            cut = time.monotonic() - started
        finally:
            s.close()
        self.assertIsNotNone(cut, "a trickling upload still held its slot after 40 s")
        self.assertLess(cut, 25)
        self.assertTrue(got.startswith(b"HTTP/1.1 408 "), got)  # answered, not only dropped
        status, answer = self.upload(data, session, csrf)
        self.assertEqual(status, 200, answer)
        os.remove(os.path.join(E.inbox(), answer["file"]))

    def raw_upload(self, session, csrf, framing, body):
        """An upload sent by hand (`framing`: its body's headers), the server's answer read to the end."""
        head = (f"POST /action/upload HTTP/1.1\r\nHost: 127.0.0.1:{E.port}\r\nCookie: {session}\r\n"
                f"X-CSRF-Token: {csrf}\r\nContent-Type: application/octet-stream\r\n{framing}\r\n")
        with socket.create_connection(("127.0.0.1", E.port), timeout=30) as s:
            s.sendall(head.encode() + body)
            answer = b""
            while True:
                piece = s.recv(65536)
                if not piece:
                    return answer
                answer += piece

    def test_a_chunked_upload_is_put_together_and_bad_framing_is_refused(self):
        _, session, csrf = E.login()
        data = read(E.bundles["demo-1.1.0"])
        # Chunks of odd sizes, an extension on one size line and a trailer: the file written is the
        # bundle, byte for byte (it verifies; the same bytes already in the inbox are named instead).
        sizes = [1, 7, 4093]
        pieces, at = [], 0
        for n in sizes + [len(data)]:
            pieces.append(data[at:at + n])
            at += n
            if at >= len(data):
                break
        body = b"".join(b"%x%s\r\n%s\r\n" % (len(p), b";ext=1" if i == 1 else b"", p)
                        for i, p in enumerate(pieces) if p)
        answer = self.raw_upload(session, csrf, "Transfer-Encoding: chunked\r\n", body + b"0\r\nX-Trailer: 1\r\n\r\n")
        self.assertTrue(answer.startswith(b"HTTP/1.1 200 "), answer)
        name = json.loads(answer.split(b"\r\n\r\n", 1)[1])["file"]
        self.assertEqual(read(os.path.join(E.inbox(), name)), data)
        # Hostile framing: each refused (400), nothing written into the inbox or left in .upload/.
        before = sorted(os.listdir(E.inbox()))
        for framing, bad in [
                ("Transfer-Encoding: chunked\r\n", b"zz\r\nabc\r\n0\r\n\r\n"),  # not hex
                ("Transfer-Encoding: chunked\r\n", b"3\r\nabcdef\r\n0\r\n\r\n"),  # longer than its size
                ("Transfer-Encoding: chunked\r\n", b"1" * 20 + b"\r\nab"),  # a size past 64 bits
                ("Transfer-Encoding: chunked\r\n", b"f" * 5000 + b"\r\n"),  # a size line without end
                ("Transfer-Encoding: chunked\r\n", b"0\r\n" + b"X: 1\r\n" * 101 + b"\r\n"),  # trailers without end
                ("Transfer-Encoding: chunked\r\n", b"0\r\n" + (b"X: " + b"a" * 3000 + b"\r\n") * 3 + b"\r\n"),  # a trailer over 8 KiB
                ("Transfer-Encoding: chunked\r\nContent-Length: 3\r\n", b"0\r\n\r\n"),  # framed two ways
                ("Content-Length: 3\r\nContent-Length: 4\r\n", b"abcd"),  # two lengths
                ("Transfer-Encoding: gzip\r\n", b"abc"),  # a coding the server does not undo
                ("Content-Length: 12x\r\n", b"abc")]:  # not a length
            with self.subTest(framing=framing, body=bad[:20]):
                answer = self.raw_upload(session, csrf, framing, bad)
                self.assertTrue(answer.startswith(b"HTTP/1.1 400 "), answer)
                self.assertEqual(sorted(os.listdir(E.inbox())), before)
                self.assertEqual(os.listdir(os.path.join(E.inbox(), ".upload")), [])

    def raw(self, head):
        """Sends only a request's head (no body) and returns the status line the server answers."""
        import socket
        with socket.create_connection(("127.0.0.1", E.port), timeout=10) as s:
            s.sendall(head.replace("PORT", str(E.port)).encode())
            return s.recv(4096).split(b"\r\n")[0].decode()

    def test_a_body_is_refused_before_it_is_read(self):
        # A declared 1 GiB body on a form route, a chunked one, and an upload without a session:
        # each answered at once, before a byte of the body was sent.
        self.assertIn(" 413 ", self.raw("POST /login HTTP/1.1\r\nHost: 127.0.0.1:PORT\r\n"
                                        "Content-Type: application/octet-stream\r\nContent-Length: 1073741824\r\n\r\n"))
        self.assertIn(" 411 ", self.raw("POST /nowhere HTTP/1.1\r\nHost: 127.0.0.1:PORT\r\n"
                                        "Transfer-Encoding: chunked\r\n\r\n"))
        self.assertIn(" 403 ", self.raw("POST /action/upload HTTP/1.1\r\nHost: 127.0.0.1:PORT\r\n"
                                        "Transfer-Encoding: chunked\r\n\r\n"))
        self.assertIn(" 403 ", self.raw("POST /action/upload HTTP/1.1\r\nHost: 127.0.0.1:PORT\r\n"
                                        "Content-Length: 1073741824\r\n\r\n"))
        # Only a POST is the upload: another method on its path, even with a session, is a form
        # route like any other (its body capped, under the request's deadline).
        _, session, _ = E.login()
        self.assertIn(" 413 ", self.raw("PUT /action/upload HTTP/1.1\r\nHost: 127.0.0.1:PORT\r\nCookie: " + session +
                                        "\r\nContent-Length: 1073741824\r\n\r\n"))
        self.assertIn(" 411 ", self.raw("PATCH /action/upload HTTP/1.1\r\nHost: 127.0.0.1:PORT\r\nCookie: " + session +
                                        "\r\nTransfer-Encoding: chunked\r\n\r\n"))

    def test_session_ends_when_the_password_changes(self):
        _, session, _ = E.login()
        r, _ = E.request("GET", "/", headers={"Cookie": session})
        self.assertEqual(r.status, 200)
        E.run("ui", "passwd", "--site", E.site, stdin="another password\n")
        try:
            r, _ = E.request("GET", "/", headers={"Cookie": session})
            self.assertEqual(r.status, 303)
            self.assertEqual(r.getheader("Location"), "/login")
        finally:
            E.run("ui", "passwd", "--site", E.site, stdin=uitest.PASSWORD + "\n")

    def test_csrf_token_in_the_url_is_refused(self):
        _, session, csrf = E.login()
        before = history_len()
        r, _ = E.request("POST", "/action/skip?csrf=" + csrf, "version=9.9.9",
                         {"Cookie": session, **FORM})
        self.assertEqual(r.status, 403)
        self.assertEqual(history_len(), before)

    def test_two_session_cookies_are_refused(self):
        # Every port of 127.0.0.1 shares one cookie jar: another local web server can set its own
        # session cookie beside the real one. A request carrying two is refused, whichever is valid.
        _, session, _ = E.login()
        other = session.split("=")[0] + "=" + "0" * 64
        for cookies in [[session + "; " + other], [other + "; " + session], [session, other]]:
            import socket
            head = f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{E.port}\r\n"
            head += "".join(f"Cookie: {c}\r\n" for c in cookies) + "Connection: close\r\n\r\n"
            with socket.create_connection(("127.0.0.1", E.port), timeout=10) as s:
                s.sendall(head.encode())
                answer = s.recv(65536)
            self.assertIn(b" 400 ", answer.split(b"\r\n")[0], cookies)
            self.assertNotIn(b"csrf", answer)
        r, _ = E.request("GET", "/", headers={"Cookie": session})
        self.assertEqual(r.status, 200)

    def test_zz_login_flood_is_slowed(self):
        # Last: it slows every later login from this address.
        statuses = [E.login("wrong password %d" % i)[0].status for i in range(6)]
        self.assertEqual(statuses[0], 401)
        self.assertIn(429, statuses)
        r, session, _ = E.login()  # the right password is not even checked while the client waits
        self.assertEqual(r.status, 429)
        self.assertIsNone(session)
        self.assertTrue(r.getheader("Retry-After"))

    def test_zzz_a_flood_from_many_loopback_addresses_slows_every_client_and_takes_no_lock(self):
        # Every 127.x address is a new client to the per-address count; the count of failures
        # anywhere slows them all. Failed logins are logged, not audited one by one: an audit
        # entry takes the site lock, which a flood must not hold against an upgrade.
        entries = len(E.json("audit", "export")["entries"])
        statuses = [E.login("wrong %d" % i, source="127.0.%d.%d" % (7, i + 1))[0].status for i in range(14)]
        self.assertIn(429, statuses[10:], statuses)
        r, session, _ = E.login(source="127.0.9.9")  # a fresh address waits too
        self.assertEqual(r.status, 429)
        self.assertEqual(len(E.json("audit", "export")["entries"]), entries)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(next(line for line in f if line.startswith("VmRSS:")).split()[1])


class UpdatesPageConnections(unittest.TestCase):
    """Attacks on the server's connections themselves, before any route: slow heads, huge heads."""

    def slow_connection(self):
        s = socket.create_connection(("127.0.0.1", E.port), timeout=30)
        s.sendall(f"GET /login HTTP/1.1\r\nHost: 127.0.0.1:{E.port}\r\n".encode())
        return s

    def test_slow_heads_do_not_starve_a_normal_client(self):
        # Slowloris: 20 connections each sending a header line every 2 s, more than the server
        # has workers. A normal client (from the same address) is still answered at once.
        slow = [self.slow_connection() for _ in range(20)]
        try:
            for i in range(2):
                time.sleep(2)
                for s in slow:
                    try:
                        s.sendall(b"X-Slow-%d: 1\r\n" % i)
                    except OSError:
                        pass  # the server dropped it: that is allowed
            started = time.monotonic()
            c = http.client.HTTPConnection("127.0.0.1", E.port, timeout=5)
            c.request("GET", "/login", headers={"Host": f"127.0.0.1:{E.port}"})
            r = c.getresponse()
            r.read()
            c.close()
            self.assertEqual(r.status, 200)
            self.assertLess(time.monotonic() - started, 3)
        finally:
            for s in slow:
                s.close()

    def test_a_slow_head_is_cut_off_by_its_deadline(self):
        # A head that never ends, one line every 2 s, is closed by the server within its
        # deadline (10 s from the connection) rather than held while lines keep coming.
        s = self.slow_connection()
        started = time.monotonic()
        closed_after = None
        try:
            for i in range(15):
                time.sleep(2)
                try:
                    s.sendall(b"X-Slow-%d: 1\r\n" % i)
                except OSError:
                    closed_after = time.monotonic() - started
                    break
                s.settimeout(0.01)
                try:
                    s.recv(4096)  # an answer (400) or the end of the stream: the head was cut off
                    closed_after = time.monotonic() - started
                    break
                except socket.timeout:
                    pass
                except OSError:
                    closed_after = time.monotonic() - started
                    break
                s.settimeout(30)
        finally:
            s.close()
        self.assertIsNotNone(closed_after, "the slow head was still open after 30 s")
        self.assertLess(closed_after, 14)

    def test_a_request_out_of_time_is_answered_408(self):
        # A head that stops half-way, a form body that stops short of its length, and an upload
        # body that stalls: each is answered 408 (Request Timeout), not dropped or called bad,
        # and the stalled upload leaves no file behind.
        _, session, csrf = E.login()
        heads = {
            "head": f"GET /login HTTP/1.1\r\nHost: 127.0.0.1:{E.port}\r\nX-Half: 1\r\n",
            "form body": (f"POST /login HTTP/1.1\r\nHost: 127.0.0.1:{E.port}\r\n"
                          "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ntoken="),
            "upload body": (f"POST /action/upload HTTP/1.1\r\nHost: 127.0.0.1:{E.port}\r\nCookie: {session}\r\n"
                            f"X-CSRF-Token: {csrf}\r\nContent-Type: application/octet-stream\r\n"
                            f"Content-Length: {LIMIT - 1}\r\n\r\n" + "x" * (LIMIT // 2)),
        }
        socks = {}
        try:
            for what, text in heads.items():
                socks[what] = socket.create_connection(("127.0.0.1", E.port), timeout=40)
                socks[what].sendall(text.encode())
            for what, s in socks.items():
                with self.subTest(what):
                    self.assertTrue(s.recv(4096).startswith(b"HTTP/1.1 408 "), what)
        finally:
            for s in socks.values():
                s.close()
        self.assertEqual(os.listdir(os.path.join(E.inbox(), ".upload")), [])

    def test_too_many_headers_are_refused_and_memory_stays_bounded(self):
        head = f"GET /login HTTP/1.1\r\nHost: 127.0.0.1:{E.port}\r\n"
        with socket.create_connection(("127.0.0.1", E.port), timeout=10) as s:
            s.sendall((head + "".join("X-%d: v\r\n" % i for i in range(101)) + "\r\n").encode())
            self.assertIn(b" 431 ", s.recv(4096).split(b"\r\n")[0])
        # One header over 64 KiB in all (each line within the library's own 8 KiB line limit).
        with socket.create_connection(("127.0.0.1", E.port), timeout=10) as s:
            s.sendall((head + "".join("X-%d: %s\r\n" % (i, "v" * 8000) for i in range(9)) + "\r\n").encode())
            self.assertIn(b" 431 ", s.recv(4096).split(b"\r\n")[0])
        # 300 000 headers (about 4 MB): the server must not keep them.
        before = rss_kib(E.server.pid)
        status = b""
        with socket.create_connection(("127.0.0.1", E.port), timeout=30) as s:
            try:
                s.sendall(head.encode())
                for chunk in range(300):
                    s.sendall("".join("X-%d-%d: v\r\n" % (chunk, i) for i in range(1000)).encode())
                s.sendall(b"\r\n")
            except OSError:
                pass  # refused and closed mid-way: what is wanted
            try:
                status = s.recv(4096).split(b"\r\n")[0]
            except OSError:
                pass
        self.assertLess(rss_kib(E.server.pid) - before, 20 * 1024)
        self.assertTrue(status == b"" or b" 431 " in status, status)
        r, _ = E.request("GET", "/login")  # still serving
        self.assertEqual(r.status, 200)


class UpdatesPageInboxLimit(unittest.TestCase):
    """[ui] inbox_limit: the inbox's total size, uploads included."""

    def test_an_upload_past_the_inbox_limit_is_refused(self):
        t = uitest.Env(sys.argv[1], sys.argv[2])
        try:
            a, b = E.bundles["demo-1.1.0"], E.bundles["demo-1.1.1-xss"]
            limit = os.path.getsize(a) + os.path.getsize(b) - 1
            t.make_site(f"inbox_limit = {limit}\n")
            t.start()
            _, session, csrf = t.login()
            for path, want in [(a, 200), (b, 507)]:
                r, body = t.request("POST", "/action/upload", read(path),
                                    {"Cookie": session, "X-CSRF-Token": csrf,
                                     "Content-Type": "application/octet-stream"})
                self.assertEqual(r.status, want, body)
            self.assertIn("inbox_limit", json.loads(body)["message"])
            self.assertEqual(len([f for f in os.listdir(t.inbox()) if f.endswith(".tar.zst")]), 1)
            # Chunked, with no length to judge by before the body: refused once it has arrived.
            r, body = t.request("POST", "/action/upload", iter([read(b)]),
                                {"Cookie": session, "X-CSRF-Token": csrf,
                                 "Content-Type": "application/octet-stream"}, chunked=True)
            self.assertEqual(r.status, 507, body)
            self.assertEqual(len([f for f in os.listdir(t.inbox()) if f.endswith(".tar.zst")]), 1)
            up = os.path.join(t.inbox(), ".upload")
            self.assertEqual(os.listdir(up) if os.path.isdir(up) else [], [])
        finally:
            t.cleanup()


class UpdatesPageShutdown(unittest.TestCase):
    def login_and_logout_while_busy(self, stop):
        """Logs in and out while another process holds the site lock, then stops the server with
        signal `stop` (the lock still held); returns the environment and the open lock file."""
        t = uitest.Env(sys.argv[1], sys.argv[2])
        try:
            site_dir = t.make_site()
            t.start()
            state = os.path.join(site_dir, "state")
            os.makedirs(state, exist_ok=True)
            lock = open(os.path.join(state, "lock"), "a+")
            fcntl.flock(lock, fcntl.LOCK_EX)
            r, session, csrf = t.login()
            self.assertEqual(r.status, 303)
            r, _ = t.request("POST", "/logout", "csrf=" + csrf, dict(FORM, Cookie=session))
            self.assertEqual(r.status, 303)
            if stop == signal.SIGTERM:
                fcntl.flock(lock, fcntl.LOCK_UN)  # the site is free again when the server stops
            t.server.send_signal(stop)
            code = t.server.wait(timeout=30)
            if stop == signal.SIGTERM:
                self.assertEqual(code, 0)
            t.server.stdout.close()
            t.server = None
            return t, lock
        except BaseException:
            t.cleanup()
            raise

    @staticmethod
    def page_actions(log):
        return [e["data"].get("action") for e in log["entries"] if e["kind"] == "page"]

    def test_audit_entries_kept_while_busy_are_recorded_at_sigterm(self):
        # The server is stopped by SIGTERM before any later action could record them.
        t, lock = self.login_and_logout_while_busy(signal.SIGTERM)
        try:
            lock.close()
            actions = self.page_actions(t.json("audit", "export"))
            self.assertIn("login", actions)
            self.assertIn("logout", actions)
        finally:
            t.cleanup()

    def test_audit_entries_of_a_busy_site_survive_sigkill(self):
        # The page's entries went to the site's audit spool on disk: a server killed outright
        # loses none of them, and the next command that opens the site records them.
        t, lock = self.login_and_logout_while_busy(signal.SIGKILL)
        try:
            # Still held: the audit commands read beside the run and count what waits.
            self.assertEqual(t.json("audit", "export")["spooled"], 2)
            fcntl.flock(lock, fcntl.LOCK_UN)
            lock.close()
            self.assertEqual(t.json("audit", "verify")["spooled"], 2)  # the audit commands only read
            t.run("recover", "--site", t.site)  # any command that opens the site records the spool
            log = t.json("audit", "verify")
            self.assertEqual(log["spooled"], 0)
            self.assertEqual(self.page_actions(log)[-2:], ["login", "logout"])
        finally:
            t.cleanup()


class UpdatesPageOverTls(unittest.TestCase):
    """[ui] tls_cert and tls_key: HTTPS, and the session cookie marked Secure."""

    def test_https_with_secure_cookie(self):
        t = uitest.Env(sys.argv[1], sys.argv[2])
        try:
            key, cert = os.path.join(t.dir, "key.pem"), os.path.join(t.dir, "cert.pem")
            subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                            "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=localhost"],
                           check=True, capture_output=True)
            t.make_site(f'tls_cert = "{cert}"\ntls_key = "{key}"\n')
            t.start()
            ctx = ssl.create_default_context(cafile=cert)
            ctx.check_hostname = False
            c = http.client.HTTPSConnection("127.0.0.1", t.port, context=ctx, timeout=30)
            c.request("GET", "/login", headers={"Host": f"127.0.0.1:{t.port}"})
            r = c.getresponse()
            r.read()
            self.assertEqual(r.status, 200)
            self.assertIn("Secure", r.getheader("Set-Cookie"))
            # Under TLS the cookies carry the __Host- prefix: a browser takes them only from a
            # secure origin, for the host alone (no Domain) and the whole path.
            self.assertTrue(r.getheader("Set-Cookie").startswith("__Host-airlock_login="), r.getheader("Set-Cookie"))
            self.assertIn("Path=/;", r.getheader("Set-Cookie"))
            self.assertNotIn("Domain", r.getheader("Set-Cookie"))
            self.assertIn("max-age=", r.getheader("Strict-Transport-Security") or "")
            c.close()
            # An upload over TLS (read from the connection in large pieces) is the bundle byte
            # for byte, plain and chunked.
            t.tls = ctx
            _, session, csrf = t.login()
            data = read(E.bundles["demo-1.1.0"])
            for chunked in (False, True):
                r, body = t.request("POST", "/action/upload", iter([data[:5000], data[5000:]]) if chunked else data,
                                    {"Cookie": session, "X-CSRF-Token": csrf,
                                     "Content-Type": "application/octet-stream"}, chunked=chunked)
                self.assertEqual(r.status, 200, body)
                self.assertEqual(read(os.path.join(t.inbox(), json.loads(body)["file"])), data)
            t.tls = None
            # TLS 1.2 with a CBC suite (no AEAD) is refused.
            weak = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            weak.check_hostname = False
            weak.verify_mode = ssl.CERT_NONE
            weak.maximum_version = ssl.TLSVersion.TLSv1_2
            weak.set_ciphers("ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA")
            w = http.client.HTTPSConnection("127.0.0.1", t.port, context=weak, timeout=30)
            with self.assertRaises(ssl.SSLError):
                w.request("GET", "/login", headers={"Host": f"127.0.0.1:{t.port}"})
            w.close()
            plain = http.client.HTTPConnection("127.0.0.1", t.port, timeout=10)
            try:  # no clear-text answer on the TLS port
                plain.request("GET", "/login", headers={"Host": f"127.0.0.1:{t.port}"})
                status = plain.getresponse().status
            except (OSError, http.client.HTTPException):
                status = None
            self.assertNotEqual(status, 200)
        finally:
            t.cleanup()


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0], "-v"])
