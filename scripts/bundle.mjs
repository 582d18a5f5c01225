// Bundles the `tasklane` program into dist/bundle/: the CLI's entry and the two programs the
// executor spawns (the simulated agent and the tmux pane wrapper) as entries, every command and
// dependency in shared chunks that load only when a command needs them (code splitting keeps
// the lazy imports lazy). One directory, flat, so `new URL('./tmux-pane.js', import.meta.url)`
// finds its program from any chunk, as it does in the compiled tree.
//
// Why: Node spends most of a short command's start-up finding, reading and compiling modules
// one file at a time (the MCP SDK and zod are hundreds of files). Bundled, `tasklane mcp`
// answers initialize in about 60% of the time. The library (dist/src) stays unbundled.
//
// It also builds the board's web app (src/board) into dist/board/: app.js (one minified script for
// the browser, with its source map), index.html and app.css, the files `tasklane board` serves.
//
//   node scripts/bundle.mjs        (npm run build runs it after tsc)

import { copyFileSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild-wasm';

const root = fileURLToPath(new URL('..', import.meta.url));

// Built beside and swapped in, so a program running from the directory never sees it half-written.
async function swapIn(target, fill) {
  const outdir = `${target}.${process.pid}.tmp`;
  rmSync(outdir, { recursive: true, force: true });
  await fill(outdir);
  const old = `${target}.${process.pid}.old`;
  try {
    renameSync(target, old);
  } catch (err) {
    if (err.code !== 'ENOENT') throw err;
  }
  renameSync(outdir, target);
  rmSync(old, { recursive: true, force: true });
}

await swapIn(`${root}dist/bundle`, (outdir) => build({
  absWorkingDir: root,
  entryPoints: {
    main: 'src/cli/main.ts',
    'sim-agent': 'src/engine/sim-agent.ts',
    'tmux-pane': 'src/engine/tmux-pane.ts',
    'git-merge-driver': 'src/engine/git-lists/git-merge-driver.ts',
  },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  minify: true,
  keepNames: true,
  sourcemap: 'linked',
  chunkNames: '[name]-[hash]',
  logLevel: 'warning',
  // CommonJS dependencies bundled as ESM may require() Node's built-ins: give them a require.
  banner: { js: "import { createRequire as __tlcr } from 'node:module'; const require = __tlcr(import.meta.url);" },
}));

// The board: a plain script (no module loader needed, nothing inline: the server's CSP allows
// only its own /app.js and /app.css) and the two static files beside it.
await swapIn(`${root}dist/board`, async (outdir) => {
  mkdirSync(outdir, { recursive: true });
  await build({
    absWorkingDir: root,
    entryPoints: { app: 'src/board/main.ts' },
    outdir,
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    sourcemap: 'linked',
    logLevel: 'warning',
  });
  for (const file of ['index.html', 'app.css']) copyFileSync(`${root}src/board/${file}`, `${outdir}/${file}`);
});
