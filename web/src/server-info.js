// What the page asks the server that serves it, once, on load: the scenario catalogue (built from
// the contract crate, so the page holds no copy) and which backend answers (`GET /health`).

import { useEffect, useState } from 'react';

export const CATALOGUE_URL = '/assets/scenarios.json';

export function useServerInfo() {
  const [info, setInfo] = useState({ catalogue: null, catalogueError: null, backend: null });
  useEffect(() => {
    let live = true;
    const update = patch => live && setInfo(previous => ({ ...previous, ...patch }));
    getJson(CATALOGUE_URL)
      .then(catalogue => update({ catalogue }))
      .catch(error => update({ catalogueError: `the scenario list could not be loaded (${error.message})` }));
    // Only a label in the header: a server that is down is reported when a message is sent.
    getJson('/health')
      .then(health => update({ backend: typeof health.backend === 'string' ? health.backend : null }))
      .catch(() => {});
    return () => {
      live = false;
    };
  }, []);
  return info;
}

async function getJson(url) {
  const response = await fetch(url, { headers: { accept: 'application/json' } });
  if (!response.ok) throw new Error(`${url} answered ${response.status}`);
  return response.json();
}
