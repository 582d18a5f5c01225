import {
  formatDuration,
  isFailed,
  openBlockers,
  type Task,
  type TaskIndex,
  tasklaneFields,
  tookMs,
} from '../model/index.js';
import { type CheckRecord, checkRecordOf, shortCommand } from './check.js';
import type { RunReport, TaskRecord } from './coordinator.js';
import type { Integration } from './integration.js';
import { isPlanParent } from './parent-task.js';
import { fenced } from './prompt.js';
import { blockedByFailure } from './scheduler.js';
import type { AgentRunInfo } from './worker.js';

// The one result a caller of `tasklane run` reads: every task of the run with its status, result,
// duration, attempts and, when the agent reported them, tokens and cost. Markdown for people and
// agents, JSON (--json) for programs. Built from the store's final state, not from what we saw.

export type TaskOutcomeLabel =
  | 'completed'
  | 'failed'
  | 'blocked' // waits on a task that failed
  | 'cancelled' // stopped by Ctrl-C or the kill policy, back to pending
  | 'in_progress' // held by another session when the run ended
  | 'not_run'; // never became ready to us (assigned to someone, or the run stopped first)

export interface AggregateTask {
  id: string;
  subject: string;
  status: TaskOutcomeLabel;
  result?: string;
  failure?: string;
  /** Ids of failed tasks this one waits for (directly or further up). */
  blockedBy?: string[];
  durationMs?: number;
  /** Claims of the task, over its whole life (metadata.tasklane.attempts). */
  attempts: number;
  owner?: string;
  inputTokens?: number;
  outputTokens?: number;
  costUsd?: number;
  log?: string;
  worktree?: { path: string; branch: string };
  /** The last check run for the task (command, exit status, duration, output tail): metadata.agentRun.check. */
  check?: CheckRecord;
  /** What was done to the task while its agent ran, without a claim (the agent editing its own task). */
  note?: string;
  /** "subtasks": a plan parent, completed by itself when its subtasks were; no agent ran (parent-task.ts). */
  completedBy?: 'subtasks';
}

export interface Aggregate {
  list: string;
  ok: boolean;
  durationMs: number;
  counts: Record<TaskOutcomeLabel, number> & { total: number };
  stopped?: string;
  interrupted?: string;
  alreadyCompleted: number;
  totals: { inputTokens?: number; outputTokens?: number; costUsd?: number };
  tasks: AggregateTask[];
  /** Notes about tasks of the run that are gone from the list (deleted while their agent ran). */
  notes?: string[];
  /** With --worktree: the branch holding all the run's completed work, and what did not merge (integration.ts). */
  integration?: Integration | { error: string };
}

export function aggregate(report: RunReport, allTasks?: TaskIndex): Aggregate {
  const byId: TaskIndex = allTasks ?? new Map(report.tasks.map((t) => [t.id, t]));
  const counts: Aggregate['counts'] = {
    total: 0,
    completed: 0,
    failed: 0,
    blocked: 0,
    cancelled: 0,
    in_progress: 0,
    not_run: 0,
  };
  const totals: Aggregate['totals'] = {};
  const memo = new Map<string, boolean>();
  const tasks = report.tasks.map((task) => {
    const a = describe(task, byId, report.records.get(task.id), memo);
    counts.total++;
    counts[a.status]++;
    if (a.inputTokens !== undefined) totals.inputTokens = (totals.inputTokens ?? 0) + a.inputTokens;
    if (a.outputTokens !== undefined) totals.outputTokens = (totals.outputTokens ?? 0) + a.outputTokens;
    // Summed as reported and rounded once, at the end: rounding each step drifts (five tasks of
    // 0.0044186 made 0.022095 instead of 0.022093).
    if (a.costUsd !== undefined) totals.costUsd = (totals.costUsd ?? 0) + a.costUsd;
    return a;
  });
  if (totals.costUsd !== undefined) totals.costUsd = roundCost(totals.costUsd);
  const listed = new Set(report.tasks.map((t) => t.id));
  const notes = [...report.records]
    .filter(([id, r]) => !listed.has(id) && r.note !== undefined)
    .map(([, r]) => r.note as string);
  return {
    list: report.list,
    ok: report.ok,
    durationMs: report.endedAt - report.startedAt,
    counts,
    ...(report.stopped === undefined ? {} : { stopped: report.stopped }),
    ...(report.interrupted === undefined ? {} : { interrupted: report.interrupted }),
    alreadyCompleted: report.alreadyCompleted,
    totals,
    tasks,
    ...(notes.length === 0 ? {} : { notes }),
    ...(report.integration === undefined ? {} : { integration: report.integration }),
  };
}

