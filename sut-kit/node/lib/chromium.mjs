// The system's Chromium, found by the rule the Rust side keeps in sut_kit::chromium (the one
// the report's check and the chat page's browser suite use): $CHROMIUM when set, else the first
// of Debian's `chromium` or other distributions' `chromium-browser` on PATH. Nothing downloads
// a browser; scripts/setup installs Debian's package when none is found.

import { statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

export const CHROMIUM_NAMES = ['chromium', 'chromium-browser'];

const isFile = path => {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
};

/** The Chromium binary to run, or undefined when there is none. */
export function findChromium(env = process.env) {
  if (env.CHROMIUM) return env.CHROMIUM;
  const dirs = (env.PATH ?? '').split(delimiter).filter(Boolean);
  for (const dir of dirs) {
    for (const name of CHROMIUM_NAMES) {
      if (isFile(join(dir, name))) return join(dir, name);
    }
  }
  return undefined;
}
