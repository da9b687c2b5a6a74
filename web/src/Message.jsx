// One message of the conversation: its text parts, and each tool call with its input, output or
// error, in the order the stream delivered them.
import { getToolName, isToolUIPart } from 'ai';

const TOOL_STATES = {
  'input-streaming': 'receiving input…',
  'input-available': 'running…',
  'output-available': 'done',
  'output-error': 'failed',
};

export function Message({ message }) {
  const who = message.role === 'user' ? 'You' : 'Assistant';
  return (
    <li className={`message ${message.role}`} data-role={message.role}>
      <h2 className="who">{who}</h2>
      {message.parts.map((part, index) => (
        <Part key={index} part={part} />
      ))}
    </li>
  );
}

function Part({ part }) {
  if (part.type === 'text') {
    return (
      <p className="text" data-part="text">
        {part.text}
      </p>
    );
  }
  if (part.type === 'reasoning') {
    return (
      <details className="reasoning" data-part="reasoning">
        <summary>Reasoning</summary>
        <p>{part.text}</p>
      </details>
    );
  }
  if (isToolUIPart(part)) return <ToolCall part={part} />;
  // step-start and other bookkeeping parts have nothing to show.
  return null;
}

function ToolCall({ part }) {
  const name = getToolName(part);
  const state = TOOL_STATES[part.state] ?? part.state;
  return (
    <section className={`tool ${part.state}`} data-part="tool" data-tool={name} data-state={part.state} aria-label={`Tool call ${name}`}>
      <h3>
        <code>{name}</code> <span className="tool-state">{state}</span>
      </h3>
      <dl>
        <dt>Input</dt>
        <dd>
          <pre data-field="input">{formatJson(part.input)}</pre>
        </dd>
        {part.state === 'output-available' && (
          <>
            <dt>Output</dt>
            <dd>
              <pre data-field="output" tabIndex={0}>
                {formatJson(part.output)}
              </pre>
            </dd>
          </>
        )}
        {part.state === 'output-error' && (
          <>
            <dt>Error</dt>
            <dd>
              <pre data-field="error" className="tool-error">
                {part.errorText}
              </pre>
            </dd>
          </>
        )}
      </dl>
    </section>
  );
}

function formatJson(value) {
  if (value === undefined) return '…';
  return JSON.stringify(value, null, 2);
}
