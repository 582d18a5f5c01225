import { readFileSync } from 'node:fs';
import { TasklaneError } from '../model/index.js';
import type { CheckRecord } from './check.js';
import { AGENT_LIST_TOOLS, mcpToolName } from './claude-mcp.js';

// The prompt an agent gets: the task, its description, what its blockers produced, and how to
// report. The default template can be replaced with --prompt-template FILE using the same
// {{placeholders}}; they are filled in one pass, so text inside a task is never expanded again.

export const PLACEHOLDERS = [
  'id',
  'subject',
  'description',
  'check',
  'blockers',
  'list',
  'resultFile',
  'listTools',
] as const;
export type Placeholder = (typeof PLACEHOLDERS)[number];

export interface BlockerResult {
  id: string;
  subject: string;
  /** The blocker's metadata.tasklane.result, when it left one. */
  result?: string;
}

export type PromptValues = Record<Placeholder, string>;

export const DEFAULT_TEMPLATE = `You are one of several agents working through a shared task list (Tasklane list "{{list}}").
Your task is #{{id}}.

# {{subject}}

{{description}}

{{check}}## What the tasks before this one produced

{{blockers}}

## How to report

When you are done, write your result to the file {{resultFile}}: a short summary of what you did
and anything the tasks that depend on this one need to know (files changed, decisions, open
questions). If you do not write that file, your final output is taken as the result.
Exit with a non-zero status if you could not complete the task.

{{listTools}}
Do not mark task #{{id}} done yourself; the executor does that from your result.
`;

const PLACEHOLDER = /\{\{\s*([A-Za-z]+)\s*\}\}/g;

/** Reads a --prompt-template file and checks that it names only known placeholders. */
export function loadTemplate(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
    throw new TasklaneError('USAGE', `--prompt-template ${path}: cannot read it (${why})`, {
      file: path,
      field: '--prompt-template',
    });
  }
  checkTemplate(text, path);
  return text;
}

export function checkTemplate(text: string, file = 'prompt template'): void {
  for (const m of text.matchAll(PLACEHOLDER)) {
    const name = m[1] as string;
    if (!(PLACEHOLDERS as readonly string[]).includes(name)) {
      throw new TasklaneError(
        'USAGE',
        `${file}: unknown placeholder {{${name}}}; the known ones are ${PLACEHOLDERS.map((p) => `{{${p}}}`).join(', ')}`,
        { file, field: '--prompt-template' },
      );
    }
  }
}

/**
 * Fills the template. A template without {{check}} still gets the check section, at its end: an
 * agent retried after a failed check must see why.
 */
export function renderPrompt(template: string, values: PromptValues): string {
  let hasCheck = false;
  const text = template.replace(PLACEHOLDER, (whole, name: string) => {
    if (name === 'check') hasCheck = true;
    return (PLACEHOLDERS as readonly string[]).includes(name) ? values[name as Placeholder] : whole;
  });
  return hasCheck || values.check === '' ? text : `${text.trimEnd()}\n\n${values.check}`;
}

/**
 * The check section: the command that will judge the work, and what the last recorded attempt's
 * check printed when it failed. Empty (no section) when there is neither. Ends with a blank line.
 */
export function formatCheck(command: string | undefined, previous: CheckRecord | undefined): string {
  const parts: string[] = [];
  if (command !== undefined) {
    parts.push(
      '## How your work is checked',
      '',
      'When you exit, the executor runs this command in your working directory; the task completes only if it exits 0:',
      '',
      fenced(command),
    );
  }
  if (previous !== undefined && !previous.passed) {
    const how = previous.exitCode !== undefined ? `exited ${previous.exitCode}` : (previous.error ?? 'failed');
    if (parts.length > 0) parts.push('');
    parts.push(
      "## The previous attempt's check failed",
      '',
      `The previous attempt exited 0, but its check ${how}:`,
      '',
      fenced(previous.command),
      '',
      previous.outputTail.trim() === ''
        ? 'It printed nothing.'
        : `The end of its output:\n\n${fenced(previous.outputTail.replace(/\s+$/, ''))}`,
    );
  }
  return parts.length === 0 ? '' : `${parts.join('\n')}\n\n`;
}

/** A fenced block that no run of backticks inside the text can close early. */
export function fenced(text: string): string {
  const longest = Math.max(0, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(Math.max(3, longest + 1));
  return `${fence}\n${text}\n${fence}`;
}

/** The blockers section: each blocker's subject and result, in the order the task lists them. */
export function formatBlockers(blockers: BlockerResult[]): string {
  if (blockers.length === 0) return 'Nothing: this task has no blockers.';
  return blockers
    .map((b) => {
      const result = b.result === undefined || b.result.trim() === '' ? '(no result recorded)' : b.result.trim();
      return `### #${b.id} ${b.subject}\n\n${result}`;
    })
    .join('\n\n');
}

/** How the agent reaches the list, for {{listTools}}: which tools it has depends on its preset. */
export interface ListToolsInput {
  /** The agent has Tasklane's MCP server (the claude preset with --mcp-config, claude-mcp.ts). */
  mcp: boolean;
  /** Claude Code's built-in task tools reach the list too (it lives in Claude Code's own root). */
  builtinToolsShareList: boolean;
}

/**
 * The list-tools paragraph: with the MCP server, its tools by name (the newest Claude Code defers
 * MCP tools behind ToolSearch, so it says how to load them) and whether Claude Code's own task
 * tools reach this list; otherwise the `tasklane` command, which every agent has on its PATH.
 */
export function formatListTools(input: ListToolsInput): string {
  if (!input.mcp) {
    return [
      'The list is shared: the `tasklane` command (TASKLANE_LIST is set for you) reads it, and',
      '`tasklane create "SUBJECT" --description "..."` adds a task that this run also executes.',
    ].join('\n');
  }
  const create = mcpToolName('TaskCreate');
  return [
    `The list is shared, and the tasklane MCP server gives you its tools: ${AGENT_LIST_TOOLS.map(mcpToolName).join(', ')}`,
    `(if they are deferred, load them first with ToolSearch: "select:${create}").`,
    `To split off a subtask that another agent should do, create it with ${create}: this run`,
    `executes it too. Order subtasks with addBlockedBy in ${mcpToolName('TaskUpdate')}.`,
    input.builtinToolsShareList
      ? "Claude Code's built-in task tools (TaskCreate, TaskUpdate) work on this list too."
      : "Claude Code's built-in task tools (TaskCreate, TaskUpdate) do not reach this list: use the tools above for what the list must hold.",
  ].join('\n');
}

export function formatDescription(description: string): string {
  return description.trim() === '' ? '(no description)' : description.trim();
}
