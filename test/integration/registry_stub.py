#!/usr/bin/env python3
"""A registry (HTTP API v2, pulls only) that serves an OCI image layout, for
the image tests: what Debian's docker-registry cannot be made to do.

  --port PORT          listen on 127.0.0.1:PORT
  --layout DIR         the images; index.json's names
                       (org.opencontainers.image.ref.name) are the tags of
                       every repository name
  --bearer USER:PASS   every /v2/ request needs a Bearer token from /token,
                       which wants Basic USER:PASS ("-": anonymous tokens)
  --redirect           blobs answer 307 to http://localhost:PORT/storage/...
                       (another host for the client), which refuses a
                       request that carries an Authorization header
  --drop DIGEST        that blob: half of it is sent, then the connection
                       is closed (the registry "goes away" mid-transfer)

Each request is logged on stderr as an access log line
("GET /v2/x/blobs/sha256:... HTTP/1.1" 200 -).
"""

import argparse
import base64
import http.server
import json
import os
import sys

TOKEN = "stub-token"


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--layout", required=True)
    p.add_argument("--bearer")
    p.add_argument("--redirect", action="store_true")
    p.add_argument("--drop")
    return p.parse_args()


ARGS = parse_args()


def blob_path(digest):
    algo, _, hexpart = digest.partition(":")
    if algo != "sha256" or len(hexpart) != 64 or not all(c in "0123456789abcdef" for c in hexpart):
        return None
    path = os.path.join(ARGS.layout, "blobs", "sha256", hexpart)
    return path if os.path.isfile(path) else None


def tag_digest(tag):
    with open(os.path.join(ARGS.layout, "index.json")) as f:
        index = json.load(f)
    for m in index["manifests"]:
        if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag:
            return m["digest"]
    return None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def send_json(self, status, body, headers=()):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def error(self, status, code, message, headers=()):
        self.send_json(status, {"errors": [{"code": code, "message": message}]}, headers)

    def authorized(self, repo):
        if not ARGS.bearer:
            return True
        if self.headers.get("Authorization") == "Bearer " + TOKEN:
            return True
        realm = "http://127.0.0.1:%d/token" % ARGS.port
        scope = "repository:%s:pull" % repo if repo else ""
        challenge = 'Bearer realm="%s",service="stub"' % realm
        if scope:
            challenge += ',scope="%s"' % scope
        self.error(401, "UNAUTHORIZED", "authentication required", [("WWW-Authenticate", challenge)])
        return False

    def token(self):
        user_pass = ARGS.bearer
        if user_pass != "-":
            want = "Basic " + base64.b64encode(user_pass.encode()).decode()
            if self.headers.get("Authorization") != want:
                self.send_json(401, {"details": "incorrect username or password"})
                return
        self.send_json(200, {"token": TOKEN, "expires_in": 300})

    def send_file(self, path, media_type, digest):
        size = os.path.getsize(path)
        self.send_response(200)
        self.send_header("Content-Type", media_type)
        self.send_header("Content-Length", str(size))
        self.send_header("Docker-Content-Digest", digest)
        self.end_headers()
        with open(path, "rb") as f:
            if digest == ARGS.drop:
                self.wfile.write(f.read(size // 2))
                self.wfile.flush()
                self.close_connection = True
                return
            while True:
                chunk = f.read(1 << 20)
                if not chunk:
                    break
                self.wfile.write(chunk)

    def do_GET(self):
        path = self.path.split("?")[0]
        if path == "/token":
            return self.token()
        if path.startswith("/storage/"):
            if self.headers.get("Authorization"):
                return self.error(400, "LEAKED", "credentials sent to the storage host")
            digest = path[len("/storage/"):]
            p = blob_path(digest)
            if not p:
                return self.error(404, "BLOB_UNKNOWN", "blob unknown to registry")
            return self.send_file(p, "application/octet-stream", digest)
        if path == "/v2/":
            if self.authorized(""):
                self.send_json(200, {})
            return
        if not path.startswith("/v2/"):
            return self.error(404, "NOT_FOUND", "not found")
        rest = path[len("/v2/"):]
        for kind in ("/manifests/", "/blobs/"):
            repo, sep, ref = rest.rpartition(kind)
            if sep:
                break
        else:
            return self.error(404, "NOT_FOUND", "not found")
        if not self.authorized(repo):
            return
        if kind == "/manifests/":
            digest = ref if ref.startswith("sha256:") else tag_digest(ref)
            p = blob_path(digest) if digest else None
            if not p:
                return self.error(404, "MANIFEST_UNKNOWN", "manifest unknown")
            with open(p) as f:
                media_type = json.load(f).get("mediaType", "application/vnd.oci.image.manifest.v1+json")
            return self.send_file(p, media_type, digest)
        p = blob_path(ref)
        if not p:
            return self.error(404, "BLOB_UNKNOWN", "blob unknown to registry")
        if ARGS.redirect:
            self.send_response(307)
            self.send_header("Location", "http://localhost:%d/storage/%s" % (ARGS.port, ref))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_file(p, "application/octet-stream", ref)

    def log_message(self, fmt, *args):
        sys.stderr.write("%s - - [-] %s\n" % (self.client_address[0], fmt % args))
        sys.stderr.flush()


http.server.ThreadingHTTPServer.allow_reuse_address = True
http.server.ThreadingHTTPServer(("127.0.0.1", ARGS.port), Handler).serve_forever()