function describe(
  task: Task,
  byId: TaskIndex,
  record: TaskRecord | undefined,
  memo: Map<string, boolean>,
): AggregateTask {
  const f = tasklaneFields(task);
  const out: AggregateTask = { id: task.id, subject: task.subject, status: 'not_run', attempts: f.attempts ?? 0 };
  if (task.status === 'completed') out.status = 'completed';
  else if (isFailed(task)) out.status = 'failed';
  else if (task.status === 'in_progress') out.status = 'in_progress';
  else if (blockedByFailure(task, byId, memo)) out.status = 'blocked';
  else if (record?.outcome === 'cancelled') out.status = 'cancelled';
  if (f.result !== undefined && task.status === 'completed') out.result = f.result;
  if (task.status === 'completed' && isPlanParent(task)) out.completedBy = 'subtasks';
  if (out.status === 'failed' && f.failure !== undefined) out.failure = f.failure.reason;
  if (out.status === 'blocked') out.blockedBy = failedUpstream(task, byId);
  if (task.owner !== undefined && out.status === 'in_progress') out.owner = task.owner;

  if (record !== undefined && record.durationMs > 0) out.durationMs = record.durationMs;
  else {
    const ms = tookMs(f);
    if (ms !== undefined) out.durationMs = ms;
  }
  const run = agentRunOf(task) ?? record?.agent;
  if (run !== undefined) {
    if (run.inputTokens !== undefined) out.inputTokens = run.inputTokens;
    if (run.outputTokens !== undefined) out.outputTokens = run.outputTokens;
    if (run.costUsd !== undefined) out.costUsd = run.costUsd;
    if (run.worktree !== undefined) out.worktree = run.worktree;
    const check = checkRecordOf(run);
    if (check !== undefined) out.check = check;
  }
  const log = record?.log ?? run?.log;
  if (log !== undefined) out.log = log;
  if (record?.note !== undefined) out.note = record.note;
  return out;
}

/** metadata.agentRun as written by whichever process ran the task. */
export function agentRunOf(task: Task): AgentRunInfo | undefined {
  const v = task.metadata?.agentRun;
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as AgentRunInfo) : undefined;
}

function failedUpstream(task: Task, byId: TaskIndex): string[] {
  const found = new Set<string>();
  const seen = new Set<string>();
  const stack = openBlockers(task, byId);
  while (stack.length > 0) {
    const id = stack.pop() as string;
    if (seen.has(id)) continue;
    seen.add(id);
    const t = byId.get(id);
    if (t === undefined) continue;
    if (isFailed(t)) found.add(id);
    else stack.push(...openBlockers(t, byId));
  }
  return [...found];
}

// ---- rendering ----

const LABEL: Record<TaskOutcomeLabel, string> = {
  completed: 'completed',
  failed: 'FAILED',
  blocked: 'blocked',
  cancelled: 'cancelled',
  in_progress: 'in progress elsewhere',
  not_run: 'not run',
};

