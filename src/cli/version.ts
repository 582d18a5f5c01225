import { readFileSync } from 'node:fs';

// Tasklane's version, from its package.json. The code runs both as compiled files
// (dist/src/cli/) and bundled (dist/bundle/), at different depths, so it looks upward from
// here for the package.json named "tasklane" rather than trusting a fixed relative path.

export function packageVersion(): string {
  let url = new URL('./package.json', import.meta.url);
  for (let depth = 0; depth < 6; depth++) {
    try {
      const pkg = JSON.parse(readFileSync(url, 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'tasklane' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // not here: keep looking upward
    }
    url = new URL('../package.json', url);
  }
  return '0.0.0-unknown';
}
