import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { openBlockers, stateOf } from '../model/graph.js';
import { type Task, tasklaneFields } from '../model/task.js';

// Tool answers as text an agent reads well, in Claude Code's wording where Claude Code has the tool.

export function text(body: string): CallToolResult {
  return { content: [{ type: 'text', text: body }] };
}

/** Claude Code's TaskList line: `#1 [pending] Subject (owner) [blocked by #2, #3]`, completed blockers left out. */
export function listLine(task: Task, byId: ReadonlyMap<string, Task>): string {
  const owner = task.owner !== undefined && task.owner !== '' ? ` (${task.owner})` : '';
  const open = openBlockers(task, byId);
  const blocked = open.length > 0 ? ` [blocked by ${open.map((b) => `#${b}`).join(', ')}]` : '';
  const failed = stateOf(task, byId) === 'failed' ? ' [failed]' : '';
  return `#${task.id} [${task.status}] ${task.subject}${owner}${blocked}${failed}`;
}

/** Claude Code's TaskGet text, plus Tasklane's state, result and failure when present. */
export function taskDetail(task: Task, byId: ReadonlyMap<string, Task>): string {
  const f = tasklaneFields(task);
  const lines = [`Task #${task.id}: ${task.subject}`, `Status: ${task.status} (${stateOf(task, byId)})`];
  if (task.owner !== undefined && task.owner !== '') lines.push(`Owner: ${task.owner}`);
  lines.push(`Description: ${task.description}`);
  if (task.blockedBy.length > 0) lines.push(`Blocked by: ${task.blockedBy.map((b) => `#${b}`).join(', ')}`);
  if (task.blocks.length > 0) lines.push(`Blocks: ${task.blocks.map((b) => `#${b}`).join(', ')}`);
  if (f.result !== undefined) lines.push(`Result: ${f.result}`);
  if (f.failure !== undefined && task.status !== 'completed') lines.push(`Failed: ${f.failure.reason}`);
  const user = { ...(task.metadata ?? {}) };
  delete user.tasklane;
  if (Object.keys(user).length > 0) lines.push(`Metadata: ${JSON.stringify(user)}`);
  return lines.join('\n');
}

/** The results of a task's completed blockers: what an agent taking it needs to know. */
export function blockerResults(task: Task, byId: ReadonlyMap<string, Task>): string[] {
  const out: string[] = [];
  for (const id of task.blockedBy) {
    const blocker = byId.get(id);
    const result = blocker === undefined ? undefined : tasklaneFields(blocker).result;
    if (blocker !== undefined && result !== undefined) out.push(`#${id} ${blocker.subject}: ${result}`);
  }
  return out;
}
