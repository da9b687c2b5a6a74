// The mock scenario a message asks for: a catalogue entry and its options, shown as the
// directive that will be appended to the message.

const GROUPS = [
  ['completes', 'Complete normally'],
  ['ends-in-error', 'End in an error'],
  ['backend-fault', 'Fault injection (needs --enable-fault-injection)'],
];

export function ScenarioPicker({ catalogue, catalogueError, scenario, onScenario, options, onOptions, directive, problem }) {
  const scenarios = catalogue?.scenarios ?? [];
  const chosen = scenarios.find(s => s.name === scenario);
  return (
    <fieldset className="scenario">
      <legend>Mock scenario</legend>
      <div className="scenario-fields">
        <label>
          <span>Scenario</span>
          <select name="scenario" value={scenario} onChange={event => onScenario(event.target.value)}>
            <option value="">none: plain text</option>
            {GROUPS.map(([expected, label]) => (
              <optgroup key={expected} label={label}>
                {scenarios
                  .filter(s => s.expected === expected)
                  .map(s => (
                    <option key={s.name} value={s.name}>
                      {s.name}
                    </option>
                  ))}
              </optgroup>
            ))}
          </select>
        </label>
        <label>
          <span>Options</span>
          <input
            name="options"
            value={options}
            onChange={event => onOptions(event.target.value)}
            placeholder="chunks=5 gap_ms=100"
            disabled={!scenario}
            aria-invalid={problem ? true : undefined}
            aria-describedby="scenario-help"
            autoComplete="off"
            spellCheck={false}
          />
        </label>
      </div>
      <p id="scenario-help" className={problem ? 'hint problem' : 'hint'}>
        {problem ?? catalogueError ?? describe(chosen, directive, catalogue?.parameters)}
      </p>
    </fieldset>
  );
}

function describe(chosen, directive, parameters = []) {
  if (!chosen) return 'Messages go to the mock provider as they are; pick a scenario to try another behaviour.';
  return `${chosen.promise}. Sent as ${directive}. Options: ${parameters.join(', ')}.`;
}
