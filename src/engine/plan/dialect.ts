import { TasklaneError } from '../../model/index.js';
import { closestMatch, KEY_PATTERN, parseDuration, parsePriority, slugify } from './annotations.js';
import {
  checkbox,
  endLine,
  indentOf,
  itemFirstLineMasked,
  type ListItem,
  listsOf,
  type MarkdownDoc,
  type Section,
  startLine,
  unmaskCode,
} from './markdown-tree.js';
import { clip, listOf } from './prose-refs.js';
import { checkPlan, type PlanSpec, type PlanTask } from './spec.js';

// Tasklane's own markdown dialect -> PlanSpec. Headings are phases, list items are tasks, nested
// items are subtasks, and a small annotation syntax adds references, keys, priority, estimate and
// labels. The structure comes from the CommonMark tree (markdown-tree.ts); the regular expressions
// below read only the text of one item, each linear in it.
// The syntax and the dependency rules are documented in docs/plans.md; keep the two in step.

interface Phase {
  name?: string;
  level: number;
  line: number;
  /** `(parallel)`: runs alongside the phase before it (same start; the next phase waits for both). */
  parallel: boolean;
  /** `(sequential)`: each top-level item waits for the one before it. */
  sequential: boolean;
  items: number[];
}

interface Field {
  name: string;
  value: string;
  line: number;
}

interface Item {
  line: number;
  /** Column of the list marker; deeper means nested. */
  indent: number;
  text: string;
  /** Code spans of `text`, each replaced there by a mark until the subject is made. */
  code: string[];
  done: boolean;
  parent?: number;
  children: number[];
  phase: number;
  description: { indent: number; text: string }[];
  fields: Field[];
  // Filled from the text and fields:
  subject: string;
  key?: string;
  refs: { ref: string; line: number; clause: string }[];
  priority?: number;
  estimate?: number;
  labels: string[];
  agent?: string;
  verify?: string;
}

const FIELD_NAMES = 'depends on|blocked by|after|priority|estimate|labels?|key|agent|verify';
const REF_FIELDS = new Set(['after', 'depends on', 'blocked by']);
// A reference is `#key` or a number: `#[\w.-]+|\d+`, never `#[\w.-]+|#?\d+`, where "#1" matched
// both alternatives and a list failing at its end ("#1 and #1 and ... !") backtracked through 2^n
// ways (28 references took over a minute). With one way to match each token, matching is linear.
const REF = String.raw`(?:#[\w.-]+|\d+)`;
/** References that need no colon: #3, 3, #api, joined by commas or "and". */
const BARE_REFS = new RegExp(String.raw`^${REF}(?:\s*(?:,|;|and)\s*${REF})*\s*$`, 'i');
/** "2 and 3", "#a and #b": split on "and" only between references. */
const AND_REFS = new RegExp(String.raw`^${REF}(?:\s+and\s+${REF})+$`, 'i');
const FIELD_LINE = new RegExp(`^(${FIELD_NAMES})\\s*:\\s*(.*)$`, 'i');

/**
 * Tasklane's own dialect, read from the tree: the sections `include` accepts are phases, their
 * lists' items tasks, nested items subtasks. `title` is the front matter's, if any.
 */
