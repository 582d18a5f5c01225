import { isAutomatedChecks, type PhaseHeading } from './headings.js';
import {
  codeSpanValues,
  dedent,
  endLine,
  type List,
  type ListItem,
  type MarkdownDoc,
  type Section,
  startLine,
} from './markdown-tree.js';
import { clip, findProseRefs, listOf, type ProseRef, parseTargets, proseRefLine, wordMatcher } from './prose-refs.js';
import { type PlanAmbiguity, uniqueKey } from './shape.js';
import type { PlanTask } from './spec.js';

// A phased plan (`## Phase 1: Token bucket core`, `### Changes Required:`, `#### Automated
// Verification:`) -> one task per phase. The phase's text is its description; the commands named
// in its automated success criteria are its check; each phase waits for the one before it unless
// it says otherwise ("Depends on: Phase 1", "(parallel)").

export interface PhaseSection {
  section: Section;
  heading: PhaseHeading;
}

export function readPhases(doc: MarkdownDoc, phases: PhaseSection[], ambiguities: PlanAmbiguity[]): PlanTask[] {
  const taken = new Set<string>();
  const tasks: PlanTask[] = [];
  const ownRefs: (ProseRef[] | undefined)[] = [];
  const parallel: boolean[] = [];

  for (const { section, heading } of phases) {
    const explicitKey = /\{#([A-Za-z0-9][A-Za-z0-9_.-]*)\}/.exec(section.title)?.[1];
    const subject = (heading.name ?? heading.label)
      .replace(/\{#[^{}]*\}/g, '')
      .replace(/\*\*|__/g, '')
      .trim();
    const task: PlanTask = {
      key: explicitKey === undefined ? uniqueKey(subject, taken) : uniqueKey(explicitKey, taken, true),
      subject,
      after: [],
      line: section.line,
    };
    if (heading.name !== undefined) task.phase = heading.label;
    const checks = automatedChecks(doc, section);
    if (checks.commands.length > 0) task.verify = checks.commands.join(' && ');

    // Written dependencies: a "Depends on: ..." line of the phase, or a clause in its heading.
    const refs: ProseRef[] = [];
    for (let n = section.line + 1; n <= section.endLine; n++) {
      if (doc.codeLines.has(n)) continue;
      const ref = proseRefLine(doc.lines[n - 1] ?? '', n);
      if (ref !== undefined) refs.push(ref);
    }
    for (const ref of findProseRefs(section.title, section.line).refs) refs.push(ref);
    ownRefs.push(refs.length > 0 ? refs : undefined);
    parallel.push(/\(\s*parallel\s*\)/i.test(section.title));

    // A thematic break closing the phase separates phases; it is not part of the text.
    const description = dropClosingBreaks(dedent(doc, section.line + 1, section.endLine, (n) => checks.removed.has(n)));
    if (description !== '') task.description = description;
    tasks.push(task);
  }

  const byNumber = new Map<number, number>();
  phases.forEach((p, j) => {
    const n = Number(/(\d+)/.exec(p.heading.label)?.[1] ?? Number.NaN);
    if (!byNumber.has(n)) byNumber.set(n, j);
  });
  let highest = tasks.length;
  for (const n of byNumber.keys()) if (n > highest) highest = n;
  let matcher: ReturnType<typeof wordMatcher> | undefined;
  tasks.forEach((task, i) => {
    const refs = ownRefs[i];
    if (refs === undefined) {
      // In order: each phase waits for the one before it; a (parallel) phase starts with it.
      let j = i - 1;
      while (j >= 0 && parallel[j + 1] === true) j--;
      if (parallel[i] === true) task.after = j >= 0 ? [...(tasks[j] as PlanTask).after] : [];
      else if (i > 0) {
        // The previous stage: the phase before, with any (parallel) phases that ran alongside it.
        const stage: string[] = [(tasks[i - 1] as PlanTask).key];
        for (let k = i - 1; k > 0 && parallel[k] === true; k--) stage.push((tasks[k - 1] as PlanTask).key);
        task.after = stage.reverse();
      }
      return;
    }
    const after = new Set(task.after);
    const add = (key: string) => {
      if (!after.has(key)) {
        after.add(key);
        task.after.push(key);
      }
    };
    for (const ref of refs) {
      const target = parseTargets(ref.target, highest);
      if ('none' in target) continue;
      // One ambiguity per reference, however many numbers or words it names.
      const problems: string[] = [];
      if ('numbers' in target) {
        const missing: string[] = [];
        for (const n of target.numbers) {
          const hit = byNumber.get(n) ?? n - 1;
          if (hit === i || tasks[hit] === undefined) missing.push(String(n));
          else add((tasks[hit] as PlanTask).key);
        }
        if (missing.length > 0) problems.push(`there is no other phase ${listOf(missing)}`);
      } else {
        const none: string[] = [];
        const several: string[] = [];
        for (const phrase of target.words) {
          matcher ??= wordMatcher(tasks.map((t) => ({ key: t.key, subject: `${t.phase ?? ''} ${t.subject}` })));
          const found = matcher(phrase);
          if ('index' in found && found.index !== i) add((tasks[found.index] as PlanTask).key);
          else ('several' in found ? several : none).push(JSON.stringify(clip(phrase, 60)));
        }
        if (several.length > 0) problems.push(`several phases match ${listOf(several, 5)}`);
        if (none.length > 0) problems.push(`no phase matches ${listOf(none, 5)}`);
      }
      if (problems.length > 0)
        ambiguities.push({ line: ref.line, message: `"${clip(ref.clause)}": ${problems.join('; ')}` });
    }
  });
  return tasks;
}

/**
 * The commands named in a phase's automated success criteria (a heading or a lead-in such as
 * "Automated Verification:" over a list), and the lines of the items they came from, which leave
 * the description. Items that name no command (and every manual check) stay in the description.
 */
function automatedChecks(doc: MarkdownDoc, phase: Section): { commands: string[]; removed: Set<number> } {
  const commands: string[] = [];
  const removed = new Set<number>();
  const take = (list: List, leadIn: number | undefined) => {
    let all = true;
    for (const item of list.children) {
      const found = commandsOf(doc, item);
      if (found.length === 0) {
        all = false;
        continue;
      }
      for (const c of found) if (!commands.includes(c)) commands.push(c);
      for (let n = startLine(item); n <= endLine(item); n++) removed.add(n);
    }
    if (all && leadIn !== undefined) removed.add(leadIn);
  };
  const visit = (section: Section, automated: boolean) => {
    const blocks = section.blocks;
    blocks.forEach((block, i) => {
      if (block.type === 'list' && automated) take(block, i === 0 ? section.line : undefined);
      const next = blocks[i + 1];
      if (block.type === 'paragraph' && next?.type === 'list' && isAutomatedChecks(block.text ?? '')) {
        take(next, startLine(block));
      }
    });
    for (const sub of section.sections) visit(sub, automated || isAutomatedChecks(sub.title));
  };
  visit(phase, false);
  return { commands, removed };
}

/** Programs a one-word code span may name and still be a command (`make`, `pytest`). */
const ONE_WORD_COMMANDS = new Set(
  'make pytest tox nox just rake tsc jest vitest mocha eslint ruff mypy pyright gradle mvn ctest bats'.split(' '),
);

/** The commands in an item's own text (not its nested lists, not its code blocks): code spans that read as a command line. */
function commandsOf(doc: MarkdownDoc, item: ListItem): string[] {
  const out: string[] = [];
  const nested = item.children.filter((c) => c.type === 'list');
  for (let n = item.line; n <= item.endLine; n++) {
    if (doc.codeLines.has(n) || nested.some((l) => n >= l.line && n <= l.endLine)) continue;
    for (const value of codeSpanValues(doc.lines[n - 1] ?? '')) {
      const code = value.trim();
      if (/\s/.test(code) || /^\.{1,2}\//.test(code) || ONE_WORD_COMMANDS.has(code)) out.push(code);
    }
  }
  return out;
}

/**
 * The text without the thematic breaks (`---`, `***`, `___`) and blank lines that end it, the first
 * line kept. A loop over the lines from the end: the regular expression it replaces,
 * `/(\n\s*(?:-{3,}|\*{3,}|_{3,})\s*)+$/`, could match the blank lines between two breaks in two
 * ways and took time exponential in the number of breaks before a line of text.
 */
export function dropClosingBreaks(text: string): string {
  let end = text.length;
  let broken = false;
  for (;;) {
    const nl = text.lastIndexOf('\n', end - 1);
    if (nl < 0) break;
    const line = text.slice(nl + 1, end).trim();
    if (line !== '' && !/^(?:-{3,}|\*{3,}|_{3,})$/.test(line)) break;
    if (line !== '') broken = true;
    end = nl;
  }
  return broken ? text.slice(0, end) : text;
}
