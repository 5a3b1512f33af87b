#!/usr/bin/python3
"""Real application traffic for the protocol analyzer integration test: HTTP/1.x
(nginx, curl, a raw-socket pipelining client and a raw-socket chunked server),
SIP (sipp over UDP and TCP, answered and busy calls), DNS (dnsmasq and dig over
UDP and TCP) and TLS (curl and openssl s_client against nginx with a throw-away
self-signed certificate), each captured by tcpdump into one pcap.

Each scenario also returns what its own clients saw (status codes, body sizes,
answers), written next to the pcap as PCAP.expect.json: the test checks tapflow
against it as well as against tshark, and a scenario whose clients did not get
what they asked for fails here, before tapflow is involved.

Testbed (traffic.py) owns the namespaces and processes and removes them, also on
failure. Run as a script:
  analyzer_traffic.py make OUTDIR [http|sip|dns|tls ...]   writes the pcaps
and, inside a namespace, the raw-socket tools the scenarios use
(http-server, http-pipeline).
"""

import json
import os
import socket
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import traffic  # noqa: E402
from traffic import CLIENT_V4, CLIENT_V6, PYTHON, SERVER_V4, SERVER_V6, log  # noqa: E402

THIS_FILE = os.path.abspath(__file__)
HTTP_HOST = "www.tapflow.test"
TLS_NAMES = ("www.tapflow.test", "other.tapflow.test")
ECHO_MODULE = "/usr/lib/nginx/modules/ngx_http_echo_module.so"
UPLOAD_BYTES = 100 * 1024        # POST with Expect: 100-continue
CHUNKED_UPLOAD_BYTES = 20000     # POST sent with Transfer-Encoding: chunked
BIG_BYTES = 1 << 20              # the 1 MiB download
INDEX_HTML = b"<html><body>tapflow analyzer integration test</body></html>\n"
# A date after the files' mtime: with `if_modified_since before`, nginx answers 304.
FUTURE_DATE = "Fri, 01 Jan 2038 00:00:00 GMT"

# nginx-light: static files, the echo module (bodies of unknown length, hence
# chunked responses, and a handler that reads the whole request body, which is
# what makes nginx answer "100 Continue"), TLS with HTTP/2 on 443.
NGINX_CONF = """
load_module {echo_module};
worker_processes 1;
master_process off;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 64; }}
http {{
  access_log off;
  keepalive_timeout 30;
  client_body_temp_path {dir}/body;
  proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fastcgi;
  uwsgi_temp_path {dir}/uwsgi;
  scgi_temp_path {dir}/scgi;
  default_type application/octet-stream;
  if_modified_since before;
  server {{
    listen {v4}:80;
    listen {v4}:443 ssl http2;
    server_name {host};
    ssl_certificate {dir}/cert.pem;
    ssl_certificate_key {dir}/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    root {dir}/www;
    location = /nocontent {{ return 204; }}
    location = /upload {{
      client_max_body_size 1m;
      client_body_buffer_size 1m;
      echo_read_request_body;
      echo "stored";
    }}
    location = /dyn {{
      echo "first part of a dynamic answer";
      echo_flush;
      echo_sleep 0.01;
      echo "second part";
    }}
  }}
}}
"""


def write_expectation(pcap, expect):
    with open(pcap + ".expect.json", "w") as f:
        json.dump(expect, f, indent=1, sort_keys=True)


def read_expectation(pcap):
    with open(pcap + ".expect.json") as f:
        return json.load(f)


# -- HTTP ---------------------------------------------------------------------

