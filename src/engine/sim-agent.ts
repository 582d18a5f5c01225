#!/usr/bin/env node
import { readFileSync, writeFileSync } from 'node:fs';
import { openStore } from '../store/open.js';
import { simPlan, simScale } from './sim.js';

// The simulated agent as a program of its own, for any executor: `--agent "node dist/bundle/sim-agent.js"`
// (or dist/src/engine/sim-agent.js). It reads its task through the store the executor hands it
// (TASKLANE_STORE or TASKLANE_DIR, TASKLANE_LIST, TASKLANE_TASK_ID), as an agent's own `tasklane`
// would, takes as long and fails as often as sim.ts says, and reports its result to
// TASKLANE_RESULT_FILE like a real agent.
// Its duration counts from TASKLANE_STARTED_AT (when the executor spawned it), so Node's own
// start-up is part of it. The executor's sim preset runs the same behaviour as a shell script.

const env = process.env;
const id = env.TASKLANE_TASK_ID ?? '?';
const attempt = Number(env.TASKLANE_ATTEMPT ?? '1') || 1;
const spawnedAt = Number(env.TASKLANE_STARTED_AT ?? '') || Date.now();

async function readTask(): Promise<{ id: string; subject: string; metadata?: Record<string, unknown> }> {
  try {
    return await openStore({ env }).get(id);
  } catch {
    return { id, subject: `task ${id}` };
  }
}

let prompt = '';
try {
  prompt = readFileSync(0, 'utf8');
} catch {}
const blockers = [...prompt.matchAll(/^### #(\S+) /gm)].map((m) => m[1] as string);
const scale = simScale(env);
const plan = simPlan(await readTask(), attempt, { blockers, ...(scale === undefined ? {} : { scale }) });
const left = Math.max(0, plan.ms - (Date.now() - spawnedAt));

process.stdout.write(`sim: working on #${id}\n`);
setTimeout(() => {
  if (plan.fail) {
    process.stderr.write(`sim: simulated failure of #${id}\n`);
    process.exit(1);
  }
  if (env.TASKLANE_RESULT_FILE !== undefined) writeFileSync(env.TASKLANE_RESULT_FILE, `${plan.output}\n`);
  process.stdout.write(`sim: done with #${id}\n`);
}, left);
