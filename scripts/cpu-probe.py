#!/usr/bin/env python3
"""An outside check of the bench's CPU at load (docs/bench.md#cpu-at-load), kept apart from the
harness's code path on purpose: it shares none of its client, pacer or meter.

It starts the release mock provider pinned to CPU 0 at real-time priority, and two instances of
rust-only pinned to the last CPU, one burning --inject-cpu-us µs per text chunk and one clean,
each in a cgroup v1 `cpuacct` group of its own. It drives both at the same time with open-loop
20-chunk conversations (10 ms apart) at --rate per second from plain Python threads, and prints
each instance's CPU per text chunk received over the steady part of the run, and their
difference against the burn.

The knobs are the study's A/B switches:
  --connections new|reuse   one TCP connection per conversation, or a pool kept alive
  --phase aligned|random    starts exactly 1/rate apart (in phase with the provider's 10 ms
                            gaps when 1/rate is a multiple of them), or each start moved by a
                            random part of one gap

Run from the repository root after `cargo build --release -p mock-provider -p backend-rust-only`,
as root (cgroups, chrt). Removes its cgroups on every exit path.
"""

import argparse
import http.client
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from probe_kit import ROOT, chat_body, loadavg, start, start_mock  # noqa: E402

CGROUP = "/sys/fs/cgroup/cpuacct"
PREFIX = "arena-probe"
GAP_MS = 10


class Group:
    """A cpuacct cgroup holding one process."""

    def __init__(self, name, pid):
        self.dir = f"{CGROUP}/{PREFIX}-{os.getpid()}-{name}"
        os.makedirs(self.dir, exist_ok=True)
        with open(f"{self.dir}/cgroup.procs", "w") as f:
            f.write(str(pid))

    def ns(self):
        with open(f"{self.dir}/cpuacct.usage") as f:
            return int(f.read())

    def remove(self):
        # The process must have left first: move anything still inside back to the root.
        try:
            with open(f"{self.dir}/cgroup.procs") as f:
                pids = f.read().split()
            for pid in pids:
                with open(f"{CGROUP}/cgroup.procs", "w") as f:
                    f.write(pid)
            os.rmdir(self.dir)
        except OSError:
            pass


def body(tag, chunks):
    return chat_body(f"[[scenario:text chunks={chunks} tag={tag}]]")


