// A backend double for the crash stage's tests, started as
//   node hanging-backend.mjs <pid file> --provider-url URL [common flags]
// It streams the mock provider's text as a UI message stream, like a real backend, but answers
// the `crash-tool` scenario by hanging (its only thread blocks, without spinning) instead of
// crashing. Its "runtime" is a child in a process group and session of its own that does not die
// with it: what a fault leaves behind. Both pids are appended to the pid file.
import http from 'node:http';
import { spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';

const pidFile = process.argv[2];
const flag = (name) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const providerUrl = flag('--provider-url');

const runtime = spawn('sleep', ['600'], { detached: true, stdio: 'ignore' });
runtime.unref();
appendFileSync(pidFile, `${process.pid}\n${runtime.pid}\n`);

function hang() {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
}

async function chat(req, res) {
  let raw = '';
  for await (const piece of req) raw += piece;
  const messages = JSON.parse(raw).messages;
  const text = messages.at(-1).parts.map((p) => p.text ?? '').join('');
  if (text.includes('[[scenario:crash-tool')) hang();
  const abort = new AbortController();
  res.on('close', () => abort.abort());
  const upstream = await fetch(`${providerUrl}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'mock-gpt', stream: true, messages: [{ role: 'user', content: text }] }),
    signal: abort.signal,
  });
  res.writeHead(200, { 'content-type': 'text/event-stream', 'x-vercel-ai-ui-message-stream': 'v1' });
  const send = (chunk) => res.write(`data: ${JSON.stringify(chunk)}\n\n`);
  send({ type: 'start' });
  send({ type: 'start-step' });
  send({ type: 'text-start', id: 't' });
  let buffered = '';
  const decoder = new TextDecoder();
  for await (const bytes of upstream.body) {
    buffered += decoder.decode(bytes, { stream: true });
    const frames = buffered.split('\n\n');
    buffered = frames.pop();
    for (const frame of frames) {
      const data = frame.replace(/^data: /, '');
      if (data === '[DONE]') continue;
      const delta = JSON.parse(data).choices?.[0]?.delta?.content;
      if (delta) send({ type: 'text-delta', id: 't', delta });
    }
  }
  send({ type: 'text-end', id: 't' });
  send({ type: 'finish-step' });
  send({ type: 'finish' });
  res.end('data: [DONE]\n\n');
}

const server = http.createServer((req, res) => {
  if (req.url === '/health') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ status: 'ok', backend: 'hangs' }));
  } else if (req.url === '/api/chat' && req.method === 'POST') {
    chat(req, res).catch(() => res.destroy());
  } else {
    res.writeHead(404);
    res.end();
  }
});
server.listen(0, '127.0.0.1', () => {
  const url = `http://127.0.0.1:${server.address().port}`;
  console.log(JSON.stringify({ event: 'ready', backend: 'hangs', url, pid: process.pid, runtime_pid: runtime.pid }));
});