def _start_nginx(tb):
    d = os.path.join(tb.workdir, "nginx")
    os.makedirs(os.path.join(d, "www"))
    with open(os.path.join(d, "www", "index.html"), "wb") as f:
        f.write(INDEX_HTML)
    with open(os.path.join(d, "www", "big.bin"), "wb") as f:
        block = bytes(range(256)) * 16
        for _ in range(BIG_BYTES // len(block)):
            f.write(block)
    # nginx needs a certificate for its 443 listener in every scenario; making
    # it costs a fraction of a second.
    traffic.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                 "-subj", "/CN=" + TLS_NAMES[0], "-addext", "subjectAltName=DNS:%s,DNS:%s" % TLS_NAMES,
                 "-keyout", os.path.join(d, "key.pem"), "-out", os.path.join(d, "cert.pem")])
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        f.write(NGINX_CONF.format(dir=d, v4=SERVER_V4, host=HTTP_HOST, echo_module=ECHO_MODULE))
    tb.popen(tb.server_ns, ["nginx", "-c", conf, "-p", d], stderr=open(os.path.join(d, "stderr.log"), "w"))
    tb.wait_tcp(tb.client_ns, SERVER_V4, 80)
    tb.wait_tcp(tb.client_ns, SERVER_V4, 443)
    return d


def _curl(tb, args, expect_codes, stderr_log=None):
    """curl in the client namespace; one dict per transfer (curl's %{json}), the
    HTTP codes checked against expect_codes."""
    # Each URL needs its own -o, or the bodies after the first go to stdout.
    args = [x for a in args for x in ((["-o", "/dev/null"] if a.startswith(("http://", "https://")) else []) + [a])]
    proc = tb.ns_run(tb.client_ns, ["curl", "-sS", "--max-time", "20", "-w", "%{json}\\n"] + args)
    transfers = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    codes = [t["http_code"] for t in transfers]
    if codes != expect_codes:
        raise RuntimeError("curl %s answered %s, expected %s" % (args, codes, expect_codes))
    if stderr_log is not None:
        stderr_log.append(proc.stderr)
    return transfers


def _uri_of(url):
    rest = url.split("://", 1)[1]
    return "/" + rest.split("/", 1)[1] if "/" in rest else "/"


def _http_expect(transfers, method, host, request_bodies=None, version="1.1"):
    """What curl's transfers say about each request, in the shape the test compares."""
    out = []
    for i, t in enumerate(transfers):
        out.append({"client": [t["local_ip"], t["local_port"]], "server": [t["remote_ip"], t["remote_port"]],
                    "method": method, "uri": _uri_of(t["url_effective"]), "host": host,
                    "status": t["http_code"], "version": version,
                    "request_body": (request_bodies[i] if request_bodies else 0),
                    "response_body": t["size_download"]})
    return out


