import { TasklaneError } from '../../model/index.js';
import { readDialect } from './dialect.js';
import { isStepListHeading, notWork, phaseHeading } from './headings.js';
import {
  type Block,
  listsOf,
  MAX_NESTING,
  type MarkdownDoc,
  readMarkdown,
  type Section,
  sectionsOf,
} from './markdown-tree.js';
import { type PhaseSection, readPhases } from './phases.js';
import type { ChosenShape, PlanAmbiguity, PlanReading, PlanShape, SkippedSection } from './shape.js';
import { checkPlan, type PlanSpec, type PlanTask } from './spec.js';
import { readSteps, type StepList } from './steps.js';
import { readFrontMatter } from './todos.js';

// A markdown plan -> a reading: which shape it has (phases, a step list, front-matter todos, or
// Tasklane's own dialect of items), the graph that shape means, the sections that are not work,
// and what the reader would have had to guess. The rules are in docs/plans.md, "Shapes".

export interface MarkdownOptions {
  /** --phases / --steps: read the plan as this shape, whatever else it holds. */
  shape?: ChosenShape;
}

export function readMarkdownPlan(text: string, file: string, opts: MarkdownOptions = {}): PlanReading {
  const doc = readMarkdown(text);
  if (doc.tooDeepAt !== undefined) {
    throw new TasklaneError(
      'INVALID_INPUT',
      `${file}:${doc.tooDeepAt}: the plan nests lists or quotes more than ${MAX_NESTING / 2} deep; the reader stops there, so it reads none of it`,
      { file },
    );
  }
  const ambiguities: PlanAmbiguity[] = [];
  const skipped: SkippedSection[] = [];
  const front = doc.frontMatter === undefined ? {} : readFrontMatter(doc.frontMatter, file, ambiguities);
  const top = sectionsOf(doc);

  // Sections whose headings say they are not work: nothing under them is read.
  const notWorkOf = new Map<Section, string>();
  const markNotWork = (s: Section): void => {
    for (const sub of s.sections) {
      const why = notWork(sub.title);
      if (why !== undefined) notWorkOf.set(sub, why);
      else markNotWork(sub);
    }
  };
  markNotWork(top);

  // Phase headings, at the shallowest level where any appear; a phase's subsections are its text.
  let phases: PhaseSection[] = [];
  const findPhases = (s: Section): void => {
    for (const sub of s.sections) {
      if (notWorkOf.has(sub)) continue;
      const heading = phaseHeading(sub.title);
      if (heading !== undefined) phases.push({ section: sub, heading });
      else findPhases(sub);
    }
  };
  findPhases(top);
  const phaseDepth = phases.reduce((min, p) => Math.min(min, p.section.depth), Number.POSITIVE_INFINITY);
  phases = phases.filter((p) => p.section.depth === phaseDepth);
  const phaseSet = new Set(phases.map((p) => p.section));

  // Step lists: a heading such as "Implementation Steps" with a list right under it, outside phases.
  const steps: StepList[] = [];
  const findSteps = (s: Section): void => {
    for (const sub of s.sections) {
      if (notWorkOf.has(sub) || phaseSet.has(sub)) continue;
      const list = isStepListHeading(sub.title) ? listsOf(sub)[0] : undefined;
      if (list !== undefined && !writesDialect(doc, list)) steps.push({ section: sub, list });
      else findSteps(sub);
    }
  };
  findSteps(top);

  let shape: PlanShape;
  if (opts.shape === 'phases') {
    if (phases.length === 0) throw none(file, '--phases', 'phase headings such as "## Phase 1: Core"');
    shape = 'phases';
  } else if (opts.shape === 'steps') {
    if (steps.length === 0)
      throw none(file, '--steps', 'a step list (a list under a heading such as "## Implementation Steps")');
    shape = 'steps';
  } else if (front.todos !== undefined) shape = 'todos';
  else if (phases.length > 0 && steps.length > 0) {
    const p = phases[0] as PhaseSection;
    const s = steps[0] as StepList;
    ambiguities.push({
      line: s.section.line,
      message: `the plan has both phases (line ${p.section.line}: ${JSON.stringify(p.section.title)}) and a step list (line ${s.section.line}: ${JSON.stringify(s.section.title)}); say which are the tasks with --phases or --steps`,
    });
    shape = 'phases';
  } else if (phases.length > 0) shape = 'phases';
  else if (steps.length > 0) shape = 'steps';
  else shape = 'items';

  let spec: PlanSpec;
  const read = new Set<Section>();
  if (shape === 'items') {
    spec = readDialect(doc, top, file, (s) => !notWorkOf.has(s), front.title);
  } else {
    let tasks: PlanTask[];
    if (shape === 'phases') {
      tasks = readPhases(doc, phases, ambiguities);
      for (const p of phases) read.add(p.section);
    } else if (shape === 'steps') {
      tasks = readSteps(doc, steps, ambiguities);
      for (const s of steps) read.add(s.section);
    } else tasks = front.todos ?? [];
    spec = { tasks };
    // The title: the front matter's, else a first heading of level 1 that is neither read nor skipped.
    const first = top.sections[0];
    const heading = first?.depth === 1 && !read.has(first) && !notWorkOf.has(first) ? first.title : undefined;
    const title = front.title ?? heading;
    if (title !== undefined && title !== '') spec.title = title.replace(/\*\*|__/g, '');
    checkPlan(spec, file);
  }

  // What was not read, one line a section: the non-work ones, and (for a shape) every other
  // section with content that holds none of the shape's sections.
  const others: Record<PlanShape, string> = {
    phases: "not a phase: this plan's tasks are its phases",
    steps: "not a step list: this plan's tasks are its steps",
    todos: "this plan's tasks are its front matter's todos",
    items: '',
    json: '',
    yaml: '',
    agent: '',
  };
  const holdsRead = (s: Section): boolean => read.has(s) || s.sections.some(holdsRead);
  const report = (s: Section): void => {
    for (const sub of s.sections) {
      const why = notWorkOf.get(sub);
      if (why !== undefined) skipped.push({ heading: sub.title, line: sub.line, reason: why });
      else if (shape === 'items' || holdsRead(sub)) {
        if (!read.has(sub)) report(sub);
      } else if (sub.blocks.length > 0 || sub.sections.length > 0) {
        skipped.push({ heading: sub.title, line: sub.line, reason: others[shape] });
      }
    }
  };
  report(top);
  for (const d of front.dropped ?? []) {
    skipped.push({ heading: `todo ${JSON.stringify(d.subject)}`, line: d.line, reason: `its status is ${d.status}` });
  }
  skipped.sort((a, b) => a.line - b.line);
  return { spec, shape, skipped, ambiguities };
}