class Client:
    """One instance's connections: new for each conversation, or a pool kept alive."""

    def __init__(self, url, reuse):
        host, port = url.removeprefix("http://").split(":")
        self.host, self.port, self.reuse = host, int(port), reuse
        self.pool = queue.SimpleQueue()

    def conversation(self, tag, chunks, receipts, errors):
        conn = None
        if self.reuse:
            try:
                conn = self.pool.get_nowait()
            except queue.Empty:
                pass
        if conn is None:
            conn = http.client.HTTPConnection(self.host, self.port)
        try:
            conn.request("POST", "/api/chat", body(tag, chunks), {"content-type": "application/json"})
            resp = conn.getresponse()
            n = 0
            while True:
                line = resp.readline()
                if not line:
                    break
                if b'"type":"text-delta"' in line:
                    receipts.append(time.monotonic_ns())
                    n += 1
            if n != chunks:
                errors.append(f"{tag}: {n} text chunks of {chunks}")
            if self.reuse:
                self.pool.put(conn)
            else:
                conn.close()
        except Exception as e:  # noqa: BLE001 - counted and printed, never hidden
            errors.append(f"{tag}: {e}")
            conn.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--inject-cpu-us", type=int, default=100)
    ap.add_argument("--rate", type=float, default=20.0, help="conversations per second")
    ap.add_argument("--chunks", type=int, default=20)
    ap.add_argument("--warmup-s", type=float, default=2.0)
    ap.add_argument("--seconds", type=float, default=8.0, help="the measured part")
    ap.add_argument("--connections", choices=["new", "reuse"], default="new")
    ap.add_argument("--phase", choices=["aligned", "random"], default="random")
    ap.add_argument("--pin", choices=["at-start", "after-ready"], default="at-start",
                    help="at-start: tokio sees one CPU and starts one worker; after-ready: it starts one per CPU")
    ap.add_argument("--clean-offset-ms", type=float, default=0.0,
                    help="start the clean instance's conversations this much after the burnt one's")
    ap.add_argument("--drive", choices=["both", "burnt", "clean"], default="both",
                    help="drive both instances at once, or only one (the other stays idle)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    random.seed(args.seed)
    last_cpu = os.cpu_count() - 1

    procs, groups = [], []

    def cleanup(*_):
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=3)
            except subprocess.TimeoutExpired:
                p.kill()
        for g in groups:
            g.remove()

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    try:
        mock, mock_url = start_mock()
        procs.append(mock)
        env = dict(os.environ, OPENAI_API_KEY="sk-probe")
        common = [os.path.join(ROOT, "target", "release", "backend-rust-only"), "--listen", "127.0.0.1:0", "--provider-url",
                  f"{mock_url}/v1", "--rate-limit", "off"]
        after = args.pin == "after-ready"
        burnt, burnt_url = start(
            common + ["--enable-fault-injection", "--inject-cpu-us", str(args.inject_cpu_us)], last_cpu,
            env=env, pin_after=after,
        )
        procs.append(burnt)
        clean, clean_url = start(common, last_cpu, env=env, pin_after=after)
        procs.append(clean)
        groups += [Group("burnt", burnt.pid), Group("clean", clean.pid)]
        clients = [Client(burnt_url, args.connections == "reuse"), Client(clean_url, args.connections == "reuse")]
        receipts = [[], []]
        errors = []
        os.sched_setaffinity(0, {0})

        interval = 1.0 / args.rate
        total = args.warmup_s + args.seconds
        t0 = time.monotonic() + 0.05
        threads, marks = [], {}
        i = 0
        while True:
            due = i * interval
            if due >= total:
                break
            if args.phase == "random":
                due += random.uniform(0, GAP_MS / 1000)
            due += t0
            while True:
                now = time.monotonic()
                if "warm" not in marks and now >= t0 + args.warmup_s:
                    marks["warm"] = (time.monotonic_ns(), [g.ns() for g in groups])
                if now >= due:
                    break
                time.sleep(min(due - now, 0.002))
            for k, c in enumerate(clients):
                if args.drive != "both" and args.drive != ["burnt", "clean"][k]:
                    continue
                if k == 1 and args.clean_offset_ms > 0:
                    while time.monotonic() < due + args.clean_offset_ms / 1000:
                        time.sleep(0.0005)
                t = threading.Thread(target=c.conversation, args=(f"probe.{k}.{i}", args.chunks, receipts[k], errors))
                t.start()
                threads.append(t)
            i += 1
        while time.monotonic() < t0 + total:
            time.sleep(0.001)
        marks["end"] = (time.monotonic_ns(), [g.ns() for g in groups])
        for t in threads:
            t.join()
        (w0, c0), (w1, c1) = marks["warm"], marks["end"]
        per_chunk = []
        for k, name in enumerate(["burnt", "clean"]):
            got = sum(1 for at in receipts[k] if w0 <= at < w1)
            if got == 0:
                print(f"{name}: {(c1[k] - c0[k]) / 1e6:.1f} ms CPU, not driven")
                per_chunk.append(float("nan"))
                continue
            us = (c1[k] - c0[k]) / 1e3 / got
            per_chunk.append(us)
            print(f"{name}: {(c1[k] - c0[k]) / 1e6:.1f} ms CPU over {got} text chunks = {us:.1f} µs per chunk")
        diff = per_chunk[0] - per_chunk[1]
        print(
            f"burnt - clean = {diff:+.1f} µs per chunk for {args.inject_cpu_us} injected "
            f"({args.connections} connections, {args.phase} phase, pinned {args.pin}, clean +{args.clean_offset_ms} ms, {args.rate}/s x {args.chunks} chunks)"
        )
        if errors:
            print(f"{len(errors)} errors, first: {errors[0]}")
        print("loadavg", loadavg())
    finally:
        cleanup()


if __name__ == "__main__":
    main()
