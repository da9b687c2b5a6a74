// The project's tools as the AI SDK sees them when they are reached over a backend's public REST
// API: definitions from `GET /api/tools`, executions mapped onto the spec routes. A non-2xx answer
// becomes a `ToolFailure` carrying the API's own error message, exactly as the Rust tool reports
// the same failure, so a reference run and a backend produce the same `tool-output-error`; a call
// that fails otherwise reads `tool <name> could not be called: <reason>` (docs/architecture.md#error-text).

import { jsonSchema, tool } from 'ai';
import { toolNotCalled } from '../../../contract/js/contract.mjs';
import { ToolFailure } from './ui-error-text.mjs';

/** How each tool maps onto a REST route of the backend. */
const ROUTES = {
  get_spec: ({ id }) => `/api/specs/${encodeURIComponent(String(id ?? ''))}`,
  list_specs: ({ status }) => (status == null ? '/api/specs' : `/api/specs?status=${encodeURIComponent(String(status))}`),
  search_specs: ({ query }) => `/api/search?q=${encodeURIComponent(String(query ?? ''))}`,
};

async function getJson(url, abortSignal) {
  const response = await fetch(url, { headers: { accept: 'application/json' }, signal: abortSignal });
  const text = await response.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (!response.ok) {
    throw new ToolFailure(body?.error?.message ?? `GET ${url} answered HTTP ${response.status}`);
  }
  if (body === undefined) throw new Error(`GET ${url} answered with a body that is not JSON`);
  return body;
}

/** Loads the tool definitions from `<baseUrl>/api/tools` and wraps each as an AI SDK tool. */
export async function loadRestTools(baseUrl) {
  const root = baseUrl.replace(/\/+$/, '');
  let list;
  try {
    list = await getJson(`${root}/api/tools`);
  } catch (error) {
    throw new Error(`cannot load tool definitions from ${root}/api/tools: ${error.message}`);
  }
  if (!Array.isArray(list?.tools)) {
    throw new Error(`${root}/api/tools did not answer {"tools": [...]}`);
  }
  return Object.fromEntries(
    list.tools.map(({ name, description, input_schema: inputSchema }) => [
      name,
      tool({
        description,
        inputSchema: jsonSchema(inputSchema),
        execute: async (input, { abortSignal }) => {
          const route = ROUTES[name];
          if (route == null) throw new ToolFailure(toolNotCalled(name, 'it has no REST route'));
          try {
            return await getJson(`${root}${route(input ?? {})}`, abortSignal);
          } catch (error) {
            // The route's own error message is the tool's; anything else is a failed call.
            if (error instanceof ToolFailure) throw error;
            throw new ToolFailure(toolNotCalled(name, error.message));
          }
        },
      }),
    ]),
  );
}
