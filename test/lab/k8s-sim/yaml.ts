// A YAML subset, enough for Kubernetes manifests and kubeconfig files (https://yaml.org/spec/1.2.2/):
// block mappings and sequences, plain/single/double-quoted scalars with the core schema's types,
// flow collections ([...] and {...}), literal (|) and folded (>) block scalars, comments and `---`
// document markers. Anchors, aliases and tags are refused loudly instead of being misread.

export class YamlError extends Error {
  constructor(message: string, line: number) {
    super(`yaml: line ${line + 1}: ${message}`);
  }
}

interface Line {
  indent: number;
  text: string; // without indentation and trailing comment
  number: number;
}

/** Strips a trailing ` # comment` that is outside quotes. */
function stripComment(text: string): string {
  let quote: string | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === quote) {
        if (quote === "'" && text[i + 1] === "'") i++;
        else quote = null;
      } else if (c === '\\' && quote === '"') i++;
    } else if (c === '"' || c === "'") {
      // A quote only opens a quoted scalar at the start of a token.
      if (i === 0 || /[\s:[{,-]/.test(text[i - 1]!)) quote = c;
    } else if (c === '#' && (i === 0 || /\s/.test(text[i - 1]!))) {
      return text.slice(0, i).trimEnd();
    }
  }
  return text.trimEnd();
}

/** Splits a stream into documents (on `---` lines) and parses each; empty documents are skipped. */
export function parseAllYaml(source: string): unknown[] {
  const documents: string[][] = [[]];
  for (const raw of source.replace(/^\uFEFF/, '').split(/\r?\n/)) {
    if (/^---(\s|$)/.test(raw)) {
      documents.push([]);
      const rest = raw.slice(3).trim();
      if (rest && !rest.startsWith('#')) documents[documents.length - 1]!.push(rest);
      continue;
    }
    if (/^\.\.\.(\s|$)/.test(raw)) continue;
    documents[documents.length - 1]!.push(raw);
  }
  return documents.map((lines) => parseDocument(lines)).filter((doc) => doc !== undefined && doc !== null);
}

/** Parses one YAML document (JSON is YAML too). */
export function parseYaml(source: string): unknown {
  const docs = parseAllYaml(source);
  if (docs.length > 1) throw new YamlError('expected one document, found several', 0);
  return docs[0] ?? null;
}

function parseDocument(rawLines: string[]): unknown {
  const lines: Line[] = [];
  rawLines.forEach((raw, number) => {
    if (raw.includes('\t') && /^\s*\t/.test(raw)) throw new YamlError('tabs are not allowed for indentation', number);
    const indent = raw.length - raw.trimStart().length;
    lines.push({ indent, text: raw.slice(indent), number });
  });
  const parser = new BlockParser(lines);
  const value = parser.parseDocument();
  return value;
}

class BlockParser {
  private index = 0;
  constructor(private readonly lines: Line[]) {}

  private isBlank(line: Line): boolean {
    return stripComment(line.text) === '';
  }

  private skipBlank(): void {
    while (this.index < this.lines.length && this.isBlank(this.lines[this.index]!)) this.index++;
  }

  parseDocument(): unknown {
    this.skipBlank();
    if (this.index >= this.lines.length) return undefined;
    const value = this.parseNode(this.lines[this.index]!.indent);
    this.skipBlank();
    if (this.index < this.lines.length) throw new YamlError('unexpected content (bad indentation?)', this.lines[this.index]!.number);
    return value;
  }

  /** Parses the block node that starts at the current line, indented exactly `indent`. */
  private parseNode(indent: number): unknown {
    this.skipBlank();
    const line = this.lines[this.index]!;
    const text = stripComment(line.text);
    if (text === '-' || text.startsWith('- ')) return this.parseSequence(line.indent);
    if (findMappingColon(text) >= 0) return this.parseMapping(line.indent);
    // A multi-line plain or quoted scalar at block level.
    const parts: string[] = [];
    while (this.index < this.lines.length) {
      const current = this.lines[this.index]!;
      if (this.isBlank(current)) break;
      if (current.indent < indent) break;
      parts.push(stripComment(current.text));
      this.index++;
    }
    return parseInlineValue(parts.join(' '), line.number);
  }

