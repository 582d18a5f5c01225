import MarkdownIt, { type MarkdownIt as Parser, type Token } from 'markdown-it';

// A markdown plan read as CommonMark: the block tree (markdown-it's block parser, which keeps
// each block's lines and bounds nesting; linear in the plan, where micromark's list handling was
// quadratic), the source lines the tree points into, and the front matter. Everything that decides
// what a plan means works on this, never on lines matched by patterns. This module is the only
// one that loads the parser; the CLI loads it only for `plan` and `run PLAN`.

export interface FrontMatter {
  /** The text between the fences. */
  text: string;
  /** 1-based line of the first line of `text`. */
  line: number;
}

/** A block of the document, with its 1-based first and last lines. */
export interface Block {
  type: 'heading' | 'list' | 'listItem' | 'paragraph' | 'code' | 'html' | 'thematicBreak' | 'blockquote' | 'other';
  line: number;
  endLine: number;
  children: Block[];
  /** heading: 1 to 6. */
  depth?: number;
  /** heading, paragraph: the inline text (CommonMark's, without markers or closing #s). */
  text?: string;
  /** list: numbered; and its first number. */
  ordered?: boolean;
  start?: number;
}
/** A block of type 'list' (its children are items) and one of type 'listItem'. */
export type List = Block;
export type ListItem = Block;

export interface MarkdownDoc {
  root: Block;
  /** Source lines, 0-based: line n of the tree is lines[n - 1]. */
  lines: string[];
  frontMatter?: FrontMatter;
  /** Lines inside code blocks (fenced or indented), anywhere in the document. */
  codeLines: Set<number>;
  /** Set when blocks nest as deep as the parser goes (MAX_NESTING): the line where they do. */
  tooDeepAt?: number;
}

/**
 * How deep blocks may nest (a list in a list item counts two). markdown-it stops reading a list
 * at its limit and silently drops the rest of the document, so a plan that reaches it is refused.
 */
export const MAX_NESTING = 100;

/** One heading and what it holds: blocks until the next heading of the same or a higher level. */
export interface Section {
  heading?: Block;
  /** The heading's text as written (inline markup kept), without its closing #s. */
  title: string;
  depth: number;
  line: number;
  /** The blocks directly under the heading, before its first subsection. */
  blocks: Block[];
  sections: Section[];
  /** Last source line of the section, subsections included. */
  endLine: number;
}

const OPEN: Record<string, Block['type']> = {
  heading_open: 'heading',
  paragraph_open: 'paragraph',
  bullet_list_open: 'list',
  ordered_list_open: 'list',
  list_item_open: 'listItem',
  blockquote_open: 'blockquote',
};
const LEAF: Record<string, Block['type']> = {
  fence: 'code',
  code_block: 'code',
  html_block: 'html',
  hr: 'thematicBreak',
};

let parser: Parser | undefined;