/** Tasklane's own annotations, which a step list does not read: a list that uses them is read as the dialect. */
const DIALECT =
  /\{#[A-Za-z0-9][\w.-]*\}|\((?:after|depends on|blocked by)\s*:|(?:^|\s)!(?:low|normal|high|urgent|critical)(?=\s|$)|(?:^|\s)~\d+(?:\.\d+)?[smhdw](?=\s|$)|^\s*(?:[-*+]\s+)?(?:key|priority|estimate|labels?|agent|verify)\s*:/i;

function writesDialect(doc: MarkdownDoc, list: Block): boolean {
  for (let n = list.line; n <= list.endLine; n++) {
    if (!doc.codeLines.has(n) && DIALECT.test(doc.lines[n - 1] ?? '')) return true;
  }
  return false;
}

/** Markdown plan -> PlanSpec; a plan the reader would have to guess at is refused (see ambiguityError). */
export function parseMarkdownPlan(text: string, file: string, opts: MarkdownOptions = {}): PlanSpec {
  const reading = readMarkdownPlan(text, file, opts);
  if (reading.ambiguities.length > 0 && opts.shape === undefined) throw ambiguityError(reading, file);
  return reading.spec;
}

/** How many ambiguities a refusal lists. */
const MAX_LISTED = 50;

/** The refusal of a plan with ambiguities: each one (the first MAX_LISTED), and how to say what was meant. */
export function ambiguityError(reading: PlanReading, file: string): TasklaneError {
  // Each ambiguity says what is wrong in a bounded message; past MAX_LISTED only their number is told.
  const lines = reading.ambiguities
    .slice(0, MAX_LISTED)
    .map((a) => `  ${a.line === undefined ? file : `${file}:${a.line}`}: ${a.message}`);
  const more = reading.ambiguities.length - MAX_LISTED;
  if (more > 0) lines.push(`  ... and ${more} more`);
  return new TasklaneError(
    'INVALID_INPUT',
    `${file}: the plan is ambiguous, so nothing was written:\n${lines.join('\n')}\nSay how to read it: --phases or --steps, fix the reference, or --agent to let an agent write the graph (--dry-run shows the reading)`,
    { file },
  );
}

function none(file: string, flag: string, what: string): TasklaneError {
  return new TasklaneError('INVALID_INPUT', `${file}: ${flag}: the plan has no ${what}`, { file, field: flag });
}