export function readDialect(
  doc: MarkdownDoc,
  top: Section,
  file: string,
  include: (section: Section) => boolean,
  frontTitle?: string,
): PlanSpec {
  const fail = (line: number, field: string, message: string): never => {
    throw new TasklaneError('INVALID_INPUT', `${file}:${line}: ${message}`, { file, field });
  };
  const phases: Phase[] = [{ level: 0, line: 0, parallel: false, sequential: false, items: [] }];
  const items: Item[] = [];
  let title = frontTitle;

  const readItem = (li: ListItem, parent: number | undefined, phase: number): void => {
    const masked = itemFirstLineMasked(doc, li);
    let body = masked.text;
    const box = checkbox(body);
    if (box) body = box.rest.trim();
    const line = startLine(li);
    // `- depends on: X` nested under an item is a field of that item, not a subtask.
    const asField = FIELD_LINE.exec(body);
    if (asField && parent !== undefined && !box) {
      (items[parent] as Item).fields.push({
        name: (asField[1] as string).toLowerCase(),
        value: unmaskCode(asField[2] as string, masked.code),
        line,
      });
      return;
    }
    const index = items.length;
    const item: Item = {
      line,
      indent: indentOf(doc.lines[line - 1] ?? ''),
      text: body,
      code: masked.code,
      done: box?.done ?? false,
      children: [],
      phase,
      description: [],
      fields: [],
      subject: '',
      refs: [],
      labels: [],
    };
    if (parent !== undefined) {
      item.parent = parent;
      (items[parent] as Item).children.push(index);
    } else {
      (phases[phase] as Phase).items.push(index);
    }
    items.push(item);

    // The item's own lines after its first: description and field lines. Nested lists are
    // subtasks (read below); code blocks are kept whole; a line no deeper than the marker is a
    // lazy continuation of the paragraph in CommonMark, but prose after the list to a reader.
    const nested: [number, number][] = [];
    const verbatim: [number, number][] = [];
    for (const child of li.children) {
      if (child.type === 'list') nested.push([startLine(child), endLine(child)]);
      else if (child.type === 'code' || child.type === 'html') verbatim.push([startLine(child), endLine(child)]);
    }
    const within = (ranges: [number, number][], n: number) => ranges.some(([a, b]) => n >= a && n <= b);
    for (let n = line + 1; n <= endLine(li); n++) {
      if (within(nested, n)) continue;
      const raw = (doc.lines[n - 1] ?? '').replace(/\t/g, '    ');
      if (within(verbatim, n) && !/^\s*<!--.*-->\s*$/.test(raw)) {
        item.description.push({ indent: indentOf(raw), text: raw });
        continue;
      }
      if (raw.trim() === '') {
        item.description.push({ indent: 0, text: '' });
        continue;
      }
      const indent = indentOf(raw);
      if (indent <= item.indent || /^\s*<!--.*-->\s*$/.test(raw)) continue;
      const field = FIELD_LINE.exec(raw.trim());
      if (field) item.fields.push({ name: (field[1] as string).toLowerCase(), value: field[2] as string, line: n });
      else item.description.push({ indent, text: raw });
    }
    for (const child of li.children) {
      if (child.type === 'list') for (const sub of child.children) readItem(sub, index, phase);
    }
  };

  const readSection = (section: Section): void => {
    let phase = 0;
    if (section.heading !== undefined) {
      let name = section.title;
      const parallel = /\(\s*parallel\s*\)/i.test(name);
      const sequential = /\(\s*sequential\s*\)/i.test(name);
      if (parallel && sequential) fail(section.line, 'phase', 'a heading cannot be both (parallel) and (sequential)');
      name = name
        .replace(/\(\s*(parallel|sequential)\s*\)/gi, '')
        .replace(/\s+/g, ' ')
        .trim();
      phases.push({ name, level: section.depth, line: section.line, parallel, sequential, items: [] });
      phase = phases.length - 1;
    }
    for (const list of listsOf(section)) for (const li of list.children) readItem(li, undefined, phase);
    for (const sub of section.sections) if (include(sub)) readSection(sub);
  };
  readSection(top);

  // The first level-1 heading with no tasks of its own is the plan's title, not a phase.
  const firstHeading = phases[1];
  if (
    firstHeading !== undefined &&
    firstHeading.level === 1 &&
    firstHeading.items.length === 0 &&
    title === undefined
  ) {
    title = firstHeading.name;
  }

  for (const item of items) readAnnotations(item, fail);
  assignKeys(items, fail);
  const resolved = resolveReferences(items, fail);
  const after = dependencies(items, phases, resolved);

  const tasks: PlanTask[] = items.map((item, index) => {
    const task: PlanTask = {
      key: item.key as string,
      subject: item.subject,
      after: (after[index] as number[]).map((j) => (items[j] as Item).key as string),
      line: item.line,
    };
    const description = joinDescription(item.description);
    if (description !== '') task.description = description;
    const phase = phases[item.phase]?.name;
    if (phase !== undefined && phase !== '') task.phase = phase;
    if (item.parent !== undefined) task.parent = (items[item.parent] as Item).key as string;
    if (item.priority !== undefined) task.priority = item.priority;
    if (item.labels.length > 0) task.labels = item.labels;
    if (item.estimate !== undefined) task.estimate = item.estimate;
    if (item.agent !== undefined) task.agent = item.agent;
    if (item.verify !== undefined) task.verify = item.verify;
    if (item.done) task.done = true;
    return task;
  });
  const spec: PlanSpec = { tasks };
  if (title !== undefined && title !== '') spec.title = title;
  checkPlan(spec, file);
  return spec;
}

