// A small HCL (v1 syntax, as Vault reads it) parser for the subset Vault server configs and
// ACL policies use: attributes, blocks with string/identifier labels, strings, numbers, bools,
// lists, inline objects, heredocs and the three comment styles (#, //, /* */).
// Reference: https://github.com/hashicorp/hcl/blob/hcl1/README.md (HCL v1 syntax) and
// https://developer.hashicorp.com/vault/docs/configuration

export type HclValue = string | number | boolean | HclValue[] | HclObject;
export interface HclObject {
  [key: string]: HclValue;
}

/** One `name "label" ... { body }` block, in source order. */
export interface HclBlock {
  type: string;
  labels: string[];
  body: HclBody;
}

export interface HclBody {
  attributes: Record<string, HclValue>;
  blocks: HclBlock[];
}

export class HclSyntaxError extends Error {
  constructor(
    readonly line: number,
    readonly column: number,
    detail: string,
  ) {
    // Vault prints parse errors as "At LINE:COL: detail".
    super(`At ${line}:${column}: ${detail}`);
  }
}

type TokenKind = 'ident' | 'string' | 'number' | 'bool' | 'punct' | 'heredoc' | 'eof';
interface Token {
  kind: TokenKind;
  text: string;
  value?: string | number | boolean;
  line: number;
  column: number;
}

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let index = 0;
  let line = 1;
  let column = 1;

  const advance = (count: number): void => {
    for (let i = 0; i < count; i++) {
      if (source[index] === '\n') {
        line++;
        column = 1;
      } else {
        column++;
      }
      index++;
    }
  };

  while (index < source.length) {
    const char = source[index]!;
    const startLine = line;
    const startColumn = column;

    if (char === ' ' || char === '\t' || char === '\r' || char === '\n') {
      advance(1);
      continue;
    }
    if (char === '#' || (char === '/' && source[index + 1] === '/')) {
      while (index < source.length && source[index] !== '\n') advance(1);
      continue;
    }
    if (char === '/' && source[index + 1] === '*') {
      const end = source.indexOf('*/', index + 2);
      if (end === -1) throw new HclSyntaxError(startLine, startColumn, 'comment not terminated');
      advance(end + 2 - index);
      continue;
    }
    if ('{}[]=,:'.includes(char)) {
      tokens.push({ kind: 'punct', text: char, line: startLine, column: startColumn });
      advance(1);
      continue;
    }
    if (char === '"') {
      let value = '';
      advance(1);
      for (;;) {
        if (index >= source.length || source[index] === '\n') {
          throw new HclSyntaxError(startLine, startColumn, 'literal not terminated');
        }
        const c = source[index]!;
        if (c === '"') {
          advance(1);
          break;
        }
        if (c === '\\') {
          const escaped = source[index + 1];
          const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', '"': '"', '\\': '\\' };
          if (escaped !== undefined && escaped in simple) {
            value += simple[escaped];
            advance(2);
            continue;
          }
          if (escaped === 'u') {
            const hex = source.slice(index + 2, index + 6);
            if (!/^[0-9a-fA-F]{4}$/.test(hex)) {
              throw new HclSyntaxError(line, column, 'invalid unicode escape');
            }
            value += String.fromCharCode(parseInt(hex, 16));
            advance(6);
            continue;
          }
          throw new HclSyntaxError(line, column, `unknown escape sequence \\${escaped ?? ''}`);
        }
        value += c;
        advance(1);
      }
      tokens.push({ kind: 'string', text: value, value, line: startLine, column: startColumn });
      continue;
    }
    if (char === '<' && source[index + 1] === '<') {
      // Heredoc: <<EOF ... EOF (or <<-EOF, which strips the common indentation).
      const header = /^<<(-?)([A-Za-z_][A-Za-z0-9_]*)\r?\n/.exec(source.slice(index));
      if (!header) throw new HclSyntaxError(startLine, startColumn, 'invalid heredoc anchor');
      const indented = header[1] === '-';
      const anchor = header[2]!;
      advance(header[0].length);
      const lines: string[] = [];
      for (;;) {
        if (index >= source.length) throw new HclSyntaxError(startLine, startColumn, 'heredoc not terminated');
        const newline = source.indexOf('\n', index);
        const rawLine = source.slice(index, newline === -1 ? source.length : newline).replace(/\r$/, '');
        advance((newline === -1 ? source.length : newline + 1) - index);
        if (rawLine.trim() === anchor) break;
        lines.push(rawLine);
      }
      let body = lines;
      if (indented) {
        const indents = lines.filter((l) => l.trim() !== '').map((l) => /^\s*/.exec(l)![0].length);
        const common = indents.length ? Math.min(...indents) : 0;
        body = lines.map((l) => l.slice(common));
      }
      const value = body.length ? `${body.join('\n')}\n` : '';
      tokens.push({ kind: 'heredoc', text: value, value, line: startLine, column: startColumn });
      continue;
    }
    const number = /^-?(0x[0-9a-fA-F]+|\d+(\.\d+)?([eE][+-]?\d+)?)/.exec(source.slice(index));
    if (number && (char === '-' || /\d/.test(char))) {
      const text = number[0];
      tokens.push({ kind: 'number', text, value: Number(text), line: startLine, column: startColumn });
      advance(text.length);
      continue;
    }
    const ident = /^[A-Za-z_][A-Za-z0-9_\-.]*/.exec(source.slice(index));
    if (ident) {
      const text = ident[0];
      if (text === 'true' || text === 'false') {
        tokens.push({ kind: 'bool', text, value: text === 'true', line: startLine, column: startColumn });
      } else {
        tokens.push({ kind: 'ident', text, line: startLine, column: startColumn });
      }
      advance(text.length);
      continue;
    }
    throw new HclSyntaxError(startLine, startColumn, `illegal char ${JSON.stringify(char)}`);
  }
  tokens.push({ kind: 'eof', text: '', line, column });
  return tokens;
}

