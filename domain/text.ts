/**
 * What text the API accepts, as JSON-schema patterns (ECMA-262 regular expressions, evaluated with the `u`
 * flag as ajv does), so that one source states the rule to the validators and to the OpenAPI document.
 * Lone surrogates are the one part of the rule the patterns leave out: a range of them (`\ud800-\udfff`) does not
 * compile in validators built on Rust's regular expressions (jsonschema-rs), whose strings cannot hold one anyway,
 * and such a validator drops the whole pattern. The API refuses them in every input string before any pattern (its input
 * walk, api/http.ts), the functions below check them beside the patterns, and the rules' words say so.
 * Pure: no imports.
 *
 * - Every string (TEXT_PATTERN): no C0/C1 control characters other than tab, line feed and carriage return
 *   (NUL and friends break databases, terminals and logs) and no lone UTF-16 surrogates (not text: they would
 *   be stored as U+FFFD).
 * - Single-line strings (SINGLE_LINE_PATTERN, the default of every string the API reads): additionally no
 *   line breaks or tabs, no U+2028/U+2029, no bidirectional embedding/override/isolate controls
 *   (U+202A-U+202E, U+2066-U+2069: they make a name display as something else).
 * - Names (NAME_PATTERN, and every single-line string that may not be empty): at least one visible character,
 *   so a value made only of spaces or invisible characters (zero-width space, word joiner, BOM...) is refused.
 */

/** C0 and C1 controls other than tab (09), line feed (0A) and carriage return (0D), as a class body. */
const CONTROLS = '\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f';
/** Line and paragraph breaks, and tab. */
const BREAKS = '\\u0009\\u000a\\u000d\\u2028\\u2029';
/** Bidirectional embeddings, overrides (U+202A-U+202E) and isolates (U+2066-U+2069). */
const BIDI = '\\u202a-\\u202e\\u2066-\\u2069';
/** With the `u` flag a surrogate in a class matches only an unpaired one (a pair is one code point). */
const LONE_SURROGATES = '\\ud800-\\udfff';
/**
 * Characters that show nothing: Unicode's default-ignorable code points in the BMP (soft hyphen, zero-width space and
 * joiners, variation selectors, BOM, fillers), less the text-direction controls (BIDI, listed apart), and the blank
 * Braille pattern U+2800. Written with BMP escapes only, so that the document's patterns compile in every engine its
 * readers use (Python's `re`, Java, JavaScript with or without the `u` flag, Rust).
 */
const INVISIBLE = '\\u00ad\\u034f\\u061c\\u115f\\u1160\\u17b4\\u17b5\\u180b-\\u180f\\u200b-\\u200f\\u2060-\\u2065\\u206a-\\u206f\\u2800\\u3164\\ufe00-\\ufe0f\\ufeff\\uffa0\\ufff0-\\ufff8';
/**
 * The default-ignorable code points beyond the BMP: the shorthand and musical format controls, the tag characters and
 * the supplementary variation selectors (QA: a reply of U+E0020 U+E0100 met a request's SLA with nothing in it). An
 * astral range can only be written `\u{…}`, which Python, Java and JavaScript without `u` do not read: the document's
 * patterns leave them out (as they leave out lone surrogates), and the server's patterns (serverPattern) count them
 * as invisible. The rules' words ("at least one visible character") say so for both.
 */
const ASTRAL_INVISIBLE = '\\u{1bca0}-\\u{1bca3}\\u{1d173}-\\u{1d17a}\\u{e0000}-\\u{e0fff}';

const messagePattern = (invisible: string) => `^(?=[\\s\\S]*[^\\s${invisible}${BIDI}])[^${CONTROLS}]*$`;
const namePattern = (invisible: string) => `^(?=.*[^\\s${invisible}])[^${CONTROLS}${BREAKS}${BIDI}]*$`;

/** Any text, multi-line allowed. */
export const TEXT_PATTERN = `^[^${CONTROLS}]*$`;
/**
 * Text of several lines with at least one visible character (a message, a reason, a description): text-direction
 * marks are allowed in it (right-to-left text uses them), but are no visible character (QA: a reply of a lone U+202E
 * answered a request, met its SLA, and emailed the partner nothing).
 */
export const MESSAGE_PATTERN = messagePattern(INVISIBLE);
/** One line of text (possibly empty). */
export const SINGLE_LINE_PATTERN = `^[^${CONTROLS}${BREAKS}${BIDI}]*$`;
/** One line of text with at least one visible character. */
export const NAME_PATTERN = namePattern(INVISIBLE);

const SERVER_PATTERNS: Record<string, string> = {
  [MESSAGE_PATTERN]: messagePattern(INVISIBLE + ASTRAL_INVISIBLE),
  [NAME_PATTERN]: namePattern(INVISIBLE + ASTRAL_INVISIBLE),
};
/**
 * The pattern the server checks for a pattern of the document: the same, but for the messages' and names' visible
 * character, which the server also finds missing in default-ignorable code points beyond the BMP (ajv's `regExp`
 * option in api/http.ts and api/pages/kit.ts; evaluated with the `u` flag).
 */