type Fail = (line: number, field: string, message: string) => never;

/** Pulls keys, references, priority, estimate, labels and agent out of an item's text and field lines. */
function readAnnotations(item: Item, fail: Fail): void {
  let text = item.text;
  const n = item.line;
  const setKey = (key: string, line: number) => {
    if (!KEY_PATTERN.test(key))
      fail(line, 'key', `key ${JSON.stringify(key)} may hold only letters, digits, '-', '_' and '.'`);
    if (/^\d+$/.test(key)) fail(line, 'key', `key ${JSON.stringify(key)} is only digits, which reads as a task number`);
    if (item.key !== undefined && item.key !== key) fail(line, 'key', `task has two keys, ${item.key} and ${key}`);
    item.key = key;
  };
  const applyField = (name: string, value: string, line: number) => {
    const v = value.trim();
    switch (name) {
      case 'after':
      case 'depends on':
      case 'blocked by':
        for (const piece of splitRefs(v)) {
          const { ref, labels } = splitTrailingLabels(piece);
          item.labels.push(...labels);
          if (ref !== '') item.refs.push({ ref, line, clause: `${name}: ${v}` });
        }
        break;
      case 'priority': {
        const p = parsePriority(v);
        if (p === undefined)
          fail(
            line,
            'priority',
            `priority ${JSON.stringify(v)} is not an integer or one of low, normal, high, urgent, critical`,
          );
        item.priority = p;
        break;
      }
      case 'estimate': {
        const e = parseDuration(v);
        if (e === undefined)
          fail(line, 'estimate', `estimate ${JSON.stringify(v)} is not a duration such as 30m, 2h, 1h30m or 1d`);
        item.estimate = e;
        break;
      }
      case 'label':
      case 'labels':
        for (const l of v.split(/[,\s]+/)) if (l.replace(/^#/, '') !== '') item.labels.push(l.replace(/^#/, ''));
        break;
      case 'key':
        setKey(v.replace(/^#/, ''), line);
        break;
      case 'agent':
        if (v === '') fail(line, 'agent', 'agent needs a name');
        item.agent = v;
        break;
      case 'verify':
        if (v === '') fail(line, 'verify', 'verify needs a command');
        item.verify = v;
        break;
    }
  };

  // **bold** is markup, not part of the subject (LLM-written plans bold every item's title).
  text = stripBold(text);
  // {#key} anywhere.
  text = text.replace(/\{#([^{}\s]*)\}/g, (_, key: string) => {
    setKey(key, n);
    return ' ';
  });
  // (after: a, b), (after #2), (depends on: X), (priority: high), (estimate: 2h), (key: api), (agent: codex)
  text = text.replace(
    new RegExp(`\\(\\s*(${FIELD_NAMES})\\s*(:?)\\s*([^()]*)\\)`, 'gi'),
    (whole, name: string, colon: string, value: string) => {
      const field = name.toLowerCase();
      // Without a colon only bare references count, so prose such as "(after lunch)" stays text.
      if (colon !== ':' && !(REF_FIELDS.has(field) && BARE_REFS.test(value))) return whole;
      applyField(field, value, n);
      return ' ';
    },
  );
  // !high, !2 and ~30m tokens.
  text = text.replace(/(^|\s)!([A-Za-z]+|[+-]?\d+)(?=\s|$)/g, (whole, pre: string, word: string) => {
    const p = parsePriority(word);
    if (p === undefined) return whole;
    item.priority = p;
    return pre;
  });
  text = text.replace(/(^|\s)~(\d[\d.smhdw]*)(?=\s|$)/gi, (whole, pre: string, value: string) => {
    const e = parseDuration(value);
    if (e === undefined) return whole;
    item.estimate = e;
    return pre;
  });
  const trailingKey = () => {
    text = text.replace(/(?<!\s)\s*\[([A-Za-z0-9][A-Za-z0-9_.-]*)\]\s*$/, (_, key: string) => {
      setKey(key, n);
      return '';
    });
  };
  trailingKey();
  // A trailing reference clause: "after #2", "after 2 and 3", "after #api", "depends on: A, B", "after: a".
  // Each candidate costs only its own match (the rest of the line is a slice, tested from its
  // start), so a line with thousands of "after"s is read in linear time.
  const clause = /(^|[\s,;—–-])(after|depends on|blocked by)\b\s*(:?)\s*/gi;
  for (;;) {
    const m = clause.exec(text);
    if (!m) break;
    const [whole, pre, name, colon] = m as unknown as [string, string, string, string];
    const rest = text.slice(m.index + whole.length);
    // Only a colon or a reference (#2, 3) can start the clause: test that before splitting labels.
    const { ref: core, labels } =
      colon === ':' || /^[#\d]/.test(rest) ? splitTrailingLabels(rest) : { ref: '', labels: [] };
    if (colon === ':' || BARE_REFS.test(core)) {
      applyField(name.toLowerCase(), core, n);
      item.labels.push(...labels);
      text = text.slice(0, m.index + pre.length);
      trailingKey();
      break;
    }
    clause.lastIndex = m.index + pre.length + name.length;
  }
  // #labels (a letter first, so "#2" stays a task number).
  text = text.replace(/(^|\s)#([A-Za-z][\w-]*)(?=\s|$)/g, (_, pre: string, label: string) => {
    item.labels.push(label);
    return pre;
  });

  for (const f of item.fields) applyField(f.name, f.value, f.line);
  item.labels = [...new Set(item.labels)];
  item.subject = unmaskCode(text, item.code)
    .replace(/\s+/g, ' ')
    .replace(/(?<![\s,;:—–-])[\s,;:—–-]+$/, '')
    .trim();
  if (item.subject === '') fail(n, 'subject', 'task has an empty subject');
}

/**
 * `**bold**` -> `bold` (the content starts and ends with a non-space), in one pass: the regular
 * expression it replaces rescanned the rest of the line from every unclosed `**` (quadratic).
 */
export function stripBold(text: string): string {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    const open = text.indexOf('**', i);
    if (open < 0) break;
    const first = text[open + 2];
    if (first === undefined || /\s/.test(first)) {
      out.push(text.slice(i, open + 1));
      i = open + 1;
      continue;
    }
    // The nearest `**` after the first character of the content, with no space before it.
    let close = text.indexOf('**', open + 3);
    while (close >= 0 && /\s/.test(text[close - 1] as string)) close = text.indexOf('**', close + 1);
    if (close < 0) break; // no closer after this opener means none after any later one either
    out.push(text.slice(i, open), text.slice(open + 2, close));
    i = close + 2;
  }
  out.push(text.slice(i));
  return out.join('');
}

/** "a, b; c" -> [a, b, c]; "2 and 3" -> [2, 3] (only between numbers or #keys: subjects may say "and"). */
function splitRefs(value: string): string[] {
  const out: string[] = [];
  for (const piece of value.split(/[,;]/)) {
    const p = piece.trim();
    if (p === '') continue;
    if (AND_REFS.test(p)) out.push(...p.split(/\s+and\s+/i));
    else out.push(p.replace(/^and\s+/i, ''));
  }
  return out;
}

/** "Design API #backend" -> ref "Design API", labels [backend]; a lone "#api" stays a key reference. */
function splitTrailingLabels(piece: string): { ref: string; labels: string[] } {
  const labels: string[] = [];
  const ref = piece.trim();
  // Walks back from the end, one label at a time (a regex per label rescanned the whole text).
  let end = ref.length;
  for (;;) {
    const hash = ref.lastIndexOf('#', end - 1);
    if (hash <= 0 || !/\s/.test(ref[hash - 1] as string)) break;
    const label = ref.slice(hash + 1, end);
    if (!/^[A-Za-z][\w-]*$/.test(label)) break;
    labels.push(label);
    end = hash;
    while (end > 0 && /\s/.test(ref[end - 1] as string)) end--;
  }
  return { ref: ref.slice(0, end), labels: labels.reverse() };
}

/** Explicit keys as written; every other task gets a key from its subject, made unique with -2, -3... */
function assignKeys(items: Item[], fail: Fail): void {
  const taken = new Map<string, number>();
  for (const item of items) {
    if (item.key === undefined) continue;
    const first = taken.get(item.key);
    if (first !== undefined)
      fail(item.line, 'key', `duplicate key ${JSON.stringify(item.key)} (first used at line ${first})`);
    taken.set(item.key, item.line);
  }
  items.forEach((item, index) => {
    if (item.key !== undefined) return;
    const base = slugify(item.subject) || `task-${index + 1}`;
    let key = base;
    for (let k = 2; taken.has(key); k++) key = `${base}-${k}`;
    item.key = key;
    taken.set(key, item.line);
  });
}

/** Each item's own references as item indices: "#3"/"3" by position, then by key, then by subject. */
function resolveReferences(items: Item[], fail: Fail): number[][] {
  const byKey = new Map(items.map((item, i) => [item.key as string, i]));
  const bySubject = new Map<string, number[]>();
  items.forEach((item, i) => {
    const s = normalize(item.subject);
    bySubject.set(s, [...(bySubject.get(s) ?? []), i]);
  });
  return items.map((item, self) => {
    const out: number[] = [];
    for (const { ref, line, clause } of item.refs) {
      let target: number | undefined;
      const number = /^#?(\d+)$/.exec(ref);
      if (number) {
        const k = Number(number[1]);
        if (k < 1 || k > items.length) {
          fail(
            line,
            'after',
            `"${clip(clause)}": there is no task ${clip(ref, 60)}; the plan has ${items.length} tasks, numbered 1 to ${items.length} in document order`,
          );
        }
        target = k - 1;
      } else {
        const bare = ref.startsWith('#') ? ref.slice(1) : ref;
        target = byKey.get(bare);
        if (target === undefined && !ref.startsWith('#')) {
          const matches = bySubject.get(normalize(ref)) ?? [];
          if (matches.length > 1) {
            const at = listOf(matches.map((m) => String((items[m] as Item).line)));
            fail(
              line,
              'after',
              `"${clip(clause)}": ${JSON.stringify(clip(ref, 60))} matches several tasks (lines ${at}); give one a key such as {#name} and refer to that`,
            );
          }
          target = matches[0];
        }
        if (target === undefined) {
          const near = nearest(bare, items);
          const hint = near === undefined ? '' : ` (did you mean ${JSON.stringify(near)}?)`;
          fail(
            line,
            'after',
            `"${clip(clause)}": no task has the key or subject ${JSON.stringify(clip(ref, 60))}${hint}`,
          );
        }
      }
      if (target === self) fail(line, 'after', `"${clause}": a task cannot depend on itself`);
      if (!out.includes(target as number)) out.push(target as number);
    }
    return out;
  });
}

/**
 * The `after` list of every item, by the documented rules:
 * - a task with references of its own waits for exactly those;
 * - otherwise a subtask starts when its parent could start (it inherits the parent's start rule);
 * - otherwise a top-level task waits for the previous top-level task in a (sequential) phase, or
 *   for the final tasks of the previous stage (a phase, with any (parallel) phases that follow it);
 * - a task with subtasks keeps only its own references: it already waits for its subtasks,
 *   which carry the start rule.
 */
function dependencies(items: Item[], phases: Phase[], refs: number[][]): number[][] {
  const after: number[][] = items.map(() => []);
  const finals = new Map<number, number[]>();
  const startMemo = new Map<number, number[]>();

  // Stages: a phase starts a new stage unless it is (parallel), in which case it joins the stage
  // of the phase before it. Each stage waits for the final tasks of every phase in the stage before.
  const stageOf = new Map<number, number>();
  let stage = -1;
  phases.forEach((phase, p) => {
    if (phase.items.length === 0) return;
    if (!phase.parallel || stage < 0) stage++;
    stageOf.set(p, stage);
  });
  const phaseGate = (p: number): number[] => {
    const previous = (stageOf.get(p) ?? 0) - 1;
    const gate: number[] = [];
    for (const [q, s] of stageOf) if (s === previous) gate.push(...(finals.get(q) ?? []));
    return gate;
  };
  // Each top-level item's place in its phase (indexOf per item made a long phase quadratic).
  const positionInPhase = new Map<number, number>();
  for (const phase of phases) {
    for (const [pos, item] of phase.items.entries()) positionInPhase.set(item, pos);
  }
  const startOf = (i: number): number[] => {
    const memo = startMemo.get(i);
    if (memo !== undefined) return memo;
    const item = items[i] as Item;
    let start: number[];
    if ((refs[i] as number[]).length > 0) start = refs[i] as number[];
    else if (item.parent !== undefined) start = startOf(item.parent);
    else {
      const phase = phases[item.phase] as Phase;
      const pos = positionInPhase.get(i) ?? -1;
      start = phase.sequential && pos > 0 ? [phase.items[pos - 1] as number] : phaseGate(item.phase);
    }
    startMemo.set(i, start);
    return start;
  };

  const membersOf = phases.map((): number[] => []);
  for (const [i, item] of items.entries()) membersOf[item.phase]?.push(i);
  phases.forEach((_phase, p) => {
    const members = membersOf[p] as number[];
    for (const i of members) {
      const item = items[i] as Item;
      after[i] = item.children.length > 0 ? [...(refs[i] as number[])] : [...startOf(i)];
    }
    // Final tasks: those nothing else in the phase waits for. The next phase waits for these.
    const inPhase = new Set(members);
    const waitedFor = new Set<number>();
    for (const i of members) {
      for (const b of after[i] as number[]) if (inPhase.has(b)) waitedFor.add(b);
      const parent = (items[i] as Item).parent;
      if (parent !== undefined && inPhase.has(parent)) waitedFor.add(i);
    }
    finals.set(
      p,
      members.filter((i) => !waitedFor.has(i)),
    );
  });
  return after;
}

function joinDescription(lines: { indent: number; text: string }[]): string {
  const content = lines.filter((l) => l.text.trim() !== '');
  if (content.length === 0) return '';
  const cut = content.reduce((min, l) => Math.min(min, l.indent), Number.POSITIVE_INFINITY);
  return lines
    .map((l) => (l.text.trim() === '' ? '' : l.text.slice(cut).trimEnd()))
    .join('\n')
    .trim();
}

function normalize(s: string): string {
  return s.replace(/\s+/g, ' ').trim().toLowerCase();
}

function nearest(ref: string, items: Item[]): string | undefined {
  return closestMatch(
    ref,
    items.flatMap((item) => [item.key as string, item.subject]),
  );
}
