"""What the two outside probes (`scripts/cpu-probe.py`, `scripts/cpu-per-chunk`) share, kept
apart from the harness on purpose (docs/bench.md#cpu-at-load): starting a process pinned to a
CPU and reading its ready line, the release mock on CPU 0 at real-time priority, the requests
they send, and a process tree's threads.

The probes exist to check the harness's figures with code that shares none of its client,
pacer or meter; only the probes share this module.
"""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MOCK = os.path.join(ROOT, "target", "release", "mock-provider")


def start(argv, cpu, nice=None, env=None, pin_after=False):
    """Starts argv pinned to `cpu` (from its start, or with `pin_after` every thread once it
    printed its ready line, as the harness confines a target) at `nice`; returns (process, url
    from its ready line). A process that prints no ready line is killed and the probe exits."""
    prefix = [] if pin_after else ["taskset", "-c", str(cpu)]
    if nice is not None:
        prefix = ["nice", "-n", str(nice)] + prefix
    proc = subprocess.Popen(prefix + argv, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, env=env, text=True)
    line = proc.stdout.readline()
    try:
        url = json.loads(line)["url"]
    except (json.JSONDecodeError, KeyError, TypeError):
        proc.kill()
        sys.exit(f"{argv[0]} printed no ready line: {line!r}")
    if pin_after:
        subprocess.run(["taskset", "-a", "-p", "-c", str(cpu), str(proc.pid)], check=True,
                       stdout=subprocess.DEVNULL)
    return proc, url


def start_mock():
    """The release mock provider on CPU 0, one thread, at real-time priority where allowed (as
    root): the client's core, so the system under test has the last one to itself."""
    if not os.path.exists(MOCK):
        sys.exit("no release mock: cargo build --release -p mock-provider")
    rt = ["chrt", "-f", "10"] if os.geteuid() == 0 else []
    return start(rt + [MOCK, "--listen", "127.0.0.1:0", "--threads", "1"], 0)


def chat_body(directive, chat_id="probe"):
    """A `/api/chat` request whose one user message is `directive` (the mock's scenario line)."""
    return json.dumps({
        "id": chat_id,
        "trigger": "submit-message",
        "messages": [{"id": "u1", "role": "user", "parts": [{"type": "text", "text": directive}]}],
    })


def openai_body(directive):
    """A streamed Chat Completions request, for a target that speaks the provider's protocol."""
    return json.dumps({"model": "mock-gpt", "stream": True,
                       "messages": [{"role": "user", "content": directive}]})


def tree(pid):
    """`pid` and every process it started, found through each thread's children (a runtime
    spawns from any thread)."""
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        try:
            for tid in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{tid}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return pids


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])
