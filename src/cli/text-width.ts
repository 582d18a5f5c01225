// How wide text is on a terminal, in columns. String length counts UTF-16 units: an emoji is two
// of them but one character two columns wide, 日 is one unit but two columns, and é written as e
// plus a combining accent is two units in one column. Tables pad and cut by these widths, and a
// cut never splits a character (half an emoji prints as U+FFFD). Widths follow what terminals do
// (wcwidth): 2 for East Asian Wide and Fullwidth characters and emoji shown as emoji, 0 for
// combining marks, joiners and variation selectors inside a grapheme cluster, 1 otherwise.
// Ambiguous-width characters (…, ·, Greek, Cyrillic) count 1, as in a Western locale.

const graphemes = new Intl.Segmenter('en', { granularity: 'grapheme' });

/**
 * East Asian Wide and Fullwidth code points other than emoji (which are found by their Unicode
 * property, see clusterWidth), from EastAsianWidth-17.0.0.txt; ranges are joined across
 * unassigned code points and emoji. Sorted, for a binary search.
 */
const WIDE: readonly (readonly [number, number])[] = [
  [0x1100, 0x115f], // Hangul Choseong (leading consonants)
  [0x2329, 0x232a], // angle brackets
  [0x2630, 0x2637], // trigrams
  [0x268a, 0x268f], // monograms and digrams
  [0x2e80, 0x3029], // CJK radicals, Kangxi, ideographic description, CJK symbols
  [0x3030, 0x303e], // CJK symbols
  [0x3041, 0x3096], // Hiragana
  [0x309b, 0x3163], // Katakana, Bopomofo, Hangul compatibility jamo
  [0x3165, 0x3247], // Kanbun, CJK strokes, enclosed CJK
  [0x3250, 0xa4c6], // enclosed CJK, CJK Extension A, Yijing, CJK Unified Ideographs, Yi
  [0xa960, 0xa97c], // Hangul Jamo Extended-A
  [0xac00, 0xd7a3], // Hangul syllables
  [0xf900, 0xfaff], // CJK compatibility ideographs
  [0xfe10, 0xfe19], // vertical forms
  [0xfe30, 0xfe6b], // CJK compatibility forms, small form variants
  [0xff01, 0xff60], // fullwidth forms
  [0xffe0, 0xffe6], // fullwidth signs
  [0x16fe0, 0x16fe3], // ideographic symbols
  [0x16ff2, 0x1b2fb], // Tangut, Khitan, Kana supplement and extensions, Nushu
  [0x1d300, 0x1d376], // Tai Xuan Jing symbols, counting rods
  [0x1f200, 0x1f265], // enclosed ideographic supplement
  [0x20000, 0x3fffd], // CJK Extensions B and later, planes 2 and 3
];

function isWide(cp: number): boolean {
  let lo = 0;
  let hi = WIDE.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const [from, to] = WIDE[mid] as readonly [number, number];
    if (cp < from) hi = mid - 1;
    else if (cp > to) lo = mid + 1;
    else return true;
  }
  return false;
}

/** Marks and format characters, and Hangul vowels and finals that join a leading consonant. */
const ZERO_WIDTH = /^[\p{Mn}\p{Me}\p{Cf}\u1160-\u11ff\ud7b0-\ud7ff]/u;
/** Shown as an emoji by default, or asked to be with VS16 (U+FE0F) after an emoji character. */
const EMOJI = /\p{Emoji_Presentation}|\p{Emoji}\ufe0f/u;
/** Printable ASCII only: one column per unit, the common case, without segmenting. */
const PLAIN = /^[\x20-\x7e]*$/;

/** Columns one grapheme cluster takes: its first code point decides, the rest attach to it. */
function clusterWidth(cluster: string): number {
  if (ZERO_WIDTH.test(cluster)) return 0;
  if (EMOJI.test(cluster)) return 2;
  return isWide(cluster.codePointAt(0) as number) ? 2 : 1;
}

/** The columns `text` takes on a terminal. It should hold no control characters (see inert()). */
export function displayWidth(text: string): number {
  if (PLAIN.test(text)) return text.length;
  let width = 0;
  for (const { segment } of graphemes.segment(text)) width += clusterWidth(segment);
  return width;
}

/** The longest start of `text` that fits in `columns`, never splitting a grapheme cluster. */
function fitStart(text: string, columns: number): { text: string; width: number } {
  let width = 0;
  let end = 0;
  for (const { segment, index } of graphemes.segment(text)) {
    const w = clusterWidth(segment);
    if (width + w > columns) break;
    width += w;
    end = index + segment.length;
  }
  return { text: text.slice(0, end), width };
}

/**
 * `text` cut to at most `columns` columns, ending in … when it was cut. The result can be a column
 * short when a wide character did not fit; pad it with padToWidth to fill the column exactly.
 */
export function cutToWidth(text: string, columns: number): string {
  if (displayWidth(text) <= columns) return text;
  if (columns <= 0) return '';
  return `${fitStart(text, columns - 1).text}…`;
}

/** `text` cut to at most `columns` columns without an ellipsis (a line cut to the terminal). */
export function clipToWidth(text: string, columns: number): string {
  return displayWidth(text) <= columns ? text : fitStart(text, Math.max(0, columns)).text;
}

/** `text` followed by spaces up to `columns` columns (unchanged when it is already as wide). */
export function padToWidth(text: string, columns: number): string {
  return text + ' '.repeat(Math.max(0, columns - displayWidth(text)));
}
