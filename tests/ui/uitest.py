"""Shared by the Updates page tests: a demo site with bundles built by the real `airlock`, and a
running `airlock serve` on a free loopback port. Run with Debian's /usr/bin/python3."""
import http.client
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.parse

PASSWORD = "correct horse battery"


class Env:
    def __init__(self, airlock, source):
        self.airlock = airlock
        self.source = source
        self.dir = tempfile.mkdtemp(prefix="airlock-ui-")
        self.bundles = {}
        self.site = os.path.join(self.dir, "site", "site.toml")
        self.server = None
        self.port = None
        self.tls = None  # an ssl.SSLContext: requests go over HTTPS

    def run(self, *args, check=True, stdin=None):
        r = subprocess.run([self.airlock, *args], input=stdin, capture_output=True, text=True,
                           env=dict(os.environ, SOURCE_DATE_EPOCH="1767225600"))
        if check and r.returncode != 0:
            raise AssertionError(f"airlock {' '.join(args)}: exit {r.returncode}\n{r.stdout}\n{r.stderr}")
        return r

    def json(self, *args):
        return json.loads(self.run(*args, "--site", self.site, "--json", check=False).stdout)

    def build(self, name, recipe_dir, edits=None):
        """Builds a bundle from a copy of the recipe folder, with `edits` (regex -> text) applied."""
        src = os.path.join(self.dir, "recipe-" + name)
        shutil.copytree(os.path.join(self.source, recipe_dir), src)
        recipe = os.path.join(src, "recipe.toml")
        text = open(recipe).read()
        for pat, rep in (edits or {}).items():
            text = re.sub(pat, rep, text, flags=re.M)
        open(recipe, "w").write(text)
        out = os.path.join(self.dir, name + ".tar.zst")
        self.run("build", recipe, "--key", os.path.join(self.source, "keys/demo-hq.key"), "--out", out)
        self.bundles[name] = out
        return out

    def make_site(self, ui_extra=""):
        site_dir = os.path.join(self.dir, "site")
        shutil.copytree(os.path.join(self.source, "manifests/demo-site"), site_dir)
        os.makedirs(os.path.join(site_dir, "data"))
        shutil.copy(os.path.join(self.source, "keys/trust.toml"), os.path.join(site_dir, "trust.toml"))
        with open(self.site, "a") as f:
            f.write("\n[ui]\ninbox = \"inbox\"\n" + ui_extra)
        os.makedirs(os.path.join(site_dir, "inbox"))
        self.run("ui", "passwd", "--site", self.site, stdin=PASSWORD + "\n")
        return site_dir

    def inbox(self):
        return os.path.join(self.dir, "site", "inbox")

    def start(self):
        with open(os.path.join(self.dir, "serve.log"), "w") as log:
            self.server = subprocess.Popen([self.airlock, "serve", "--site", self.site, "--listen", "127.0.0.1:0"],
                                           stdout=subprocess.PIPE, stderr=log, text=True)
        line = self.server.stdout.readline()
        m = re.match(r"port (\d+)", line)
        if not m:
            raise AssertionError("airlock serve did not start: " + line + open(os.path.join(self.dir, "serve.log")).read())
        self.port = int(m.group(1))

    def stop(self):
        if self.server:
            self.server.terminate()
            self.server.wait(timeout=30)
            self.server.stdout.close()
            self.server = None

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    # Plain HTTP (HTTPS with `tls`), every header under the test's control.
    def request(self, method, path, body=None, headers=None, host=None, chunked=False, source=None):
        if self.tls:
            c = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=60, context=self.tls,
                                            source_address=(source, 0) if source else None)
        else:
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60,
                                           source_address=(source, 0) if source else None)
        h = {"Host": host or f"127.0.0.1:{self.port}"}
        h.update(headers or {})
        c.request(method, path, body=body, headers=h, encode_chunked=chunked)
        r = c.getresponse()
        data = r.read()
        c.close()
        return r, data

    def login(self, password=PASSWORD, source=None):
        """A session cookie and the page's CSRF token (None, None when the login fails)."""
        r, body = self.request("GET", "/login", source=source)
        login_cookie = r.getheader("Set-Cookie").split(";")[0]
        token = re.search(rb'name="token" value="([0-9a-f]+)"', body).group(1).decode()
        form = urllib.parse.urlencode({"token": token, "password": password})
        r, body = self.request("POST", "/login", form, {"Cookie": login_cookie,
                                                        "Content-Type": "application/x-www-form-urlencoded"},
                               source=source)
        if r.status != 303:
            return r, None, None
        cookie = r.getheader("Set-Cookie")
        session = cookie.split(";")[0]
        r2, page = self.request("GET", "/", headers={"Cookie": session})
        csrf = re.search(rb'name="csrf" value="([0-9a-f]+)"', page).group(1).decode()
        return r, session, csrf
