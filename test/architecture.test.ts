import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot } from './helpers.js';

// The layers import only downward: model <- store <- engine <- surfaces (mcp, http, cli). A surface
// may use the layers below it and never another surface's insides except where listed.

const src = join(repoRoot, 'src');
const ALLOWED: Record<string, string[]> = {
  model: ['model'],
  store: ['model', 'store'],
  engine: ['model', 'store', 'engine'],
  mcp: ['model', 'store', 'engine', 'mcp'],
  http: ['model', 'store', 'engine', 'http'],
  cli: ['model', 'store', 'engine', 'mcp', 'http', 'cli'],
  // The web app runs in the browser: the pure model's rules, nothing that touches Node.
  board: ['model', 'board'],
};

/** Layers a layer may take types from (`import type`, erased from the built code), besides ALLOWED. */
const TYPES_FROM: Record<string, string[]> = {
  // The API's shapes as the server declares them (src/http/wire.ts, src/store/types.ts).
  board: ['store', 'http'],
};

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** Relative import specifiers of a file: static, type-only and dynamic. */
function relativeImports(text: string): string[] {
  const found = [...text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)'(\.{1,2}\/[^']+)'/g)];
  return found.map((m) => m[1] as string);
}

/** The specifiers of `import type { ... } from '...'` and `export type { ... } from '...'` statements. */
function typeOnlyImports(text: string): Set<string> {
  const found = [...text.matchAll(/(?:import|export)\s+type\s+\{[^}]*\}\s+from\s+'(\.{1,2}\/[^']+)'/g)];
  return new Set(found.map((m) => m[1] as string));
}

describe('architecture', () => {
  it('each layer imports only itself and the layers below it', () => {
    const violations: string[] = [];
    let checked = 0;
    for (const file of sources(src)) {
      const layer = relative(src, file).split(sep)[0] as string;
      const allowed = ALLOWED[layer];
      if (allowed === undefined) continue; // src/index.ts: the library's front door re-exports
      const text = readFileSync(file, 'utf8');
      const typeOnly = typeOnlyImports(text);
      for (const spec of relativeImports(text)) {
        checked++;
        const target = relative(src, resolve(dirname(file), spec)).split(sep)[0] as string;
        if (allowed.includes(target)) continue;
        if (typeOnly.has(spec) && (TYPES_FROM[layer] ?? []).includes(target)) continue;
        violations.push(`${relative(repoRoot, file)} imports ${spec} (${target})`);
      }
    }
    assert.ok(checked > 100, `the scan finds the imports (${checked})`);
    assert.deepEqual(violations, []);
  });

  it('tells type-only imports from the others', () => {
    const text = "import type { A } from '../http/wire.js';\nimport { b } from '../http/app.js';";
    assert.deepEqual([...typeOnlyImports(text)], ['../http/wire.js']);
    assert.deepEqual(relativeImports(text), ['../http/wire.js', '../http/app.js']);
  });

  it('the check sees a violation', () => {
    const imports = relativeImports(
      "import { x } from '../engine/worker.js';\nconst m = await import('../cli/main.js');",
    );
    assert.deepEqual(imports, ['../engine/worker.js', '../cli/main.js']);
  });
});
