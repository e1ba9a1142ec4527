import { describe, expect, it } from 'vitest';
import { REDACTED, Redactor } from '../../source/core/redact.js';

describe('Redactor', () => {
  it('masks every occurrence of every registered secret', () => {
    const redactor = new Redactor();
    redactor.register('s3cr3t-pass');
    redactor.register('hvs.tokenvalue');
    expect(redactor.redact('user pi pass s3cr3t-pass token hvs.tokenvalue again s3cr3t-pass')).toBe(
      `user pi pass ${REDACTED} token ${REDACTED} again ${REDACTED}`,
    );
  });

  it('masks the longer secret whole when one secret contains another', () => {
    const redactor = new Redactor();
    redactor.register('abcd');
    redactor.register('abcdefgh');
    expect(redactor.redact('x abcdefgh y abcd')).toBe(`x ${REDACTED} y ${REDACTED}`);
  });

  it('treats regular-expression characters in secrets literally', () => {
    const redactor = new Redactor();
    redactor.register('a.b*c+(d)$');
    expect(redactor.redact('see a.b*c+(d)$ and aXbbc')).toBe(`see ${REDACTED} and aXbbc`);
  });

  it('registers the trimmed value too (typed passwords often end in a newline)', () => {
    const redactor = new Redactor();
    redactor.register('hunter22\n');
    expect(redactor.redact('password=hunter22.')).toBe(`password=${REDACTED}.`);
  });

  it('ignores values too short to be secrets and leaves text alone when nothing is registered', () => {
    const redactor = new Redactor();
    expect(redactor.redact('nothing here')).toBe('nothing here');
    redactor.register('ab');
    expect(redactor.size).toBe(0);
    expect(redactor.redact('ab ab')).toBe('ab ab');
  });
});