  private parseSequence(indent: number): unknown[] {
    const items: unknown[] = [];
    for (;;) {
      this.skipBlank();
      const line = this.lines[this.index];
      if (!line || line.indent !== indent) break;
      const text = stripComment(line.text);
      if (!(text === '-' || text.startsWith('- '))) break;
      const rest = text === '-' ? '' : text.slice(2);
      const restTrimmed = rest.trimStart();
      if (restTrimmed === '') {
        this.index++;
        this.skipBlank();
        const next = this.lines[this.index];
        items.push(next && next.indent > indent ? this.parseNode(next.indent) : null);
        continue;
      }
      // "- key: value" or "- - x": the item is a block node whose first line sits after "- ".
      const innerIndent = indent + 2 + (rest.length - restTrimmed.length);
      if (restTrimmed === '-' || restTrimmed.startsWith('- ') || findMappingColon(restTrimmed) >= 0) {
        this.lines[this.index] = { indent: innerIndent, text: restTrimmed, number: line.number };
        items.push(this.parseNode(innerIndent));
        continue;
      }
      this.index++;
      items.push(this.parseScalarWithContinuation(restTrimmed, indent, line.number));
    }
    return items;
  }

  private parseMapping(indent: number): Record<string, unknown> {
    const map: Record<string, unknown> = {};
    for (;;) {
      this.skipBlank();
      const line = this.lines[this.index];
      if (!line || line.indent !== indent) break;
      const text = stripComment(line.text);
      const colon = findMappingColon(text);
      if (colon < 0) {
        if (text === '-' || text.startsWith('- ')) break;
        throw new YamlError(`expected "key: value", found ${JSON.stringify(text)}`, line.number);
      }
      const key = String(parseInlineValue(text.slice(0, colon).trim(), line.number));
      if (Object.prototype.hasOwnProperty.call(map, key)) throw new YamlError(`mapping key ${JSON.stringify(key)} already defined`, line.number);
      const rest = text.slice(colon + 1).trim();
      this.index++;
      if (rest === '') {
        this.skipBlank();
        const next = this.lines[this.index];
        if (next && next.indent > indent) map[key] = this.parseNode(next.indent);
        else if (next && next.indent === indent && (stripComment(next.text) === '-' || stripComment(next.text).startsWith('- '))) {
          // Kubernetes style: a sequence may sit at the same indentation as its key.
          map[key] = this.parseSequence(indent);
        } else map[key] = null;
        continue;
      }
      if (/^[|>]/.test(rest)) {
        map[key] = this.parseBlockScalar(rest, indent, line.number);
        continue;
      }
      map[key] = this.parseScalarWithContinuation(rest, indent, line.number);
    }
    return map;
  }