export function renderMarkdown(a: Aggregate): string {
  const c = a.counts;
  const parts = [`${c.completed} of ${c.total} tasks completed`];
  if (c.failed > 0) parts.push(`${c.failed} failed`);
  if (c.blocked > 0) parts.push(`${c.blocked} blocked by a failure`);
  if (c.cancelled > 0) parts.push(`${c.cancelled} cancelled`);
  if (c.in_progress > 0) parts.push(`${c.in_progress} still in progress elsewhere`);
  if (c.not_run > 0) parts.push(`${c.not_run} not run`);
  const lines: string[] = [`# Tasklane run: ${parts.join(', ')}`, ''];
  const facts = [`list \`${a.list}\``, `took ${formatDuration(a.durationMs)}`];
  if (a.alreadyCompleted > 0) {
    facts.push(
      `${a.alreadyCompleted} ${a.alreadyCompleted === 1 ? 'task was' : 'tasks were'} already completed before it`,
    );
  }
  if (a.totals.inputTokens !== undefined || a.totals.outputTokens !== undefined) {
    facts.push(`tokens ${a.totals.inputTokens ?? 0} in, ${a.totals.outputTokens ?? 0} out`);
  }
  if (a.totals.costUsd !== undefined) facts.push(`cost $${a.totals.costUsd.toFixed(4)}`);
  lines.push(`${capitalize(facts.join(', '))}.`);
  if (a.interrupted !== undefined)
    lines.push('', `Interrupted by ${a.interrupted}: running agents were stopped and their tasks released.`);
  else if (a.stopped !== undefined) lines.push('', `Stopped early: ${a.stopped}.`);
  for (const note of a.notes ?? []) lines.push('', `Note: ${note}.`);
  if (a.integration !== undefined) lines.push('', ...integrationLines(a.integration));
  if (a.tasks.length === 0) {
    lines.push('', 'There was nothing to run.');
    return `${lines.join('\n')}\n`;
  }
  lines.push('', '| # | Task | Status | Time | Attempts |', '|---|------|--------|------|----------|');
  for (const t of a.tasks) {
    const time = t.durationMs === undefined ? '' : formatDuration(t.durationMs);
    lines.push(`| ${t.id} | ${cell(t.subject)} | ${statusText(t)} | ${time} | ${t.attempts} |`);
  }
  for (const t of a.tasks) {
    lines.push('', `## #${t.id} ${t.subject}: ${statusText(t)}`, '');
    const facts: string[] = [];
    if (t.inputTokens !== undefined || t.outputTokens !== undefined) {
      facts.push(`tokens ${t.inputTokens ?? 0} in, ${t.outputTokens ?? 0} out`);
    }
    if (t.costUsd !== undefined) facts.push(`cost $${t.costUsd.toFixed(4)}`);
    // A completed task's result already ends with its worktree line (worker.ts).
    if (t.worktree !== undefined && t.status !== 'completed')
      facts.push(`worktree ${t.worktree.path}, branch \`${t.worktree.branch}\``);
    if (t.check !== undefined) facts.push(checkFact(t.check));
    if (t.status !== 'completed' && t.log !== undefined) facts.push(`log ${t.log}`);
    if (t.status === 'completed')
      lines.push(t.result === undefined || t.result.trim() === '' ? '(no result)' : t.result.trim());
    else if (t.status === 'failed') lines.push(`Failed: ${t.failure ?? 'unknown reason'}`);
    else if (t.status === 'blocked')
      lines.push(`Not run: it waits for ${(t.blockedBy ?? []).map((id) => `#${id}`).join(', ')}, which failed.`);
    else if (t.status === 'cancelled') lines.push('Stopped before it finished; it is pending again.');
    else if (t.status === 'in_progress') lines.push(`Held by ${t.owner ?? 'another session'} when the run ended.`);
    else lines.push('Not run.');
    if (t.note !== undefined) lines.push('', `Note: ${t.note}.`);
    if (t.check !== undefined && !t.check.passed && t.check.outputTail.trim() !== '') {
      lines.push('', 'The end of the check output:', '', fenced(t.check.outputTail.replace(/\s+$/, '')));
    }
    if (facts.length > 0) lines.push('', `(${facts.join('; ')})`);
  }
  return `${lines.join('\n')}\n`;
}

export function renderJson(a: Aggregate): string {
  return `${JSON.stringify(a, null, 2)}\n`;
}

/** Where the run's work is now, and what did not merge into it. */
function integrationLines(i: Integration | { error: string }): string[] {
  if ('error' in i) return [`No integration branch: ${i.error}.`];
  const ids = (list: string[]) => list.map((id) => `#${id}`).join(', ');
  const lines = [
    `Integration branch \`${i.branch}\` (${i.head.slice(0, 12)}): ${i.merged.length === 0 ? 'no task' : ids(i.merged)} merged in dependency order onto ${i.base.slice(0, 12)}.`,
  ];
  for (const c of i.conflicts) {
    lines.push(
      `Not in it: #${c.task} (branch \`${c.branch}\`) conflicts with the work merged before it in ${c.files.map((f) => `\`${cell(f)}\``).join(', ') || 'files git did not name'}.`,
    );
  }
  return lines;
}

function statusText(t: AggregateTask): string {
  if (t.status === 'blocked' && t.blockedBy !== undefined && t.blockedBy.length > 0) {
    return `blocked by failed ${t.blockedBy.map((id) => `#${id}`).join(', ')}`;
  }
  if (t.completedBy === 'subtasks') return 'completed by its subtasks';
  return LABEL[t.status];
}

/** "check `npm test` passed in 2.1 s", "check `test -f x` exit 1 in 5 ms". */
function checkFact(c: CheckRecord): string {
  const how = c.passed ? 'passed' : c.exitCode !== undefined ? `exit ${c.exitCode}` : (c.error ?? 'failed');
  const whose = c.source === 'run' ? " (the run's --verify)" : '';
  return `check \`${shortCommand(c.command)}\`${whose} ${how} in ${formatDuration(c.durationMs)}`;
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/[\r\n]+/g, ' ');
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** A total cost to a millionth of a dollar: done once, on the sum, for display. */
function roundCost(n: number): number {
  return Math.round(n * 1e6) / 1e6;
}