def scenario_http(tb, pcap):
    """keep-alive, pipelining, chunked answers and uploads, 100-continue, 404,
    204, 304, HEAD, HTTP/1.0, a 1 MiB download; nginx over IPv4 and a raw-socket
    server with chunk extensions and trailers over IPv6."""
    d = _start_nginx(tb)
    raw = tb.popen(tb.server_ns, [PYTHON, THIS_FILE, "http-server", SERVER_V6, "80"],
                   stdout=subprocess.PIPE, text=True)
    if raw.stdout.readline().strip() != "ready":
        raise RuntimeError("raw HTTP server did not start")
    upload = os.path.join(d, "upload.bin")
    with open(upload, "wb") as f:
        f.write(bytes((i * 13) & 0xFF for i in range(UPLOAD_BYTES)))
    chunked_upload = os.path.join(d, "chunked_upload.bin")
    with open(chunked_upload, "wb") as f:
        f.write(b"c" * CHUNKED_UPLOAD_BYTES)
    resolve = ["--resolve", "%s:80:%s" % (HTTP_HOST, SERVER_V4)]
    base = "http://%s" % HTTP_HOST
    expect = []
    cap = tb.capture(pcap)

    # One keep-alive connection: curl reuses it for URLs given together.
    t = _curl(tb, resolve + [base + "/", base + "/index.html", base + "/missing", base + "/nocontent",
                             base + "/dyn"], [200, 200, 404, 204, 200])
    if [x["num_connects"] for x in t] != [1, 0, 0, 0, 0]:
        raise RuntimeError("curl did not keep the connection alive: %s" % [x["num_connects"] for x in t])
    expect += _http_expect(t, "GET", HTTP_HOST)
    expect += _http_expect(_curl(tb, resolve + ["-I", base + "/index.html"], [200]), "HEAD", HTTP_HOST)
    expect += _http_expect(_curl(tb, resolve + ["-H", "If-Modified-Since: " + FUTURE_DATE, base + "/index.html"],
                                 [304]), "GET", HTTP_HOST)
    expect += _http_expect(_curl(tb, resolve + ["--http1.0", base + "/index.html"], [200]), "GET", HTTP_HOST,
                           version="1.0")
    # 100 KB upload: curl asks for "100 Continue", nginx's body-reading handler sends it.
    log_100 = []
    t = _curl(tb, resolve + ["-v", "-H", "Expect: 100-continue", "--data-binary", "@" + upload, base + "/upload"],
              [200], log_100)
    if "HTTP/1.1 100 Continue" not in log_100[0]:
        raise RuntimeError("nginx sent no 100 Continue:\n" + log_100[0][-2000:])
    expect += _http_expect(t, "POST", HTTP_HOST, [UPLOAD_BYTES])
    t = _curl(tb, resolve + ["-H", "Transfer-Encoding: chunked", "-H", "Expect:", "--data-binary",
                             "@" + chunked_upload, base + "/upload"], [200])
    expect += _http_expect(t, "POST", HTTP_HOST, [CHUNKED_UPLOAD_BYTES])
    t = _curl(tb, resolve + [base + "/big.bin"], [200])
    if t[0]["size_download"] != BIG_BYTES:
        raise RuntimeError("big.bin: %d bytes downloaded" % t[0]["size_download"])
    expect += _http_expect(t, "GET", HTTP_HOST)
    # Four requests in one write; the server's host header is its address.
    out = tb.ns_run(tb.client_ns, [PYTHON, THIS_FILE, "http-pipeline", SERVER_V4, "80"]).stdout
    pipelined = json.loads(out)
    if [r["status"] for r in pipelined] != [200, 200, 200, 404]:
        raise RuntimeError("pipelined requests answered %s" % out)
    expect += pipelined
    # The raw server over IPv6: two chunked answers on one connection, then a small POST.
    v6base = "http://[%s]" % SERVER_V6
    t = _curl(tb, [v6base + "/chunked", v6base + "/chunked?again=1"], [200, 200])
    expect += _http_expect(t, "GET", "[%s]" % SERVER_V6)
    t = _curl(tb, ["--data-binary", "hello=world", v6base + "/form"], [201])
    expect += _http_expect(t, "POST", "[%s]" % SERVER_V6, [len("hello=world")])
    time.sleep(0.3)  # let the last FIN/ACKs cross
    cap.stop()
    tb.stop(raw)
    return {"http": expect}


# Chunks of the raw server's answers: sizes 100, 2000 and 5, an extension on the
# second, a trailer after the last.
RAW_CHUNKS = (b"a" * 100, b"b" * 2000, b"c" * 5)


def _read_http_message(conn, buf, is_response, method=None, status=None):
    """Reads one message off a socket: (head lines, body, rest of buf), or None at EOF."""
    while b"\r\n\r\n" not in buf:
        data = conn.recv(65536)
        if not data:
            if buf:
                raise SystemExit("connection closed inside a header")
            return None
        buf += data
    head, buf = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()

    def need(n):
        nonlocal buf
        while len(buf) < n:
            data = conn.recv(65536)
            if not data:
                raise SystemExit("connection closed inside a body")
            buf += data

    body = b""
    no_body = is_response and (method == "HEAD" or status in (204, 304) or 100 <= status < 200)
    if no_body:
        pass
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            while b"\r\n" not in buf:
                need(len(buf) + 1)
            size_line, buf = buf.split(b"\r\n", 1)
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                while True:  # trailers up to the empty line
                    while b"\r\n" not in buf:
                        need(len(buf) + 1)
                    line, buf = buf.split(b"\r\n", 1)
                    if not line:
                        break
                break
            need(size + 2)
            body += buf[:size]
            buf = buf[size + 2:]
    elif "content-length" in headers:
        n = int(headers["content-length"])
        need(n)
        body, buf = buf[:n], buf[n:]
    elif is_response:
        while True:  # until the server closes
            data = conn.recv(65536)
            if not data:
                break
            buf += data
        body, buf = buf, b""
    return lines, body, buf