  /** A value on the key's line, possibly continued on more-indented lines (plain or quoted). */
  private parseScalarWithContinuation(first: string, indent: number, number: number): unknown {
    const parts = [first];
    const opensFlow = /^[[{]/.test(first);
    const opensQuote = /^["']/.test(first);
    while (this.index < this.lines.length) {
      const next = this.lines[this.index]!;
      if (next.indent <= indent && !this.isBlank(next)) break;
      if (this.isBlank(next)) {
        // Blank lines inside a multi-line scalar are line breaks; after it they end the value.
        const after = this.lines.slice(this.index).find((l) => !this.isBlank(l));
        if (!after || after.indent <= indent) break;
        parts.push('\n');
        this.index++;
        continue;
      }
      if (!opensFlow && !opensQuote && findMappingColon(stripComment(next.text)) >= 0) break;
      parts.push(opensQuote ? next.text.trimEnd() : stripComment(next.text));
      this.index++;
    }
    const joined = parts.reduce((acc, part) => (part === '\n' ? `${acc}\n` : acc === '' || acc.endsWith('\n') ? acc + part : `${acc} ${part}`), '');
    return parseInlineValue(joined, number);
  }

  private parseBlockScalar(header: string, indent: number, number: number): string {
    const match = /^([|>])([+-]?)(\d?)([+-]?)$/.exec(header);
    if (!match) throw new YamlError(`bad block scalar header ${JSON.stringify(header)}`, number);
    const folded = match[1] === '>';
    const chomp = match[2] || match[4] || '';
    const explicit = match[3] ? Number(match[3]) : 0;
    const body: string[] = [];
    let blockIndent = explicit ? indent + explicit : -1;
    while (this.index < this.lines.length) {
      const line = this.lines[this.index]!;
      const raw = ' '.repeat(line.indent) + line.text;
      if (line.text.trim() === '') {
        body.push('');
        this.index++;
        continue;
      }
      if (blockIndent < 0) blockIndent = line.indent;
      if (line.indent < blockIndent || line.indent <= indent) break;
      body.push(raw.slice(blockIndent));
      this.index++;
    }
    // Trailing blank lines belong to chomping, not to the content.
    let trailing = 0;
    while (body.length && body[body.length - 1] === '') {
      body.pop();
      trailing++;
    }
    let text: string;
    if (folded) {
      text = '';
      body.forEach((line, i) => {
        if (i === 0) text = line;
        else if (line === '' || line.startsWith(' ') || body[i - 1] === '' || body[i - 1]!.startsWith(' ')) text += `\n${line}`;
        else text += ` ${line}`;
      });
    } else text = body.join('\n');
    if (body.length === 0) return '';
    if (chomp === '-') return text;
    if (chomp === '+') return `${text}\n${'\n'.repeat(trailing)}`;
    return `${text}\n`;
  }
}

/** Index of the ": " (or final ":") that separates a mapping key from its value, or -1. */
function findMappingColon(text: string): number {
  if (/^[[{]/.test(text)) return -1;
  let quote: string | null = null;
  if (text.startsWith('"') || text.startsWith("'")) {
    quote = text[0]!;
    for (let i = 1; i < text.length; i++) {
      if (text[i] === '\\' && quote === '"') {
        i++;
        continue;
      }
      if (text[i] === quote) {
        if (quote === "'" && text[i + 1] === "'") {
          i++;
          continue;
        }
        const after = text.slice(i + 1).trimStart();
        return after.startsWith(':') && (after.length === 1 || /\s/.test(after[1]!)) ? text.indexOf(':', i + 1) : -1;
      }
    }
    return -1;
  }
  for (let i = 0; i < text.length; i++) {
    if (text[i] === ':' && (i === text.length - 1 || text[i + 1] === ' ')) return i;
  }
  return -1;
}

/** Parses a scalar or a flow collection written on one line. */
export function parseInlineValue(text: string, number = 0): unknown {
  const trimmed = text.trim();
  if (/^[&*!]/.test(trimmed) && !/^!!(str|int|bool|float|null|map|seq)\b/.test(trimmed)) {
    throw new YamlError(`anchors, aliases and tags are not supported: ${JSON.stringify(trimmed.slice(0, 20))}`, number);
  }
  if (trimmed.startsWith('!!str ')) return String(parseInlineValue(trimmed.slice(6), number));
  if (/^!!(int|bool|float|null|map|seq) /.test(trimmed)) return parseInlineValue(trimmed.replace(/^!!\w+ /, ''), number);
  const flow = new FlowParser(trimmed, number);
  const value = flow.parseValue();
  flow.expectEnd();
  return value;
}

class FlowParser {
  private pos = 0;
  constructor(private readonly text: string, private readonly line: number) {}

  private fail(message: string): never {
    throw new YamlError(message, this.line);
  }

  private skipSpace(): void {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos]!)) this.pos++;
  }

  expectEnd(): void {
    this.skipSpace();
    if (this.pos < this.text.length) this.fail(`unexpected ${JSON.stringify(this.text.slice(this.pos, this.pos + 20))}`);
  }

  parseValue(inFlow = false): unknown {
    this.skipSpace();
    const c = this.text[this.pos];
    if (c === '[') return this.parseFlowSequence();
    if (c === '{') return this.parseFlowMapping();
    if (c === '"') return this.parseDoubleQuoted();
    if (c === "'") return this.parseSingleQuoted();
    return resolvePlain(this.parsePlain(inFlow));
  }

  private parsePlain(inFlow: boolean): string {
    const start = this.pos;
    while (this.pos < this.text.length) {
      const c = this.text[this.pos]!;
      if (inFlow && (c === ',' || c === ']' || c === '}')) break;
      if (inFlow && c === ':' && (this.pos + 1 >= this.text.length || /[\s,\]}]/.test(this.text[this.pos + 1]!))) break;
      this.pos++;
    }
    return this.text.slice(start, this.pos).trim();
  }