/** Parses a markdown plan. A first line `---` (or `---yaml`, `---json`) opens front matter up to `---` or `...`. */
export function readMarkdown(text: string): MarkdownDoc {
  const lines = text
    .replace(/^\uFEFF/, '')
    .replace(/\0/g, '\uFFFD')
    .split(/\r\n|\n|\r/);
  let frontMatter: FrontMatter | undefined;
  if (/^---(yaml|json)?\s*$/i.test(lines[0] ?? '')) {
    const end = lines.findIndex((l, i) => i > 0 && (l.trimEnd() === '---' || l.trimEnd() === '...'));
    if (end > 0) {
      frontMatter = { text: lines.slice(1, end).join('\n'), line: 2 };
      // Blank lines in its place keep the tree's line numbers those of the file.
      for (let i = 0; i <= end; i++) lines[i] = '';
    }
  }
  // Task Master's PRDs wrap their parts in <context> and <PRD> lines; as HTML blocks they would
  // swallow the heading under them, so they are read as the blank lines they mean.
  const prdTags = /^\s*<\/?(context|prd)>\s*$/i;
  const source = lines.map((l) => (prdTags.test(l) ? '' : l)).join('\n');
  // The block parser alone: inline markup is read where a reader needs it (codeSpans below).
  parser ??= new MarkdownIt('commonmark', { maxNesting: MAX_NESTING });
  const tokens: Token[] = [];
  parser.block.parse(source, parser, {}, tokens);

  const root: Block = { type: 'other', line: 1, endLine: lines.length, children: [] };
  const open: Block[] = [root];
  const codeLines = new Set<number>();
  let tooDeepAt: number | undefined;
  for (const token of tokens) {
    if (token.level >= MAX_NESTING - 1 && tooDeepAt === undefined) tooDeepAt = (token.map?.[0] ?? 0) + 1;
    const top = open[open.length - 1] as Block;
    if (token.nesting === -1) {
      open.pop();
      continue;
    }
    if (token.type === 'inline') {
      top.text = token.content;
      continue;
    }
    const [from, to] = token.map ?? [top.line - 1, top.line];
    const block: Block = {
      type: OPEN[token.type] ?? LEAF[token.type] ?? 'other',
      line: from + 1,
      endLine: lastContentLine(lines, from + 1, Math.max(from + 1, to)),
      children: [],
    };
    if (block.type === 'heading') block.depth = Number(token.tag.slice(1));
    if (block.type === 'list') {
      block.ordered = token.type === 'ordered_list_open';
      if (block.ordered) block.start = Number(token.attrGet('start') ?? 1);
    }
    if (block.type === 'code') for (let n = block.line; n <= block.endLine; n++) codeLines.add(n);
    top.children.push(block);
    if (token.nesting === 1) open.push(block);
  }
  const doc: MarkdownDoc = { root, lines, codeLines };
  if (frontMatter !== undefined) doc.frontMatter = frontMatter;
  if (tooDeepAt !== undefined) doc.tooDeepAt = tooDeepAt;
  return doc;
}

/** The last line in [from, to] that is not blank (a block's map includes the blank lines after it). */
function lastContentLine(lines: string[], from: number, to: number): number {
  let n = Math.min(to, lines.length);
  while (n > from && (lines[n - 1] ?? '').trim() === '') n--;
  return n;
}

/** 1-based first and last line of a block. */
export function startLine(node: Block): number {
  return node.line;
}
export function endLine(node: Block): number {
  return node.endLine;
}

/** The document as nested sections; blocks before the first heading form a section without one. */
export function sectionsOf(doc: MarkdownDoc): Section {
  const top: Section = { title: '', depth: 0, line: 0, blocks: [], sections: [], endLine: doc.lines.length };
  const open: Section[] = [top];
  for (const block of doc.root.children) {
    if (block.type === 'heading') {
      const depth = block.depth ?? 1;
      while ((open[open.length - 1] as Section).depth >= depth) (open.pop() as Section).endLine = block.line - 1;
      const section: Section = {
        heading: block,
        title: (block.text ?? '').replace(/\s+/g, ' ').trim(),
        depth,
        line: block.line,
        blocks: [],
        sections: [],
        endLine: doc.lines.length,
      };
      (open[open.length - 1] as Section).sections.push(section);
      open.push(section);
    } else {
      (open[open.length - 1] as Section).blocks.push(block);
    }
  }
  return top;
}

/** Every list directly under a section (not in its subsections). */
export function listsOf(section: Section): List[] {
  return section.blocks.filter((b) => b.type === 'list');
}

/** `[ ]`/`[x]` at the start of an item's text (GFM task list items): the state and the text after it. */
export function checkbox(text: string): { done: boolean; rest: string } | undefined {
  const m = /^\[([ xX])\](?:[ \t]+|$)/.exec(text);
  if (!m) return undefined;
  return { done: m[1] !== ' ', rest: text.slice(m[0].length) };
}

/** The first line of a list item's text as written, after its marker; '' when it starts with another block. */
export function itemFirstLine(doc: MarkdownDoc, item: ListItem): string {
  const line = doc.lines[item.line - 1] ?? '';
  const first = item.children[0];
  if (first !== undefined && first.type !== 'paragraph' && first.line === item.line) return '';
  return line.replace(/^[ \t]*(?:[-*+]|\d{1,9}[.)])(?=[ \t]|$)/, '').trim();
}

/** Column (0-based, tabs as 4) where a line's text starts. */
export function indentOf(line: string): number {
  let n = 0;
  for (const ch of line) {
    if (ch === ' ') n++;
    else if (ch === '\t') n += 4 - (n % 4);
    else break;
  }
  return n;
}