def tool_http_server(host, port):
    """Answers GET with a chunked body (extension, trailer) and POST with 201, keep-alive."""
    srv = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((host, port))
    srv.listen(8)
    print("ready", flush=True)
    while True:
        conn, _ = srv.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buf = b""
        while True:
            msg = _read_http_message(conn, buf, False)
            if msg is None:
                break
            lines, body, buf = msg
            method = lines[0].split(" ")[0]
            if method == "POST":
                reply = b"got %d bytes\n" % len(body)
                conn.sendall(b"HTTP/1.1 201 Created\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s" %
                             (len(reply), reply))
                continue
            # Each chunk in its own segment (TCP_NODELAY), as a streaming server sends them.
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n"
                         b"Trailer: X-Checksum\r\n\r\n")
            for i, chunk in enumerate(RAW_CHUNKS):
                ext = b";note=second" if i == 1 else b""
                conn.sendall(b"%x%s\r\n%s\r\n" % (len(chunk), ext, chunk))
            conn.sendall(b"0\r\nX-Checksum: 2105\r\n\r\n")
        conn.close()


# What the pipelining client sends in one write (the last asks the server to close).
PIPELINE = (("GET", "/index.html", b""), ("HEAD", "/index.html", b""), ("POST", "/upload", b"x=1&y=2"),
            ("GET", "/missing", b""))


def tool_http_pipeline(host, port):
    """Writes PIPELINE in one send, reads the answers in order; prints what it saw as JSON."""
    conn = socket.create_connection((host, port), timeout=10)
    request = b""
    for i, (method, uri, body) in enumerate(PIPELINE):
        request += b"%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: tapflow-pipeline/1\r\n" % (
            method.encode(), uri.encode(), host.encode())
        if body:
            request += b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n" % len(body)
        if i == len(PIPELINE) - 1:
            request += b"Connection: close\r\n"
        request += b"\r\n" + body
    conn.sendall(request)
    local, remote = conn.getsockname(), conn.getpeername()
    buf = b""
    out = []
    for method, uri, body in PIPELINE:
        # The status decides whether a body follows: read the head first.
        while b"\r\n" not in buf:
            data = conn.recv(65536)
            if not data:
                raise SystemExit("connection closed before the answer to %s %s" % (method, uri))
            buf += data
        status = int(buf.split(b"\r\n", 1)[0].split(b" ")[1])
        msg = _read_http_message(conn, buf, True, method=method, status=status)
        lines, resp_body, buf = msg
        out.append({"client": [local[0], local[1]], "server": [remote[0], remote[1]], "method": method, "uri": uri,
                    "host": host, "status": status, "version": "1.1", "request_body": len(body),
                    "response_body": len(resp_body)})
    conn.close()
    print(json.dumps(out))


# -- SIP ----------------------------------------------------------------------

