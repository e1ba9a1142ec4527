import { describe, expect, it } from 'vitest';
import { closeMatches, formatFieldPath, locateJsonError } from '../../source/profile/format.js';

describe('locateJsonError (RFC 8259 grammar)', () => {
  it('accepts valid JSON', () => {
    for (const text of ['{}', '[]', ' {"a": [1, -2.5e3, true, false, null, "x\\u00e9\\n"]}\n', '"s"', '0']) {
      expect(locateJsonError(text)).toBeUndefined();
      expect(() => JSON.parse(text)).not.toThrow();
    }
  });

  it.each([
    ['{"a": 1,}', 'trailing comma before "}"', 1, 9],
    ['{\n  "a": tru\n}', 'unexpected character "\\n"', 2, 11],
    ['{"a" 1}', 'expected ":" after the key, found "1"', 1, 6],
    ["{'a': 1}", 'expected a "quoted" key, found "\'"', 1, 2],
    ['{"a": 1', 'expected "," or "}" after a value, found the end of the file', 1, 8],
    ['', 'the file is empty', 1, 1],
    ['{"a": "x\ny"}', 'a string is not closed before the end of the line', 1, 9],
    ['{} {}', 'unexpected "{" after the end of the JSON value', 1, 4],
    ['[1, 2,]', 'trailing comma before "]"', 1, 7],
    ['{"a": 01}', 'expected "," or "}" after a value, found "1"', 1, 8],
    ['\ufeff{}', 'the file starts with a byte order mark (BOM); save it as UTF-8 without BOM', 1, 1],
  ])('%j → %s at line %i column %i', (text, reason, line, column) => {
    expect(() => JSON.parse(text)).toThrow();
    expect(locateJsonError(text)).toMatchObject({ reason, line, column });
  });
});

describe('field paths and suggestions', () => {
  it('formats paths as users type them', () => {
    expect(formatFieldPath(['vault', 'tls', 'extraSans', 1])).toBe('vault.tls.extraSans[1]');
    expect(formatFieldPath([])).toBe('(the whole file)');
  });

  it('suggests close keys by typo or by last segment', () => {
    const keys = ['host.port', 'host.address', 'vault.apiPort', 'vault.clusterPort', 'cluster.context'];
    expect(closeMatches('host.prot', keys)[0]).toBe('host.port');
    expect(closeMatches('port', keys)).toEqual(expect.arrayContaining(['host.port', 'vault.apiPort']));
    expect(closeMatches('vault.adress', keys)).toContain('host.address');
    expect(closeMatches('zzzzzz', keys)).toEqual([]);
  });
});
