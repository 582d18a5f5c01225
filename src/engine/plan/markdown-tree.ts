import type { Heading, List, ListItem, Nodes, Root, RootContent } from 'mdast';
import { fromMarkdown } from 'mdast-util-from-markdown';

// A markdown plan read as CommonMark: the syntax tree (mdast, from micromark: a state machine,
// linear in the text), the source lines the tree's positions point into, and the front matter.
// Everything that decides what a plan means works on this, never on lines matched by patterns.
// This module is the only one that loads the parser; the CLI loads it only for `plan` and `run PLAN`.

export interface FrontMatter {
  /** The text between the fences. */
  text: string;
  /** 1-based line of the first line of `text`. */
  line: number;
}

export interface MarkdownDoc {
  root: Root;
  /** Source lines (tabs kept), 0-based: line n of the tree is lines[n - 1]. */
  lines: string[];
  frontMatter?: FrontMatter;
  /** Lines inside code blocks (fenced or indented), anywhere in the document. */
  codeLines: Set<number>;
}

/** One heading and what it holds: blocks until the next heading of the same or a higher level. */
export interface Section {
  heading?: Heading;
  /** The heading's text as written (inline markup kept), without its closing #s. */
  title: string;
  depth: number;
  line: number;
  /** The blocks directly under the heading, before its first subsection. */
  blocks: RootContent[];
  sections: Section[];
  /** Last source line of the section, subsections included. */
  endLine: number;
}

/** Parses a markdown plan. A first line `---` (or `---yaml`, `---json`) opens front matter up to `---` or `...`. */
export function readMarkdown(text: string): MarkdownDoc {
  const lines = text.replace(/^\uFEFF/, '').split(/\r\n|\n|\r/);
  let frontMatter: FrontMatter | undefined;
  if (/^---(yaml|json)?\s*$/i.test(lines[0] ?? '')) {
    const end = lines.findIndex((l, i) => i > 0 && (l.trimEnd() === '---' || l.trimEnd() === '...'));
    if (end > 0) {
      frontMatter = { text: lines.slice(1, end).join('\n'), line: 2 };
      // Blank lines in its place keep the tree's line numbers those of the file.
      for (let i = 0; i <= end; i++) lines[i] = '';
    }
  }
  const root = fromMarkdown(lines.join('\n'));
  const codeLines = new Set<number>();
  const stack: Nodes[] = [root];
  while (stack.length > 0) {
    const node = stack.pop() as Nodes;
    if (node.type === 'code') for (let n = startLine(node); n <= endLine(node); n++) codeLines.add(n);
    else if ('children' in node && node.type !== 'paragraph' && node.type !== 'heading') stack.push(...(node.children as Nodes[]));
  }
  const doc: MarkdownDoc = { root, lines, codeLines };
  if (frontMatter !== undefined) doc.frontMatter = frontMatter;
  return doc;
}

/** 1-based first and last line of a node. */
export function startLine(node: Nodes): number {
  return node.position?.start.line ?? 0;
}
export function endLine(node: Nodes): number {
  return node.position?.end.line ?? 0;
}

/** The source of a node's own content (a heading's or paragraph's inline text), as written. */
export function inlineSource(doc: MarkdownDoc, node: Heading | { children: Nodes[] }): string {
  const first = node.children[0];
  const last = node.children[node.children.length - 1];
  if (first?.position === undefined || last?.position === undefined) return '';
  return sliceSource(doc, first.position.start, last.position.end);
}

/** Source text between two points of the tree. */
export function sliceSource(
  doc: MarkdownDoc,
  start: { line: number; column: number },
  end: { line: number; column: number },
): string {
  const out: string[] = [];
  for (let n = start.line; n <= end.line; n++) {
    const line = doc.lines[n - 1] ?? '';
    const from = n === start.line ? start.column - 1 : 0;
    const to = n === end.line ? end.column - 1 : line.length;
    out.push(line.slice(from, to));
  }
  return out.join('\n');
}

