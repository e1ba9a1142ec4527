/**
 * Helpers that turn profile problems into messages a person can act on: where a JSON file stops
 * being JSON (line, column, position), field paths as users type them (`vault.tls.extraSans[1]`),
 * and "did you mean" suggestions for mistyped keys.
 */

export interface JsonErrorLocation {
  /** 0-based character offset of the first character that is not valid JSON. */
  position: number;
  /** 1-based line and column of that character. */
  line: number;
  column: number;
  /** What was expected or found there, e.g. `unexpected character "}"`. */
  reason: string;
}

/**
 * Finds where JSON text first breaks. V8's own messages only sometimes carry a position
 * ("Unexpected token 'x', "…" is not valid JSON" has none), so the text is scanned with the grammar
 * of RFC 8259 (https://www.rfc-editor.org/rfc/rfc8259) to name the place every time.
 * Returns undefined when the text is valid JSON.
 */
export function locateJsonError(text: string): JsonErrorLocation | undefined {
  let index = 0;

  class Stop extends Error {
    constructor(readonly at: number, readonly reason: string) {
      super(reason);
    }
  }
  const describe = (at: number): string =>
    at >= text.length ? 'the file ends too early' : `unexpected character ${JSON.stringify(text[at])}`;
  const fail = (reason?: string): never => {
    throw new Stop(index, reason ?? describe(index));
  };
  const skipWhitespace = (): void => {
    while (index < text.length && ' \t\n\r'.includes(text[index] as string)) index += 1;
  };
  const expectLiteral = (word: string): void => {
    for (const char of word) {
      if (text[index] !== char) fail();
      index += 1;
    }
  };
  const parseString = (): void => {
    index += 1; // opening quote
    for (;;) {
      if (index >= text.length) fail('a string is not closed (missing ")');
      const char = text[index] as string;
      if (char === '"') {
        index += 1;
        return;
      }
      if (char === '\\') {
        const escape = text[index + 1];
        if (escape !== undefined && '"\\/bfnrt'.includes(escape)) {
          index += 2;
        } else if (escape === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(index + 2, index + 6))) {
          index += 6;
        } else {
          index += 1;
          fail('invalid escape sequence in a string');
        }
        continue;
      }
      if (char.charCodeAt(0) < 0x20) fail(char === '\n' ? 'a string is not closed before the end of the line' : 'control character in a string');
      index += 1;
    }
  };
  const parseNumber = (): void => {
    const match = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(index));
    if (!match || match[0] === '-' || match[0].length === 0) fail('invalid number');
    index += (match as RegExpExecArray)[0].length;
  };
  const parseValue = (): void => {
    skipWhitespace();
    const char = text[index];
    if (char === '{') return parseObject();
    if (char === '[') return parseArray();
    if (char === '"') return parseString();
    if (char === 't') return expectLiteral('true');
    if (char === 'f') return expectLiteral('false');
    if (char === 'n') return expectLiteral('null');
    if (char === '-' || (char !== undefined && char >= '0' && char <= '9')) return parseNumber();
    fail(index >= text.length ? 'the file ends where a value was expected' : `expected a value, found ${JSON.stringify(char)}`);
  };
  const parseObject = (): void => {
    index += 1;
    skipWhitespace();
    if (text[index] === '}') {
      index += 1;
      return;
    }
    for (;;) {
      skipWhitespace();
      if (text[index] !== '"') fail(text[index] === '}' ? 'trailing comma before "}"' : `expected a "quoted" key, found ${index >= text.length ? 'the end of the file' : JSON.stringify(text[index])}`);
      parseString();
      skipWhitespace();
      if (text[index] !== ':') fail(`expected ":" after the key, found ${index >= text.length ? 'the end of the file' : JSON.stringify(text[index])}`);
      index += 1;
      parseValue();
      skipWhitespace();
      if (text[index] === ',') {
        index += 1;
        continue;
      }
      if (text[index] === '}') {
        index += 1;
        return;
      }
      fail(`expected "," or "}" after a value, found ${index >= text.length ? 'the end of the file' : JSON.stringify(text[index])}`);
    }
  };
  const parseArray = (): void => {
    index += 1;
    skipWhitespace();
    if (text[index] === ']') {
      index += 1;
      return;
    }
    for (;;) {
      skipWhitespace();
      if (text[index] === ']') fail('trailing comma before "]"');
      parseValue();
      skipWhitespace();
      if (text[index] === ',') {
        index += 1;
        continue;
      }
      if (text[index] === ']') {
        index += 1;
        return;
      }
      fail(`expected "," or "]" after a value, found ${index >= text.length ? 'the end of the file' : JSON.stringify(text[index])}`);
    }
  };

  try {
    // A UTF-8 byte order mark is not JSON either, but editors add it: name it plainly.
    if (text.charCodeAt(0) === 0xfeff) fail('the file starts with a byte order mark (BOM); save it as UTF-8 without BOM');
    skipWhitespace();
    if (index >= text.length) fail('the file is empty');
    parseValue();
    skipWhitespace();
    if (index < text.length) fail(`unexpected ${JSON.stringify(text[index])} after the end of the JSON value`);
    return undefined;
  } catch (error) {
    if (!(error instanceof Stop)) throw error;
    return { position: error.at, ...lineAndColumn(text, error.at), reason: error.reason };
  }
}

function lineAndColumn(text: string, position: number): { line: number; column: number } {
  const before = text.slice(0, position);
  const line = before.split('\n').length;
  const column = position - (before.lastIndexOf('\n') + 1) + 1;
  return { line, column };
}

/** `['vault', 'tls', 'extraSans', 1]` → `vault.tls.extraSans[1]`; the empty path is the whole file. */
export function formatFieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else out += out === '' ? String(segment) : `.${String(segment)}`;
  }
  return out === '' ? '(the whole file)' : out;
}

/** Edit distance (insertions, deletions, substitutions), case-insensitive. */
export function editDistance(a: string, b: string): number {
  const left = a.toLowerCase();
  const right = b.toLowerCase();
  let previous = Array.from({ length: right.length + 1 }, (_, i) => i);
  for (let i = 1; i <= left.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= right.length; j += 1) {
      const cost = left[i - 1] === right[j - 1] ? 0 : 1;
      current[j] = Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, (previous[j - 1] as number) + cost);
    }
    previous = current;
  }
  return previous[right.length] as number;
}

/**
 * Candidates close to what was typed: by whole path (typos like `host.prot`) or by last segment
 * (`port` → `host.port`, `vault.apiPort`). Best first, at most `limit`.
 */
export function closeMatches(typed: string, candidates: readonly string[], limit = 4): string[] {
  const typedLast = typed.split('.').at(-1)?.toLowerCase() ?? '';
  const scored = candidates
    .map((candidate) => {
      const last = candidate.split('.').at(-1)?.toLowerCase() ?? '';
      const whole = editDistance(typed, candidate);
      const tail = editDistance(typedLast, last);
      const contains = typedLast.length >= 3 && last.includes(typedLast) ? 1 : Number.POSITIVE_INFINITY;
      return { candidate, score: Math.min(whole, tail + 0.5, contains) };
    })
    .filter(({ candidate, score }) => score <= Math.max(2, Math.floor(Math.min(typed.length, candidate.length) / 3)));
  scored.sort((a, b) => a.score - b.score || a.candidate.localeCompare(b.candidate));
  return scored.slice(0, limit).map(({ candidate }) => candidate);
}
