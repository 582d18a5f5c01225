import {
  checkbox,
  dedentLines,
  endLine,
  indentOf,
  itemFirstLineMasked,
  type List,
  type MarkdownDoc,
  type Section,
  startLine,
  unmaskCode,
} from './markdown-tree.js';
import { clip, findProseRefs, listOf, type ProseRef, parseTargets, proseRefLine, wordMatcher } from './prose-refs.js';
import { type PlanAmbiguity, uniqueKey } from './shape.js';
import type { PlanTask } from './spec.js';

// A step list (`## Implementation Steps`, `## Tasks`, `## Todo`, `## Work Items`) -> one task per
// top-level item, its details (further lines, nested items) the description. Dependencies are
// the ones written in words ("(depends on step 2)", "(after steps 1 and 3)", "once the schema is
// done"); a list that writes none runs in order when it is numbered, all at once when it is not.

export interface StepList {
  section: Section;
  list: List;
}

export function readSteps(doc: MarkdownDoc, lists: StepList[], ambiguities: PlanAmbiguity[]): PlanTask[] {
  const taken = new Set<string>();
  const tasks: PlanTask[] = [];
  for (const { list } of lists) {
    const group: { task: PlanTask; number: number; refs: ProseRef[] }[] = [];
    list.children.forEach((item, i) => {
      const line = startLine(item);
      const masked = itemFirstLineMasked(doc, item);
      let text = masked.text;
      const box = checkbox(text);
      if (box) text = box.rest;
      const found = findProseRefs(text, line);
      const refs = [...found.refs];
      text = found.text;
      const explicitKey = /\{#([A-Za-z0-9][A-Za-z0-9_.-]*)\}/.exec(text)?.[1];
      text = text.replace(/(?<!\s)\s*\{#[^{}]*\}/g, '');
      // A bold lead is the step's name; what follows it on the line is detail.
      let subject = text;
      let lead = '';
      // "**Name**: detail", "**Name** (`file`) - detail"; a bold phrase inside a sentence is not a name.
      const bold = /^(\*\*|__)(.+?)\1(\s*\([^()]*\))?\s*(?:[:.\u2013\u2014]|\s-\s|$)\s*(.*)$/.exec(text);
      if (bold) {
        subject = bold[2] as string;
        const paren = (bold[3] ?? '').trim();
        lead = paren === '' ? (bold[4] as string) : `${paren}: ${bold[4] as string}`.replace(/:\s*$/, '');
      } else subject = text.replace(/\*\*|__/g, '');
      subject = unmaskCode(subject, masked.code)
        .replace(/\s+/g, ' ')
        .replace(/(?<![\s:;,.\u2013\u2014-])[\s:;,.\u2013\u2014-]+$/, '')
        .trim();
      if (subject.length > 200) {
        const cut = subject.search(/[.;:]\s/);
        if (cut > 0 && cut <= 200) {
          lead = `${subject.slice(cut + 1).trim()} ${lead}`.trim();
          subject = subject.slice(0, cut);
        }
      }
      const detail: string[] = [];
      for (let n = line + 1; n <= endLine(item); n++) {
        const raw = (doc.lines[n - 1] ?? '').replace(/\t/g, '    ');
        if (!doc.codeLines.has(n)) {
          const ref = proseRefLine(raw, n);
          if (ref !== undefined) refs.push(ref);
        }
        detail.push(raw);
      }
      // Further lines no deeper than the marker are prose after the list (a lazy continuation in CommonMark).
      const marker = indentOf(doc.lines[line - 1] ?? '');
      const own = detail.filter((l, k) => l.trim() === '' || indentOf(l) > marker || doc.codeLines.has(line + 1 + k));
      const description = [unmaskCode(lead, masked.code), dedentLines(own)].filter((d) => d !== '').join('\n\n');
      const task: PlanTask = {
        key: explicitKey === undefined ? uniqueKey(subject, taken) : uniqueKey(explicitKey, taken, true),
        subject,
        after: [],
        line,
      };
      if (description !== '') task.description = description;
      if (box?.done === true) task.done = true;
      const number = list.ordered === true ? (list.start ?? 1) + i : i + 1;
      group.push({ task, number, refs });
    });

    const written = group.some((g) => g.refs.length > 0);
    const byNumber = new Map(group.map((g) => [g.number, g]));
    const highest = group.reduce((max, g) => Math.max(max, g.number), 0);
    // Words name a step of this list, else one of the lists before it.
    const pool = [...group.map((h) => h.task), ...tasks];
    let matcher: ReturnType<typeof wordMatcher> | undefined;
    const match = (phrase: string) => {
      matcher ??= wordMatcher(pool);
      return matcher(phrase);
    };
    group.forEach((g, i) => {
      if (!written) {
        if (list.ordered === true && i > 0) g.task.after = [(group[i - 1] as (typeof group)[number]).task.key];
        return;
      }
      const after = new Set<string>();
      const add = (key: string) => {
        if (key !== g.task.key && !after.has(key)) {
          after.add(key);
          g.task.after.push(key);
        }
      };
      for (const ref of g.refs) {
        const target = parseTargets(ref.target, highest);
        if ('none' in target) continue;
        // One ambiguity per reference, however many numbers or words it names.
        const problems: string[] = [];
        if ('numbers' in target) {
          const missing: string[] = [];
          let self = false;
          for (const n of target.numbers) {
            const hit = byNumber.get(n);
            if (hit === g) self = true;
            else if (hit === undefined) missing.push(String(n));
            else add(hit.task.key);
          }
          if (self) problems.push('a step cannot wait for itself');
          if (missing.length === 1) problems.push(`there is no step ${missing[0]} in this list`);
          else if (missing.length > 1) problems.push(`there are no steps ${listOf(missing)} in this list`);
        } else {
          const none: string[] = [];
          const several: string[] = [];
          for (const phrase of target.words) {
            const found = match(phrase);
            if ('index' in found && (pool[found.index] as PlanTask).key !== g.task.key)
              add((pool[found.index] as PlanTask).key);
            else ('several' in found ? several : none).push(JSON.stringify(clip(phrase, 60)));
          }
          if (several.length > 0) problems.push(`several steps match ${listOf(several, 5)}`);
          if (none.length > 0) problems.push(`no step matches ${listOf(none, 5)}`);
        }
        if (problems.length > 0)
          ambiguities.push({ line: ref.line, message: `"${clip(ref.clause)}": ${problems.join('; ')}` });
      }
    });
    for (const g of group) tasks.push(g.task);
  }
  return tasks;
}
