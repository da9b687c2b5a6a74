// Canned JS versions of the project's tools, for exercising the mock provider (and capturing
// reference streams) without a backend. They answer in the shapes of the Rust tools
// (docs/architecture.md, "LeanSpec core"): a small spec corpus, outputs that carry a `title`, and
// a `ToolFailure` with the core's wording for an unknown id.

import { jsonSchema, tool } from 'ai';
import { toolPanicked } from '../../../contract/js/contract.mjs';
import { ToolFailure } from './ui-error-text.mjs';

/** The corpus the fake tools answer from; ids follow `fixtures/specs` naming. */
export const FAKE_SPECS = [
  {
    id: '001-chat-sidecar-architecture',
    title: 'Chat sidecar architecture',
    status: 'in-progress',
    created: '2025-01-06',
    tags: ['architecture', 'streaming'],
    body: 'How the Rust server reaches the AI SDK: a Node.js sidecar over a Unix socket.',
  },
  {
    id: '002-streaming-ui-messages',
    title: 'Streaming UI messages to useChat',
    status: 'complete',
    created: '2025-01-09',
    tags: ['streaming', 'ui'],
    body: 'The UI message stream protocol, its chunk types and how the client assembles them.',
  },
  {
    id: '003-spec-search-index',
    title: 'Spec search index',
    status: 'planned',
    created: '2025-01-15',
    tags: ['search'],
    body: 'An inverted index over titles, tags and bodies that stays fast on 10,000 specs.',
  },
];

const summary = ({ id, title, status, created, tags }) => ({ id, title, status, created, tags });

/** The core's message for a missing spec. */
export const missingSpecMessage = id => `spec "${id}" not found; list_specs shows the ids that exist`;

const objectSchema = (properties, required = []) =>
  jsonSchema({ type: 'object', properties, required, additionalProperties: false });

/** get_spec, list_specs, search_specs and the two fault tools, as AI SDK tools. */
export function fakeTools() {
  return {
    get_spec: tool({
      description: 'Read one spec by id: its frontmatter and body.',
      inputSchema: objectSchema({ id: { type: 'string', description: 'The spec id' } }, ['id']),
      execute: async ({ id }) => {
        const spec = FAKE_SPECS.find(s => s.id === id);
        if (!spec) throw new ToolFailure(missingSpecMessage(id));
        return spec;
      },
    }),
    list_specs: tool({
      description: 'List specs, optionally only those with one status.',
      inputSchema: objectSchema({
        status: { type: 'string', enum: ['planned', 'in-progress', 'complete'] },
      }),
      execute: async ({ status }) => {
        const specs = FAKE_SPECS.filter(s => status == null || s.status === status).map(summary);
        return { count: specs.length, specs };
      },
    }),
    search_specs: tool({
      description: 'Full-text search over spec titles, tags and bodies.',
      inputSchema: objectSchema({ query: { type: 'string' } }, ['query']),
      execute: async ({ query }) => {
        const needle = String(query).toLowerCase();
        const results = FAKE_SPECS.map(spec => {
          const score = [spec.title, spec.body, ...spec.tags].filter(f => f.toLowerCase().includes(needle)).length;
          return { ...summary(spec), score, snippet: spec.body.slice(0, 60) };
        })
          .filter(r => r.score > 0)
          .sort((a, b) => b.score - a.score);
        return { query, total: results.length, results };
      },
    }),
    __crash: tool({
      description: 'Fault injection: kills the JS runtime.',
      inputSchema: objectSchema({}),
      // A fake runtime has nothing to kill: it fails the way a dead runtime's tool call would.
      execute: async () => {
        throw new ToolFailure('the JS runtime crashed (fault injection)');
      },
    }),
    __panic: tool({
      description: 'Fault injection: panics inside the Rust tool.',
      inputSchema: objectSchema({}),
      execute: async () => {
        throw new ToolFailure(toolPanicked('fault injection'));
      },
    }),
  };
}