/** Lines [from, to] (1-based) with the common indentation removed, blank lines kept, trimmed at both ends. */
export function dedent(doc: MarkdownDoc, from: number, to: number, skip?: (line: number) => boolean): string {
  const kept: string[] = [];
  for (let n = from; n <= to; n++) {
    if (skip?.(n)) continue;
    kept.push((doc.lines[n - 1] ?? '').replace(/\t/g, '    ').trimEnd());
  }
  return dedentLines(kept);
}

export function dedentLines(lines: string[]): string {
  const content = lines.filter((l) => l.trim() !== '');
  if (content.length === 0) return '';
  const cut = content.reduce((min, l) => Math.min(min, indentOf(l)), Number.POSITIVE_INFINITY);
  return lines
    .map((l) => (l.trim() === '' ? '' : l.slice(cut)))
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .replace(/^\n+|\n+$/g, '');
}

/**
 * The code spans of one line of inline text, as [from, to) offsets, by CommonMark's rule: a run of
 * n backticks opens a span that the next run of exactly n closes; a backslash-escaped backtick
 * opens nothing. Each run is looked at once (a queue of runs per length), so this is linear.
 */
export function codeSpans(text: string): [number, number][] {
  const runs: { at: number; len: number; escaped: boolean }[] = [];
  for (let i = 0; i < text.length; ) {
    if (text[i] !== '`') {
      i++;
      continue;
    }
    let back = 0;
    while (i - back - 1 >= 0 && text[i - back - 1] === '\\') back++;
    let j = i;
    while (text[j] === '`') j++;
    runs.push({ at: i, len: j - i, escaped: back % 2 === 1 });
    i = j;
  }
  const byLength = new Map<number, number[]>();
  for (const [k, r] of runs.entries()) {
    const same = byLength.get(r.len);
    if (same === undefined) byLength.set(r.len, [k]);
    else same.push(k);
  }
  const next = new Map<number, number>(); // per length: index into byLength's list of the first unused run
  const spans: [number, number][] = [];
  let k = 0;
  while (k < runs.length) {
    const run = runs[k] as (typeof runs)[number];
    const len = run.escaped ? run.len - 1 : run.len;
    const at = run.escaped ? run.at + 1 : run.at;
    const same = byLength.get(len) ?? [];
    let p = next.get(len) ?? 0;
    while (p < same.length && (same[p] as number) <= k) p++;
    next.set(len, p);
    if (len === 0 || p >= same.length) {
      k++;
      continue;
    }
    const close = runs[same[p] as number] as (typeof runs)[number];
    spans.push([at, close.at + close.len]);
    k = (same[p] as number) + 1;
  }
  return spans;
}

/** The code spans' contents, as CommonMark gives them (one leading and trailing space stripped when both are there). */
export function codeSpanValues(text: string): string[] {
  return codeSpans(text).map(([from, to]) => {
    let open = 0;
    while (text[from + open] === '`') open++;
    const inner = text.slice(from + open, to - open);
    return /^ .* $/.test(inner) && inner.trim() !== '' ? inner.slice(1, -1) : inner;
  });
}

/** Stand in for code span n while an item's annotations are read, so `#x` or `after 2` inside one stays text. */
const MARK_OPEN = '\uE000';
const MARK_CLOSE = '\uE001';
const MARK = /\uE000(\d+)\uE001/g;

/**
 * An item's first line with each code span replaced by a mark, and the spans, to be put back by
 * `unmaskCode` once the annotations are read.
 */
export function itemFirstLineMasked(doc: MarkdownDoc, item: ListItem): { text: string; code: string[] } {
  const line = itemFirstLine(doc, item).replace(/[\uE000\uE001]/g, ' ');
  const spans = codeSpans(line);
  const code = spans.map(([from, to]) => line.slice(from, to));
  // One pass, piece by piece: splicing each mark into the whole line was quadratic in the spans.
  const pieces: string[] = [];
  let at = 0;
  spans.forEach(([from, to], i) => {
    pieces.push(line.slice(at, from), `${MARK_OPEN}${i}${MARK_CLOSE}`);
    at = to;
  });
  pieces.push(line.slice(at));
  return { text: pieces.join(''), code };
}

/** Puts the code spans back in place of their marks. */
export function unmaskCode(text: string, code: string[]): string {
  return text.replace(MARK, (_, n: string) => code[Number(n)] ?? '');
}