  private parseDoubleQuoted(): string {
    this.pos++;
    let out = '';
    while (this.pos < this.text.length) {
      const c = this.text[this.pos++]!;
      if (c === '"') return out;
      if (c !== '\\') {
        out += c;
        continue;
      }
      const e = this.text[this.pos++];
      const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', '"': '"', '\\': '\\', '/': '/', '0': '\0', ' ': ' ', b: '\b', f: '\f', e: '\x1b', a: '\x07', v: '\v', N: '\u0085', _: '\u00a0' };
      if (e !== undefined && simple[e] !== undefined) out += simple[e];
      else if (e === 'x' || e === 'u' || e === 'U') {
        const length = e === 'x' ? 2 : e === 'u' ? 4 : 8;
        const hex = this.text.slice(this.pos, this.pos + length);
        if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== length) this.fail('bad escape');
        out += String.fromCodePoint(parseInt(hex, 16));
        this.pos += length;
      } else this.fail(`unknown escape \\${e ?? ''}`);
    }
    return this.fail('unterminated double-quoted string');
  }

  private parseSingleQuoted(): string {
    this.pos++;
    let out = '';
    while (this.pos < this.text.length) {
      const c = this.text[this.pos++]!;
      if (c === "'") {
        if (this.text[this.pos] === "'") {
          out += "'";
          this.pos++;
          continue;
        }
        return out;
      }
      out += c;
    }
    return this.fail('unterminated single-quoted string');
  }

  private parseFlowSequence(): unknown[] {
    this.pos++;
    const items: unknown[] = [];
    for (;;) {
      this.skipSpace();
      if (this.text[this.pos] === ']') {
        this.pos++;
        return items;
      }
      items.push(this.parseValue(true));
      this.skipSpace();
      if (this.text[this.pos] === ',') this.pos++;
      else if (this.text[this.pos] !== ']') this.fail('expected , or ] in flow sequence');
    }
  }

  private parseFlowMapping(): Record<string, unknown> {
    this.pos++;
    const map: Record<string, unknown> = {};
    for (;;) {
      this.skipSpace();
      if (this.text[this.pos] === '}') {
        this.pos++;
        return map;
      }
      const key = String(this.parseValue(true));
      this.skipSpace();
      if (this.text[this.pos] === ':') {
        this.pos++;
        map[key] = this.parseValue(true);
      } else map[key] = null;
      this.skipSpace();
      if (this.text[this.pos] === ',') this.pos++;
      else if (this.text[this.pos] !== '}') this.fail('expected , or } in flow mapping');
    }
  }
}

/** The YAML 1.2 core schema's resolution of plain scalars. */
function resolvePlain(text: string): unknown {
  if (text === '' || text === '~' || /^(null|Null|NULL)$/.test(text)) return null;
  if (/^(true|True|TRUE)$/.test(text)) return true;
  if (/^(false|False|FALSE)$/.test(text)) return false;
  if (/^[-+]?[0-9]+$/.test(text)) return Number(text);
  if (/^0o[0-7]+$/.test(text)) return parseInt(text.slice(2), 8);
  if (/^0x[0-9a-fA-F]+$/.test(text)) return parseInt(text.slice(2), 16);
  if (/^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/.test(text)) return Number(text);
  if (/^[-+]?\.(inf|Inf|INF)$/.test(text)) return text.startsWith('-') ? -Infinity : Infinity;
  if (/^\.(nan|NaN|NAN)$/.test(text)) return NaN;
  return text;
}

/** Writes JSON-compatible data as block YAML (for files a user reads, such as kubeconfig). */
export function stringifyYaml(value: unknown, indent = 0): string {
  const pad = ' '.repeat(indent);
  if (Array.isArray(value)) {
    if (value.length === 0) return `${pad}[]\n`;
    return value
      .map((item) => {
        if (item && typeof item === 'object' && !Array.isArray(item) && Object.keys(item).length) {
          const inner = stringifyYaml(item, indent + 2);
          return `${pad}- ${inner.slice(indent + 2)}`;
        }
        return `${pad}- ${scalarYaml(item)}\n`;
      })
      .join('');
  }
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    if (entries.length === 0) return `${pad}{}\n`;
    return entries
      .map(([key, item]) => {
        const k = scalarYaml(key);
        if (Array.isArray(item) && item.length) return `${pad}${k}:\n${stringifyYaml(item, indent)}`;
        if (item && typeof item === 'object' && !Array.isArray(item) && Object.keys(item).length) return `${pad}${k}:\n${stringifyYaml(item, indent + 2)}`;
        return `${pad}${k}: ${scalarYaml(item)}\n`;
      })
      .join('');
  }
  return `${pad}${scalarYaml(value)}\n`;
}

function scalarYaml(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) return '[]';
  if (typeof value === 'object') return '{}';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  const text = String(value);
  if (text === '' || resolvePlain(text) !== text || /^[\s\-?:,[\]{}#&*!|>'"%@`]|[:#]\s|\s$|[\n\t]|:$/.test(text)) return JSON.stringify(text);
  return text;
}
