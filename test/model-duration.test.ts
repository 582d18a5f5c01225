import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { formatDuration } from '../src/model/duration.js';
import { repoRoot } from './helpers.js';

// One duration format everywhere (issue 8, "durations are printed four ways").

describe('formatDuration', () => {
  it('prints each range at its precision, zero parts left out', () => {
    const cases: [number, string][] = [
      [0, '0 ms'],
      [-5, '0 ms'],
      [Number.NaN, '0 ms'],
      [0.4, '0 ms'],
      [7, '7 ms'],
      [850, '850 ms'],
      [999.4, '999 ms'],
      [999.6, '1 s'],
      [1000, '1 s'],
      [1234, '1.2 s'],
      [9949, '9.9 s'],
      [9950, '10 s'],
      [42_400, '42 s'],
      [59_499, '59 s'],
      [59_700, '1 min'],
      [65_000, '1 min 5 s'],
      [120_000, '2 min'],
      [3_599_400, '59 min 59 s'],
      [3_599_600, '1 h'],
      [3_900_000, '1 h 5 min'],
      [26 * 3_600_000, '26 h'],
      [47 * 3_600_000 + 59 * 60_000, '47 h 59 min'],
      [48 * 3_600_000, '2 days'],
      [24 * 86_400_000, '24 days'],
      [115 * 86_400_000 + 17 * 3_600_000, '115 days 17 h'],
    ];
    for (const [ms, text] of cases) assert.equal(formatDuration(ms), text, `formatDuration(${ms})`);
  });

  it('no other duration formatter is left in src (a unit glued to a number in a template)', () => {
    // `${x} s`, `${x}ms`, `${x} min` ... outside duration.ts: a second format in the making.
    const glued = /\$\{[^}]*\}\s?(ms|s|min|h|days)\b/;
    // The longest --timeout in the unit the option takes, beside its formatted value.
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a source line's text, matched as written
    const allowed = new Set(['src/cli/args.ts:(${LIMITS.durationMs / 1000} s)']);
    const found: string[] = [];
    const walk = (dir: string): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, e.name);
        if (e.isDirectory()) walk(path);
        else if (e.name.endsWith('.ts') && e.name !== 'duration.ts') {
          readFileSync(path, 'utf8')
            .split('\n')
            .forEach((line, i) => {
              const hit = glued.exec(line);
              if (hit !== null && !allowed.has(`${relative(repoRoot, path)}:(${hit[0]})`))
                found.push(`${relative(repoRoot, path)}:${i + 1}: ${line.trim()}`);
            });
        }
      }
    };
    walk(join(repoRoot, 'src'));
    assert.deepEqual(found, []);
  });
});