/** A heading's text without its optional closing sequence of #s ("Build ##" -> "Build"). */
export function headingTitle(doc: MarkdownDoc, heading: Heading): string {
  return inlineSource(doc, heading).replace(/\s+/g, ' ').trim();
}

/** The document as nested sections; blocks before the first heading form a section without one. */
export function sectionsOf(doc: MarkdownDoc): Section {
  const top: Section = { title: '', depth: 0, line: 0, blocks: [], sections: [], endLine: doc.lines.length };
  const open: Section[] = [top];
  for (const block of doc.root.children) {
    if (block.type === 'heading') {
      while ((open[open.length - 1] as Section).depth >= block.depth) {
        (open.pop() as Section).endLine = startLine(block) - 1;
      }
      const section: Section = {
        heading: block,
        title: headingTitle(doc, block),
        depth: block.depth,
        line: startLine(block),
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
  return section.blocks.filter((b): b is List => b.type === 'list');
}

/** `[ ]`/`[x]` at the start of an item's text (GFM task list items): the state and the text after it. */
export function checkbox(text: string): { done: boolean; rest: string } | undefined {
  const m = /^\[([ xX])\](?:[ \t]+|$)/.exec(text);
  if (!m) return undefined;
  return { done: m[1] !== ' ', rest: text.slice(m[0].length) };
}

/** The first line of an item's text as written (after the marker), or '' for an empty item. */
export function itemFirstLine(doc: MarkdownDoc, item: ListItem): string {
  const first = item.children[0];
  if (first === undefined || first.position === undefined) {
    // An empty item ("- " or "- [ ]" alone): whatever follows the marker on its line.
    const line = doc.lines[startLine(item) - 1] ?? '';
    return line.replace(/^\s*(?:[-*+]|\d{1,9}[.)])/, '').trim();
  }
  if (first.type !== 'paragraph') return '';
  const line = doc.lines[first.position.start.line - 1] ?? '';
  return line.slice(first.position.start.column - 1).trim();
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
  const cut = Math.min(...content.map(indentOf));
  return lines
    .map((l) => (l.trim() === '' ? '' : l.slice(cut)))
    .join('\n')
    .replace(/^\n+|\n+$/g, '');
}

/** Stands in for a code span while an item's annotations are read, so `#x` or `after 2` inside one stays text. */
const CODE_MARK = '\u0000';

/**
 * An item's first line with each code span on it replaced by a mark (spans as the tree found
 * them), and the spans, to be put back by `unmaskCode` once the annotations are read.
 */
export function itemFirstLineMasked(doc: MarkdownDoc, item: ListItem): { text: string; code: string[] } {
  const first = item.children[0];
  if (first?.type !== 'paragraph' || first.position === undefined) return { text: itemFirstLine(doc, item), code: [] };
  const lineNo = first.position.start.line;
  const spans: [number, number][] = [];
  const walk = (node: Nodes): void => {
    const pos = node.position;
    if (pos === undefined || pos.start.line > lineNo) return;
    if (node.type === 'inlineCode') {
      if (pos.start.line === lineNo && pos.end.line === lineNo) spans.push([pos.start.column - 1, pos.end.column - 1]);
      return;
    }
    if ('children' in node) for (const child of node.children) walk(child as Nodes);
  };
  walk(first);
  let line = (doc.lines[lineNo - 1] ?? '').replace(new RegExp(CODE_MARK, 'g'), '');
  const code: string[] = [];
  for (const [from, to] of spans.reverse()) {
    code.unshift(line.slice(from, to));
    line = `${line.slice(0, from)}${CODE_MARK}${line.slice(to)}`;
  }
  // Marks shift the columns after them; the paragraph starts before any of them.
  return { text: line.slice(first.position.start.column - 1).trim(), code };
}

/** Puts the code spans back in place of their marks. */
export function unmaskCode(text: string, code: string[]): string {
  let i = 0;
  return text.replace(new RegExp(CODE_MARK, 'g'), () => code[i++] ?? '');
}
