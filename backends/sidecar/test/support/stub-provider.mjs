// A tiny OpenAI-compatible chat-completions server for the sidecar's tests.
//
// The behaviour is picked by a `[[scenario:NAME]]` directive in the last user message, as with
// the project's mock provider. Every request is recorded, with a promise that settles when the
// client closes the connection before the answer ended (to prove aborts reach the provider).

import http from 'node:http';

const CREATED = 1_700_000_000;
// Attempts seen per conversation text, for the retry scenario.
const attemptsByChat = new Map();

export async function startStubProvider() {
  const requests = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const record = { headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) };
      record.closedEarly = new Promise((resolve) => {
        res.on('close', () => {
          if (!res.writableFinished) resolve(true);
        });
      });
      requests.push(record);
      const conversation = JSON.stringify(record.body.messages);
      respond({ ...record.body, conversation, authorization: req.headers.authorization }, res);
    });
  });
  await new Promise((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  const url = `http://127.0.0.1:${server.address().port}/v1`;
  return {
    url,
    requests,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

function scenarioOf(body) {
  const users = body.messages.filter((m) => m.role === 'user');
  const last = users.at(-1);
  const text = typeof last?.content === 'string' ? last.content : (last?.content ?? []).map((p) => p.text ?? '').join('');
  return /\[\[scenario:([a-z0-9-]+)/.exec(text)?.[1] ?? 'text';
}

function respond(body, res) {
  const scenario = scenarioOf(body);
  const toolMessages = body.messages.filter((m) => m.role === 'tool');
  switch (scenario) {
    case 'http-500':
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'the stub failed on purpose', type: 'server_error' } }));
      return;
    case 'http-429-once': {
      // Rate limited on the first attempt of each conversation, answered on the retry.
      const attempts = (attemptsByChat.get(body.conversation) ?? 0) + 1;
      attemptsByChat.set(body.conversation, attempts);
      if (attempts === 1) {
        res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '0' });
        res.end(JSON.stringify({ error: { message: 'slow down', type: 'rate_limit_error' } }));
        return;
      }
      return stream(res, [textChunk('after retry')], 'stop');
    }
    case 'echo-key-401':
      // A provider that quotes the credential back, as some do in "invalid key" errors.
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: `Incorrect API key provided: ${requestKey(body)}`, type: 'invalid_request_error' } }));
      return;
    case 'unknown-tool':
    case 'bad-args':
      if (toolMessages.length === 0) {
        const call = scenario === 'unknown-tool' ? ['no_such_tool', '{}'] : ['get_spec', '{"id":'];
        return stream(res, [toolCallChunk('call_2', ...call)], 'tool_calls');
      }
      return stream(res, [textChunk(`Tool said: ${toolMessages.at(-1).content}`)], 'stop');
    case 'crash-tool':
      return stream(res, [toolCallChunk('call_9', '__crash', '{}')], 'tool_calls');
    case 'tool-single':
    case 'tool-error':
      if (toolMessages.length === 0) {
        const id = scenario === 'tool-single' ? 'spec-1' : 'missing-spec';
        return stream(res, [toolCallChunk('call_1', 'get_spec', JSON.stringify({ id }))], 'tool_calls');
      }
      return stream(res, [textChunk(`Tool said: ${toolMessages.at(-1).content}`)], 'stop');
    case 'long':
      // More chunks than a frames stream's window (the frames tests' flow control).
      return stream(res, Array.from({ length: 200 }, (_, i) => textChunk(`w${i} `)), 'stop');
    case 'flood':
      return flood(res, 'flood '.repeat(20));
    case 'flood-words':
      // One short word per chunk, as a model streams: the per-chunk cost is the machinery's.
      return flood(res, 'word ');
    case 'stall':
      return stream(res, [textChunk('waiting')], null, { hang: true });
    case 'truncated':
      return stream(res, [textChunk('cut'), textChunk(' off')], null, { destroy: true });
    case 'malformed':
      return stream(res, [textChunk('fine')], 'stop', { raw: 'data: {not json\n\n', after: [textChunk(' and more')] });
    default:
      return stream(res, ['Hello', ', ', 'world', '!'].map(textChunk), 'stop');
  }
}

function stream(res, deltas, finishReason, { hang = false, destroy = false, raw, after = [] } = {}) {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  const send = (delta, finish = null) =>
    res.write(`data: ${JSON.stringify({
      id: 'chatcmpl-stub',
      object: 'chat.completion.chunk',
      created: CREATED,
      model: 'stub-model',
      choices: [{ index: 0, delta, finish_reason: finish }],
    })}\n\n`);
  send({ role: 'assistant', content: '' });
  for (const delta of deltas) send(delta);
  if (raw) res.write(raw);
  for (const delta of after) send(delta);
  if (hang) return;
  if (destroy) {
    // After the chunks reached the client: a connection lost mid-stream, not a refused one.
    setTimeout(() => res.socket.destroy(), 50);
    return;
  }
  if (finishReason) send({}, finishReason);
  res.end('data: [DONE]\n\n');
}

/** Text chunks without end, as fast as the client takes them (for clients that stop reading). */
function flood(res, text) {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  const chunk = `data: ${JSON.stringify({
    id: 'chatcmpl-stub',
    object: 'chat.completion.chunk',
    created: CREATED,
    model: 'stub-model',
    choices: [{ index: 0, delta: textChunk(text), finish_reason: null }],
  })}\n\n`;
  const more = () => {
    while (!res.destroyed && res.write(chunk));
  };
  res.on('drain', more);
  more();
}

function requestKey(body) {
  return (body.authorization ?? '').replace(/^Bearer /, '');
}

function textChunk(text) {
  return { content: text };
}

function toolCallChunk(id, name, args) {
  return { tool_calls: [{ index: 0, id, type: 'function', function: { name, arguments: args } }] };
}