# A callee that is busy: 100, 180, then 486 Busy Here, and the caller's ACK.
SIPP_BUSY_UAS = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="busy callee">
  <recv request="INVITE"/>
  <send><![CDATA[
SIP/2.0 100 Trying
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
  <send><![CDATA[
SIP/2.0 180 Ringing
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:[local_ip]:[local_port];transport=[transport]>
Content-Length: 0

]]></send>
  <pause milliseconds="50"/>
  <send retrans="500"><![CDATA[
SIP/2.0 486 Busy Here
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
  <recv request="ACK"/>
</scenario>
"""

# The caller of a busy callee: INVITE with SDP, 486, ACK (same branch as the INVITE).
SIPP_BUSY_UAC = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="caller of a busy callee">
  <send retrans="500"><![CDATA[
INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: [service] <sip:[service]@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: sip:sipp@[local_ip]:[local_port]
Max-Forwards: 70
User-Agent: tapflow-busy-caller
Content-Type: application/sdp
Content-Length: [len]

v=0
o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0 8
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000

]]></send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="486"/>
  <send><![CDATA[
ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch-4]
From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: [service] <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 1 ACK
Max-Forwards: 70
Content-Length: 0

]]></send>
</scenario>
"""


def _sipp_uas(tb, d, name, args):
    out = os.path.join(d, name + ".out")
    proc = tb.popen(tb.server_ns, ["sipp", "-i", SERVER_V4, "-p", "5060", "-nostdin", "-max_socket", "16"] + args,
                    stdout=open(out, "w"), stderr=subprocess.STDOUT, cwd=d)
    time.sleep(0.3)
    if proc.poll() is not None:
        raise RuntimeError("sipp %s exited early: %s" % (name, open(out).read()[-2000:]))
    return proc


def _sipp_uac(tb, d, args, calls):
    proc = tb.ns_run(tb.client_ns, ["sipp", "-i", CLIENT_V4, "-p", "5061", "-nostdin", "-m", str(calls),
                                    "-l", "1", "-r", "10", "-d", "100", "-timeout", "20s", "-timeout_error"]
                     + args + [SERVER_V4 + ":5060"], check=False, timeout=40, cwd=d)
    if proc.returncode != 0:
        raise RuntimeError("sipp uac %s failed (exit %d): %s" % (args, proc.returncode, proc.stdout[-2000:]))


def scenario_sip(tb, pcap):
    """sipp's built-in caller and callee over UDP (3 calls) and TCP (2 calls), then
    2 calls over UDP to a callee that answers 486 Busy Here."""
    d = os.path.join(tb.workdir, "sipp")
    os.makedirs(d)
    for name, text in (("busy_uas.xml", SIPP_BUSY_UAS), ("busy_uac.xml", SIPP_BUSY_UAC)):
        with open(os.path.join(d, name), "w") as f:
            f.write(text)
    cap = tb.capture(pcap)
    uas = _sipp_uas(tb, d, "uas_udp", ["-sn", "uas"])
    _sipp_uac(tb, d, ["-sn", "uac"], 3)
    tb.stop(uas)
    uas = _sipp_uas(tb, d, "uas_tcp", ["-sn", "uas", "-t", "t1"])
    _sipp_uac(tb, d, ["-sn", "uac", "-t", "t1"], 2)
    tb.stop(uas)
    uas = _sipp_uas(tb, d, "uas_busy", ["-sf", os.path.join(d, "busy_uas.xml")])
    _sipp_uac(tb, d, ["-sf", os.path.join(d, "busy_uac.xml")], 2)
    tb.stop(uas)
    time.sleep(0.3)
    cap.stop()
    # Calls per final status and how they ended, as the scenarios define them.
    return {"sip_calls": {"200 bye caller udp": 3, "200 bye caller tcp": 2, "486 failure none udp": 2}}


# -- DNS ----------------------------------------------------------------------

DNS_RECORDS = ["--address=/www.tapflow.test/10.77.0.80",
               "--host-record=host.tapflow.test,10.77.0.81,fd00:77::81",
               "--host-record=multi.tapflow.test,10.77.0.91",
               "--host-record=multi.tapflow.test,10.77.0.92",
               "--cname=alias.tapflow.test,host.tapflow.test",
               "--local=/nx.test/", "--local=/tapflow.test/"]


def scenario_dns(tb, pcap):
    """dig against a dnsmasq answering from its own records: A, AAAA, CNAME, two
    A records, NODATA, NXDOMAIN over UDP (IPv4 and IPv6) and TCP, and two
    queries on one TCP connection (+keepopen)."""
    d = os.path.join(tb.workdir, "dnsmasq")
    os.makedirs(d)
    tb.popen(tb.server_ns, ["dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts", "--user=root",
                            "--group=root", "--pid-file=" + os.path.join(d, "pid"), "--bind-interfaces",
                            "--listen-address=" + SERVER_V4, "--listen-address=" + SERVER_V6,
                            "--except-interface=lo", "--log-facility=" + os.path.join(d, "log")] + DNS_RECORDS,
             stderr=open(os.path.join(d, "stderr.log"), "w"))
    tb.wait_tcp(tb.client_ns, SERVER_V4, 53)
    cap = tb.capture(pcap)
    s4, s6 = "@" + SERVER_V4, "@" + SERVER_V6
    # (dig arguments, [(name, type, status, answers as a set of (type, data))] for each query)
    host_cname = {("CNAME", "host.tapflow.test")}
    queries = [
        ([s4, "www.tapflow.test", "A"], [("www.tapflow.test", "A", "NOERROR", {("A", "10.77.0.80")})]),
        ([s4, "host.tapflow.test", "AAAA"], [("host.tapflow.test", "AAAA", "NOERROR", {("AAAA", "fd00:77::81")})]),
        ([s4, "alias.tapflow.test", "CNAME"], [("alias.tapflow.test", "CNAME", "NOERROR", host_cname)]),
        ([s4, "alias.tapflow.test", "A"], [("alias.tapflow.test", "A", "NOERROR",
                                              host_cname | {("A", "10.77.0.81")})]),
        ([s4, "multi.tapflow.test", "A"], [("multi.tapflow.test", "A", "NOERROR",
                                              {("A", "10.77.0.91"), ("A", "10.77.0.92")})]),
        ([s4, "host.tapflow.test", "MX"], [("host.tapflow.test", "MX", "NOERROR", set())]),
        ([s4, "nothing.nx.test", "A"], [("nothing.nx.test", "A", "NXDOMAIN", set())]),
        ([s6, "host.tapflow.test", "A"], [("host.tapflow.test", "A", "NOERROR", {("A", "10.77.0.81")})]),
        ([s4, "+tcp", "host.tapflow.test", "A"], [("host.tapflow.test", "A", "NOERROR", {("A", "10.77.0.81")})]),
        ([s4, "+tcp", "nothing.nx.test", "AAAA"], [("nothing.nx.test", "AAAA", "NXDOMAIN", set())]),
        ([s4, "+tcp", "+keepopen", "www.tapflow.test", "A", "host.tapflow.test", "AAAA"],
         [("www.tapflow.test", "A", "NOERROR", {("A", "10.77.0.80")}),
          ("host.tapflow.test", "AAAA", "NOERROR", {("AAAA", "fd00:77::81")})]),
    ]
    expect = []
    for args, answers in queries:
        out = tb.ns_run(tb.client_ns, ["dig", "+time=3", "+tries=1"] + args).stdout
        statuses = [line.split("status: ")[1].split(",")[0] for line in out.splitlines() if "status: " in line]
        if statuses != [a[2] for a in answers]:
            raise RuntimeError("dig %s: statuses %s, expected %s:\n%s" % (args, statuses, [a[2] for a in answers], out))
        for name, qtype, status, data in answers:
            for _, value in data:
                if value not in out:
                    raise RuntimeError("dig %s: no %s in:\n%s" % (args, value, out))
            expect.append({"name": name, "type": qtype, "rcode": status, "answers": sorted(data),
                           "transport": "tcp" if "+tcp" in args else "udp"})
    time.sleep(0.3)
    cap.stop()
    return {"dns": expect}


# -- TLS ----------------------------------------------------------------------

def scenario_tls(tb, pcap):
    """curl (TLS 1.2 and 1.3, ALPN h2+http/1.1 and http/1.1 only, with and without
    SNI) and openssl s_client (SNI, a fixed TLS 1.2 cipher, a TLS 1.3 cipher)
    against nginx with a self-signed certificate."""
    _start_nginx(tb)
    name, other = TLS_NAMES
    resolve = ["--resolve", "%s:443:%s" % (name, SERVER_V4), "--insecure"]
    url = "https://%s/index.html" % name
    expect = []
    cap = tb.capture(pcap)

    def curl(args, sni, version, alpn):
        log_lines = []
        t = _curl(tb, ["-v"] + args, [200], log_lines)
        want = "SSL connection using TLSv%s" % version
        if want not in log_lines[0]:
            raise RuntimeError("curl %s: no %r in:\n%s" % (args, want, log_lines[0][-2000:]))
        expect.append({"client": [t[0]["local_ip"], t[0]["local_port"]], "sni": sni, "version": version,
                       "alpn": alpn})

    curl(resolve + [url], name, "1.3", ["h2", "http/1.1"])
    curl(resolve + ["--http1.1", url], name, "1.3", ["http/1.1"])
    curl(resolve + ["--tlsv1.2", "--tls-max", "1.2", url], name, "1.2", ["h2", "http/1.1"])
    curl(resolve + ["--tlsv1.2", "--tls-max", "1.2", "--http1.1", url], name, "1.2", ["http/1.1"])
    # An address in the URL: curl sends no server_name.
    curl(["--insecure", "--http1.1", "https://%s/index.html" % SERVER_V4], None, "1.3", ["http/1.1"])

    def s_client(args, sni, version, cipher_openssl):
        out = tb.ns_run(tb.client_ns, ["openssl", "s_client", "-connect", "%s:443" % SERVER_V4] + args,
                        stdin=subprocess.DEVNULL, timeout=20)
        text = out.stdout + out.stderr
        if ("Protocol  : TLSv%s" % version) not in text and ("TLSv%s," % version) not in text:
            raise RuntimeError("s_client %s: not TLS %s:\n%s" % (args, version, text[-2000:]))
        if cipher_openssl and cipher_openssl not in text:
            raise RuntimeError("s_client %s: cipher %s not chosen:\n%s" % (args, cipher_openssl, text[-2000:]))
        expect.append({"client": None, "sni": sni, "version": version, "alpn": None})

    s_client(["-servername", other], other, "1.3", None)
    s_client(["-servername", name, "-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"], name, "1.2",
             "ECDHE-RSA-AES128-GCM-SHA256")
    s_client(["-servername", name, "-tls1_3", "-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256", "-alpn",
              "http/1.1"], name, "1.3", "TLS_CHACHA20_POLY1305_SHA256")
    time.sleep(0.3)
    cap.stop()
    return {"tls": expect}


SCENARIOS = {
    "http": scenario_http,
    "sip": scenario_sip,
    "dns": scenario_dns,
    "tls": scenario_tls,
}


def make_pcaps(outdir, names=None):
    """Runs each scenario in a fresh testbed; returns {name: pcap path}, each
    with its PCAP.expect.json."""
    os.makedirs(outdir, exist_ok=True)
    out = {}
    for name in names or SCENARIOS:
        path = os.path.join(outdir, "analyzer_%s.pcap" % name)
        t0 = time.monotonic()
        with traffic.Testbed(tag="a" + name) as tb:
            expect = SCENARIOS[name](tb, path)
        write_expectation(path, expect)
        log("traffic: %-5s -> %s (%d bytes, %.1fs)" % (name, path, os.path.getsize(path), time.monotonic() - t0))
        out[name] = path
    return out


def main(argv):
    tool = argv[1] if len(argv) > 1 else ""
    if tool == "http-server":
        tool_http_server(argv[2], int(argv[3]))
    elif tool == "http-pipeline":
        tool_http_pipeline(argv[2], int(argv[3]))
    elif tool == "make" and len(argv) > 2:
        if os.geteuid() != 0:
            sys.exit("the scenarios need root (network namespaces)")
        make_pcaps(argv[2], argv[3:] or None)
    else:
        sys.exit("usage: analyzer_traffic.py make OUTDIR [%s ...] | http-server HOST PORT | http-pipeline HOST PORT"
                 % "|".join(SCENARIOS))


if __name__ == "__main__":
    main(sys.argv)