export const serverPattern = (pattern: string): string => SERVER_PATTERNS[pattern] ?? pattern;

export const TEXT_RULES = {
  text: 'no control characters other than tab and line breaks, no lone surrogates',
  message: 'lines of text with at least one visible character: no control characters other than tab and line breaks, no lone surrogates',
  singleLine: 'one line: no line breaks, tabs, U+2028/U+2029, bidirectional controls (U+202A-U+202E, U+2066-U+2069), control characters or lone surrogates',
  name: 'one line with at least one visible character: no line breaks, tabs, U+2028/U+2029, bidirectional controls, control characters or lone surrogates',
} as const;

const textRe = new RegExp(TEXT_PATTERN, 'u');
const singleLineRe = new RegExp(SINGLE_LINE_PATTERN, 'u');
const nameRe = new RegExp(serverPattern(NAME_PATTERN), 'u');

const loneSurrogateRe = new RegExp(`[${LONE_SURROGATES}]`, 'u');

/** True when `s` holds a UTF-16 surrogate without its pair (not text: stored, it would read U+FFFD). */
export const hasLoneSurrogate = (s: string): boolean => loneSurrogateRe.test(s);
export const isText = (s: string): boolean => textRe.test(s) && !hasLoneSurrogate(s);
export const isSingleLine = (s: string): boolean => singleLineRe.test(s) && !hasLoneSurrogate(s);
export const isName = (s: string): boolean => nameRe.test(s) && !hasLoneSurrogate(s);

/**
 * Why a string breaks the one-line name rule, as a user can be told it (the first reason found), or null: a control
 * character, a line break or tab, a text-direction control, a lone surrogate, or nothing visible at all.
 */
export function textProblem(s: string, { singleLine, visible }: { singleLine: boolean; visible: boolean }): 'control' | 'break' | 'bidi' | 'surrogate' | 'invisible' | null {
  if (new RegExp(`[${CONTROLS}]`, 'u').test(s)) return 'control';
  if (hasLoneSurrogate(s)) return 'surrogate';
  if (singleLine && new RegExp(`[${BREAKS}]`, 'u').test(s)) return 'break';
  if (singleLine && new RegExp(`[${BIDI}]`, 'u').test(s)) return 'bidi';
  // eslint-disable-next-line no-misleading-character-class -- the class lists invisible marks on purpose
  if (visible && !new RegExp(`[^\\s${INVISIBLE}${ASTRAL_INVISIBLE}${BIDI}]`, 'u').test(s)) return 'invisible';
  return null;
}

/**
 * The key two names are compared by (a customer's name, unique per partner and a way to name the customer; a
 * product's name in a cancellation): trimmed, lower-cased and in Unicode's canonical composition (NFC), so that
 * "Müller" typed with a combining diaeresis (U+0308, as some keyboards and macOS file names send it) is the same
 * name as "Müller" with its precomposed ü, as both look the same.
 */
/** `text` as a regular expression (a database `$regex`) that matches it literally. */
export const literalPattern = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export const nameKey = (s: string): string => s.trim().toLowerCase().normalize('NFC');

/**
 * The keys a name may be stored under: `nameKey`'s, and those of names stored before it composed them (lower-cased
 * only: as typed, precomposed or decomposed), so that such a customer is still found, and still taken, by its name.
 */
export const storedNameKeys = (s: string): string[] => [...new Set([nameKey(s), nameKey(s).normalize('NFD'), s.trim().toLowerCase()])];

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;
// eslint-disable-next-line no-control-regex -- the whole Latin-1 range, controls included, on purpose
const LATIN1_ONLY = /^[\u0000-\u00ff]*$/;
const UNSHOWABLE = new RegExp(`[${CONTROLS}${BREAKS}${BIDI}]`, 'gu');

/**
 * A request header's value as text to keep and show (the user agent in the activity log and an order's records).
 * Node reads a header's bytes as Latin-1, one character per byte: bytes that form valid UTF-8 (as a client sends a
 * user agent with non-ASCII in it) are read as UTF-8 instead, else kept as Latin-1; control characters (C0 and C1,
 * DEL) and text-direction controls (which UTF-8 can now carry: they would make the rest of a log line or a CSV cell
 * read reversed) become U+FFFD, so that what is kept neither breaks a log line or a terminal nor reads as mojibake. At most
 * `max` UTF-16 units, never ending in half a surrogate pair; null for a header not sent.
 */
export function headerText(raw: string | undefined, max: number): string | null {
  if (raw === undefined) return null;
  if (PRINTABLE_ASCII.test(raw)) return raw.slice(0, max);
  let s = raw;
  if (LATIN1_ONLY.test(s)) {
    try {
      s = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(Uint8Array.from(s, (c) => c.charCodeAt(0)));
    } catch {
      // not UTF-8: the Latin-1 as read
    }
  }
  s = s.replace(UNSHOWABLE, '\ufffd');
  if (s.length <= max) return s;
  const code = s.charCodeAt(max - 1);
  return s.slice(0, code >= 0xd800 && code <= 0xdbff ? max - 1 : max);
}
