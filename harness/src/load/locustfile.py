"""The arena's scenarios as a Locust load test (written by `harness locustfile`).

Each worker runs one user that plays the bench's `text` conversation against POST /api/chat
as open-loop arrivals at a fixed rate: the run's rate split evenly over the workers, each
worker's arrivals offset so that together they stay evenly spaced. Every conversation is timed
from its scheduled start (a worker that falls behind cannot hide the wait it caused). The UI
message stream is parsed as it arrives; TTFT (first text-delta - scheduled start) and each
inter-chunk gap are kept as raw integer microseconds of the worker's CLOCK_MONOTONIC and sent to
the master every second, which appends them to --arena-out as JSON lines. The harness merges
those samples into one histogram: Locust's own statistics (whole milliseconds, two significant
digits above 100) are not used for any figure, and no percentile is ever averaged.

With --arena-windows K the schedule is K windows of equal length with --arena-pause-s between
them, where the harness's own client plays its windows on the same machine (samples carry
their window). Each worker reports `done` after its schedule and drain; a worker that never
does is counted as lost by the harness, with the share of the schedule no report accounts for.
"""

import json
import time

import gevent
import gevent.pool
import requests
from requests.adapters import HTTPAdapter
from locust import User, events, task
from locust.runners import MasterRunner, WorkerRunner

# Filled in by `harness locustfile` from the bench's workload (docs/bench.md#workload).
# (JSON literals, which Python reads as its own.)
DIRECTIVE = @DIRECTIVE@
# The text the mock sends for DIRECTIVE, chunk by chunk: the sequence check.
EXPECTED = @EXPECTED@
# Samples leave a worker this often, so a worker killed mid-run loses at most this much.
REPORT_EVERY_S = 1.0
# A conversation still open this long after its scheduled start is an error.
ANSWER_TIMEOUT_S = 60.0
# Once the schedule ends, conversations in flight get this long to finish before `done`.
DRAIN_S = 30.0
# Connections each worker keeps open to the target (conversations in flight at once).
POOL_SIZE = 512


@events.init_command_line_parser.add_listener
def _arguments(parser):
    parser.add_argument("--arena-rate", type=float, default=10.0,
                        help="conversations per second, all workers together")
    parser.add_argument("--arena-workers", type=int, default=1,
                        help="workers sharing the rate")
    parser.add_argument("--arena-seconds", type=float, default=10.0,
                        help="length of the schedule")
    parser.add_argument("--arena-windows", type=int, default=1,
                        help="split the schedule into this many windows")
    parser.add_argument("--arena-pause-s", type=float, default=0.0,
                        help="pause between windows (another client plays there)")
    parser.add_argument("--arena-out", default="",
                        help="master only: the JSON-lines file the workers' reports go to")


def _now_us():
    return time.monotonic_ns() // 1000


class _Batch:
    """What a worker has not yet reported."""

    def __init__(self):
        self.ttft_us = []
        self.gap_us = []
        # The window of each sample above, index for index.
        self.ttft_window = []
        self.gap_window = []
        self.started = 0
        self.completed = 0
        self.errors = 0
        self.lost_chunks = 0
        self.reordered_chunks = 0

    def take(self):
        body = dict(self.__dict__)
        self.__init__()
        return body


