// The chat page: the conversation, the composer with its scenario picker, Stop, and the error
// useChat reports. A failed turn is taken back: the conversation returns to where it was before
// it, the text returns to the input, and Retry sends it again (docs/chat-page.md).
import { useChat } from '@ai-sdk/react';
import { DefaultChatTransport } from 'ai';
import { useEffect, useMemo, useRef, useState } from 'react';
import { createChatFetch } from './chat-fetch.js';
import { composeMessage, parseOptions, renderDirective } from './directive.js';
import { Message } from './Message.jsx';
import { ScenarioPicker } from './ScenarioPicker.jsx';
import { useServerInfo } from './server-info.js';

const transport = new DefaultChatTransport({ api: '/api/chat', fetch: createChatFetch() });

export function App() {
  const { catalogue, catalogueError, backend } = useServerInfo();
  const [draft, setDraft] = useState('');
  const [scenario, setScenario] = useState('');
  const [options, setOptions] = useState('');
  // The turn in flight: its text (to give back on failure) and where the conversation stood.
  const inFlight = useRef(null);
  const { messages, sendMessage, status, error, stop, setMessages, clearError } = useChat({ transport });
  const busy = status === 'submitted' || status === 'streaming';

  const composer = useFollowTheAnswer(messages);

  const checked = useMemo(() => parseOptions(scenario ? options : '', catalogue?.parameters ?? []), [scenario, options, catalogue]);
  const directive = checked.ok ? renderDirective(scenario, checked.words) : '';

  useEffect(() => {
    const turn = inFlight.current;
    if (status === 'ready') inFlight.current = null;
    if (status !== 'error' || !turn) return;
    inFlight.current = null;
    setMessages(current => current.slice(0, turn.before));
    setDraft(current => (current.trim() === '' ? turn.text : current));
  }, [status, setMessages]);

  function send() {
    if (busy || draft.trim() === '' || !checked.ok) return;
    inFlight.current = { text: draft, before: messages.length };
    setDraft('');
    sendMessage({ text: composeMessage(draft, directive) });
  }

  function onSubmit(event) {
    event.preventDefault();
    send();
  }

  function onDraftKey(event) {
    if (event.key === 'Enter' && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      send();
    }
  }

  function onFormKey(event) {
    if (event.key === 'Escape' && busy) {
      event.preventDefault();
      stop();
    }
  }

  return (
    <main className="page" data-status={status}>
      <header>
        <h1>LeanSpec chat</h1>
        <p className="served-by">{backend ? <>served by <code>{backend}</code></> : 'chat server'}</p>
      </header>
      <ol className="conversation" role="log" aria-live="polite" aria-label="Conversation">
        {messages.map(message => (
          <Message key={message.id} message={message} />
        ))}
      </ol>
      {error && status === 'error' && (
        <div className="error" role="alert">
          <p>{describeError(error)}</p>
          <div className="error-actions">
            <button type="button" onClick={send} disabled={draft.trim() === ''}>
              Retry
            </button>
            <button type="button" className="quiet" onClick={clearError}>
              Dismiss
            </button>
          </div>
        </div>
      )}
      <form ref={composer} className="composer" onSubmit={onSubmit} onKeyDown={onFormKey} aria-label="Send a message">
        <ScenarioPicker
          catalogue={catalogue}
          catalogueError={catalogueError}
          scenario={scenario}
          onScenario={setScenario}
          options={options}
          onOptions={setOptions}
          directive={directive}
          problem={checked.ok ? null : checked.problem}
        />
        <label className="draft">
          <span>Message</span>
          <textarea
            name="message"
            value={draft}
            onChange={event => setDraft(event.target.value)}
            onKeyDown={onDraftKey}
            rows={3}
            placeholder="Ask about the specs. Enter sends, Shift+Enter starts a new line."
          />
        </label>
        <div className="actions">
          <p className="status" role="status">
            {STATUS_TEXT[status]}
          </p>
          <button type="button" onClick={stop} disabled={!busy} aria-keyshortcuts="Escape">
            Stop
          </button>
          <button type="submit" disabled={busy || draft.trim() === '' || !checked.ok}>
            Send
          </button>
        </div>
      </form>
    </main>
  );
}

/** How close to the end of the page still counts as reading along. */
const FOLLOW_MARGIN_PX = 80;

/**
 * Keeps the composer in view while an answer grows, unless the reader has scrolled up to read
 * something earlier. Returns the ref for the composer.
 */
function useFollowTheAnswer(messages) {
  const composer = useRef(null);
  const following = useRef(true);
  useEffect(() => {
    const onScroll = () => {
      const end = document.documentElement.scrollHeight - FOLLOW_MARGIN_PX;
      following.current = window.scrollY + window.innerHeight >= end;
    };
    window.addEventListener('scroll', onScroll, { passive: true });
    return () => window.removeEventListener('scroll', onScroll);
  }, []);
  useEffect(() => {
    if (following.current) composer.current?.scrollIntoView({ block: 'end' });
  }, [messages]);
  return composer;
}

const STATUS_TEXT = {
  submitted: 'Waiting for the answer…',
  streaming: 'Answering… (Esc stops)',
  ready: '',
  error: 'The last message failed.',
};

function describeError(error) {
  if (error.name === 'ChatRequestError') return error.message;
  // An `error` chunk in the stream: the backend's fixed text (docs/architecture.md#error-text).
  return `The answer failed: ${error.message}. Your message is kept; press Retry to send it again.`;
}