class Parser {
  private position = 0;
  constructor(private readonly tokens: Token[]) {}

  private peek(): Token {
    return this.tokens[this.position]!;
  }
  private next(): Token {
    return this.tokens[this.position++]!;
  }
  private fail(token: Token, expected: string): never {
    const got = token.kind === 'eof' ? 'EOF' : token.kind === 'punct' ? token.text : `${token.kind.toUpperCase()} ${JSON.stringify(token.text)}`;
    throw new HclSyntaxError(token.line, token.column, `expected: ${expected} got: ${got}`);
  }
  /** hcl v1's objectItem error for a token that cannot start a value: "Unknown token: 3:1 RBRACE }". */
  private unknown(token: Token): never {
    const names: Record<string, string> = { '}': 'RBRACE', ']': 'RBRACK', ',': 'COMMA', '=': 'ASSIGN', '{': 'LBRACE', '[': 'LBRACK' };
    const type = token.kind === 'eof' ? 'EOF' : token.kind === 'punct' ? (names[token.text] ?? 'ILLEGAL') : token.kind.toUpperCase();
    throw new HclSyntaxError(token.line, token.column, `Unknown token: ${token.line}:${token.column} ${type} ${token.kind === 'eof' ? '' : token.text}`.trimEnd());
  }
  private isPunct(token: Token, text: string): boolean {
    return token.kind === 'punct' && token.text === text;
  }

  parseBody(closing: boolean): HclBody {
    const body: HclBody = { attributes: {}, blocks: [] };
    for (;;) {
      const token = this.peek();
      if (token.kind === 'eof') {
        if (closing) this.fail(token, 'RBRACE');
        return body;
      }
      if (this.isPunct(token, '}')) {
        if (!closing) this.fail(token, 'IDENT | STRING');
        this.next();
        return body;
      }
      if (token.kind !== 'ident' && token.kind !== 'string') this.fail(token, 'IDENT | STRING');
      this.next();
      const key = token.text;
      const after = this.peek();
      if (this.isPunct(after, '=') || this.isPunct(after, ':')) {
        this.next();
        body.attributes[key] = this.parseValue();
      } else {
        const labels: string[] = [];
        while (this.peek().kind === 'string' || this.peek().kind === 'ident') {
          labels.push(this.next().text);
        }
        const open = this.next();
        if (!this.isPunct(open, '{')) this.fail(open, 'ASSIGN | LBRACE');
        body.blocks.push({ type: key, labels, body: this.parseBody(true) });
      }
      if (this.isPunct(this.peek(), ',')) this.next();
    }
  }

  private parseValue(): HclValue {
    const token = this.next();
    switch (token.kind) {
      case 'string':
      case 'heredoc':
      case 'number':
      case 'bool':
        return token.value!;
      case 'punct':
        if (token.text === '[') return this.parseList();
        if (token.text === '{') return this.parseObject();
        return this.unknown(token);
      default:
        return this.unknown(token);
    }
  }

  private parseList(): HclValue[] {
    const items: HclValue[] = [];
    for (;;) {
      if (this.isPunct(this.peek(), ']')) {
        this.next();
        return items;
      }
      items.push(this.parseValue());
      const separator = this.peek();
      if (this.isPunct(separator, ',')) {
        this.next();
      } else if (!this.isPunct(separator, ']')) {
        this.fail(separator, 'COMMA | RBRACK');
      }
    }
  }

  private parseObject(): HclObject {
    const body = this.parseBody(true);
    const object: HclObject = { ...body.attributes };
    for (const block of body.blocks) {
      object[[block.type, ...block.labels].join('.')] = blockToObject(block.body);
    }
    return object;
  }
}

function blockToObject(body: HclBody): HclObject {
  const object: HclObject = { ...body.attributes };
  for (const block of body.blocks) object[[block.type, ...block.labels].join('.')] = blockToObject(block.body);
  return object;
}

export function parseHcl(source: string): HclBody {
  return new Parser(tokenize(source)).parseBody(false);
}