def _converse(session, host, scheduled_us, window, batch, environment):
    batch.started += 1
    body = {
        "id": "locust",
        "trigger": "submit-message",
        "messages": [{"id": "u1", "role": "user",
                      "parts": [{"type": "text", "text": DIRECTIVE}]}],
    }
    texts = []  # (arrival µs, text)
    failure = None
    done = False
    try:
        with session.post(host + "/api/chat", json=body, stream=True,
                          timeout=ANSWER_TIMEOUT_S) as resp:
            if resp.status_code != 200:
                failure = f"HTTP {resp.status_code}"
            else:
                buf = b""
                for piece in resp.iter_content(chunk_size=None):
                    at = _now_us()
                    buf += piece
                    while b"\n\n" in buf:
                        frame, buf = buf.split(b"\n\n", 1)
                        for line in frame.split(b"\n"):
                            if not line.startswith(b"data: "):
                                continue
                            data = line[6:]
                            if data == b"[DONE]":
                                done = True
                                continue
                            try:
                                chunk = json.loads(data)
                            except ValueError:
                                continue
                            kind = chunk.get("type")
                            if kind == "text-delta":
                                texts.append((at, chunk.get("delta", "")))
                            elif kind == "error" and failure is None:
                                failure = "error chunk: " + str(chunk.get("errorText"))
    except Exception as e:  # noqa: BLE001 - any failure of the exchange is an error
        failure = f"{type(e).__name__}: {e}"
    if failure is None and not done:
        failure = "no [DONE]"
    elapsed_ms = (_now_us() - scheduled_us) / 1000.0
    environment.events.request.fire(
        request_type="POST", name="/api/chat", response_time=elapsed_ms,
        response_length=len(texts), exception=failure, context={})
    if failure is not None:
        batch.errors += 1
        return
    batch.completed += 1
    if texts:
        batch.ttft_us.append(max(texts[0][0] - scheduled_us, 0))
        batch.ttft_window.append(window)
    for (a, _), (b, _) in zip(texts, texts[1:]):
        batch.gap_us.append(b - a)
        batch.gap_window.append(window)
    expected = EXPECTED
    batch.lost_chunks += max(len(expected) - len(texts), 0)
    batch.reordered_chunks += sum(
        1 for k, (_, t) in enumerate(texts)
        if (k >= len(expected) or expected[k] != t) and t in expected)


class ArenaChat(User):
    """One per worker: starts the worker's share of the open-loop schedule, once per worker
    process (the schedule runs apart from the user, so a user Locust stops or moves while
    rebalancing after a lost worker neither cuts it short nor plays it twice)."""

    @task
    def schedule(self):
        global _SCHEDULE
        if _SCHEDULE is None:
            _SCHEDULE = gevent.spawn(_play_schedule, self.environment)
        gevent.sleep(3600)


_SCHEDULE = None


def _play_schedule(env):
    opts = env.parsed_options
    workers = max(int(opts.arena_workers), 1)
    index = getattr(env.runner, "worker_index", 0) % workers
    per_worker = float(opts.arena_rate) / workers
    interval_us = 1e6 / per_worker
    windows = max(int(opts.arena_windows), 1)
    window_s = float(opts.arena_seconds) / windows
    per_window = max(int(round(per_worker * window_s)), 1)
    count = per_window * windows
    # A window and the pause after it: the other client's window sits in the pause.
    stride_us = int((window_s + float(opts.arena_pause_s)) * 1e6)
    session = requests.Session()
    session.mount("http://", HTTPAdapter(pool_connections=1, pool_maxsize=POOL_SIZE))
    session.trust_env = False
    batch = _Batch()
    pool = gevent.pool.Group()
    begin_us = _now_us()
    reporter = gevent.spawn(_report_loop, env, batch, index, count, begin_us)
    start_us = begin_us + int(interval_us * index / workers)
    for k in range(count):
        window, j = divmod(k, per_window)
        scheduled = start_us + window * stride_us + int(j * interval_us)
        wait = (scheduled - _now_us()) / 1e6
        if wait > 0:
            gevent.sleep(wait)
        pool.spawn(_converse, session, env.host, scheduled, window, batch, env)
    pool.join(timeout=DRAIN_S)
    pool.kill(block=False)
    reporter.kill()
    _send(env, "done", index, count, batch, begin_us)


def _send(env, kind, index, scheduled, batch, begin_us):
    msg = batch.take()
    # begin_us: where the worker's schedule starts on its CLOCK_MONOTONIC; on the harness's
    # machine, the clock its own client alternates windows by.
    msg.update({"kind": kind, "index": index, "scheduled": scheduled, "begin_us": begin_us,
                "client_id": getattr(env.runner, "client_id", "local")})
    if isinstance(env.runner, WorkerRunner):
        env.runner.send_message("arena_report", msg)
    else:
        _write(env, msg)


def _report_loop(env, batch, index, scheduled, begin_us):
    # The first report goes at once, so the harness learns begin_us before the first pause.
    while True:
        _send(env, "samples", index, scheduled, batch, begin_us)
        gevent.sleep(REPORT_EVERY_S)


def _write(env, msg):
    path = env.parsed_options.arena_out
    if not path:
        return
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(msg) + "\n")
        f.flush()


@events.init.add_listener
def _on_init(environment, **_kwargs):
    if isinstance(environment.runner, MasterRunner):
        environment.runner.register_message(
            "arena_report", lambda msg, **_kw: _write(environment, msg.data))
