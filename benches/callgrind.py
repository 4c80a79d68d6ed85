#!/usr/bin/env python3
"""Instructions per request, from the socket to the socket, under callgrind.

    python3 benches/callgrind.py BIN [QUERY...]            # diplograph, response cache off
    CACHE=on python3 benches/callgrind.py BIN [QUERY...]   # response cache on (hits)
    TRANSPORT=path/to/transport python3 benches/callgrind.py BIN [QUERY...]
                                                           # also benches/transport.rs on the same answers

Starts the server (one worker) under `valgrind --tool=callgrind`, sends each
benchmark query (benches/queries/NAME.json) as wrk sends it (benches/post.lua)
on one keep-alive connection: WARMUP requests, then zeroes the counters, sends
N more, dumps them and prints the total divided by N. Counts are stable from
run to run (a few instructions), unlike wall-clock figures on a shared host.
Queries default to lookup and nested; N=200, WARMUP=50. OUT=dir keeps the
dumps (for callgrind_annotate). The query `create` is a write: `createActor`
as benches/create.lua sends it (a new actor per request, with a write token),
one at a time, so each waits for its own log sync (CONNS=16: from 16
connections at once, N split between them, so writes share syncs).
"""

import glob
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

N = int(os.environ.get("N", "200"))
# Connections sending at once (N is split between them): for `create`, so
# that writes share log syncs as benches/run.sh's 16-connection row has them.
CONNS = int(os.environ.get("CONNS", "1"))
WARMUP = int(os.environ.get("WARMUP", "50"))
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read_response(sock, buffered):
    """One response off a keep-alive connection: (status line, body), rest."""
    while b"\r\n\r\n" not in buffered:
        chunk = sock.recv(65536)
        if not chunk:
            raise RuntimeError("connection closed")
        buffered += chunk
    head, rest = buffered.split(b"\r\n\r\n", 1)
    length = int(re.search(rb"(?i)\r\ncontent-length: *(\d+)", head).group(1))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise RuntimeError("connection closed")
        rest += chunk
    return head.split(b"\r\n", 1)[0], rest[:length], rest[length:]


TOKEN = "callgrind-write-token-0123456789abcdef"
WRITES = iter(range(1 << 62))


def create_body():
    """A createActor request as benches/create.lua sends it, for a new actor."""
    n = next(WRITES)
    return (
        '{"query":"mutation($input: CreateActorInput!) { createActor(input: $input) { actor { id } } }",'
        f'"variables":{{"input":{{"id":"actor/bench-c-{n}","name":"Bench c {n}","kind":"GROUP"}}}}}}'
    ).encode()


def request_bytes(host, body):
    """A POST as wrk sends it with benches/post.lua (or benches/create.lua)."""
    token = f"Authorization: Bearer {TOKEN}\r\n" if b"mutation" in body else ""
    head = (
        f"POST /graphql HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Accept: application/json\r\n{token}Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def send(address, body, count):
    host, port = address.rsplit(":", 1)
    sock = socket.create_connection((host, int(port)))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buffered, answer = b"", None
    for _ in range(count):
        request = request_bytes(address, body() if callable(body) else body)
        sock.sendall(request)
        status, answer, buffered = read_response(sock, buffered)
        if b" 200 " not in status:
            raise RuntimeError(f"{status!r}: {answer[:300]!r}")
    sock.close()
    return answer


def await_line(log, pattern, proc, seconds=300):
    for _ in range(seconds * 5):
        if os.path.exists(log):
            found = re.search(pattern, open(log, errors="replace").read())
            if found:
                return found.group(1)
        if proc.poll() is not None:
            sys.exit(open(log).read())
        time.sleep(0.2)
    sys.exit(f"no {pattern!r} in {log}")


def control(pid, flag):
    subprocess.run(["callgrind_control", flag, str(pid)], check=True, stdout=subprocess.DEVNULL)


def total_of(path):
    for line in open(path):
        if line.startswith("totals:") or line.startswith("summary:"):
            return int(line.split()[1])
    raise RuntimeError(f"no totals in {path}")


def measure(argv, env, address_pattern, queries, work, name, ready=None):
    out = os.path.join(work, f"{name}.callgrind")
    log = os.path.join(work, f"{name}.log")
    proc = subprocess.Popen(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *os.environ.get("VALGRIND_ARGS", "").split(), *argv],
        env=env,
        stdout=open(log, "w"),
        stderr=subprocess.STDOUT,
    )
    figures = {}
    try:
        address = await_line(log, address_pattern, proc)
        if ready:
            ready(address)
        for query in queries:
            if query == "create":
                body = create_body
            else:
                body = open(os.path.join(ROOT, "benches", "queries", f"{query}.json"), "rb").read()
            answer = send(address, body, WARMUP)
            before = set(glob.glob(out + "*"))
            control(proc.pid, "-z")
            if CONNS > 1:
                # Writers at once, so that writes share log syncs in groups.
                threads = [threading.Thread(target=send, args=(address, body, N // CONNS)) for _ in range(CONNS)]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
            else:
                send(address, body, N)
            control(proc.pid, "-d")
            for _ in range(100):
                dumps = sorted(set(glob.glob(out + "*")) - before, key=os.path.getmtime)
                if dumps:
                    break
                time.sleep(0.1)
            time.sleep(0.5)
            figures[query] = (total_of(dumps[-1]) / ((N // CONNS) * CONNS), answer)
    finally:
        proc.terminate()
        proc.wait()
    return figures


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    binary = os.path.abspath(sys.argv[1])
    queries = sys.argv[2:] or ["lookup", "nested"]
    keep = os.environ.get("OUT")
    work = keep or tempfile.mkdtemp()
    os.makedirs(work, exist_ok=True)
    cache = os.environ.get("CACHE", "off")
    env = dict(
        os.environ,
        DIPLOGRAPH_WORKERS="1",
        DIPLOGRAPH_DATA_DIR=os.path.join(work, "data"),
        DIPLOGRAPH_SEED_DIR=os.path.join(ROOT, "seed"),
        DIPLOGRAPH_BIND="127.0.0.1:0",
        DIPLOGRAPH_RESPONSE_CACHE="true" if cache == "on" else "false",
        DIPLOGRAPH_WRITE_TOKENS=TOKEN,
        RUST_LOG="warn,diplograph::startup=info",
    )
    shutil.rmtree(os.path.join(work, "data"), ignore_errors=True)

    def ready(address):
        for _ in range(600):
            try:
                if urllib.request.urlopen(f"http://{address}/ready").status == 200:
                    return
            except Exception:
                pass
            time.sleep(0.5)

    ours = measure([binary, "serve"], env, r"listening; open http://([0-9.:]+)", queries, work, "server", ready)
    for query, (per_request, _) in ours.items():
        print(f"diplograph cache-{cache} {query}: {per_request:,.0f} instructions per request", flush=True)
    transport = os.environ.get("TRANSPORT")
    reads = [q for q in queries if q != "create"]
    if transport and reads:
        answers = os.path.join(work, "answers")
        os.makedirs(answers, exist_ok=True)
        for query in reads:
            answer = ours[query][1]
            shutil.copy(os.path.join(ROOT, "benches", "queries", f"{query}.json"), answers)
            open(os.path.join(answers, f"{query}.answer"), "wb").write(answer)
        theirs = measure(
            [os.path.abspath(transport), answers, "127.0.0.1:0"], os.environ, r"listening on ([0-9.:]+)", reads, work,
            "transport",
        )
        for query, (per_request, _) in theirs.items():
            ratio = per_request / ours[query][0]
            print(f"transport {query}: {per_request:,.0f} instructions per request ({ratio:.2f} of diplograph's)")
    if not keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
