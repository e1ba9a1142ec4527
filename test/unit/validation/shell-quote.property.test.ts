/**
 * Property: for any string without NUL, `shellQuote` makes one shell word that a real POSIX shell
 * turns back into exactly that string — here with /bin/sh and dash on this machine (the lab host's
 * sh over SSH: test/e2e/validation/shell-quote-lab.test.ts). fast-check: https://fast-check.dev/
 * POSIX single quotes: https://pubs.opengroup.org/onlinepubs/9799919799/utilities/V3_chap02.html#tag_19_02_02
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { shellQuote, sh } from '../../../source/services/host/shell-quote.js';
import { printScript, shellValue, splitPrinted } from './shell-quote-property.js';

const SHELLS = ['/bin/sh', '/bin/dash', '/bin/bash'].filter((shell) => existsSync(shell));

describe('shellQuote round-trips through a real shell', () => {
  for (const shell of SHELLS) {
    it(`${shell} -c: batches of arbitrary strings come back byte for byte`, { timeout: 60_000 }, () => {
      fc.assert(
        fc.property(fc.array(shellValue, { minLength: 1, maxLength: 25 }), (values) => {
          const output = execFileSync(shell, ['-c', printScript(values.map(shellQuote))], { maxBuffer: 16 * 1024 * 1024 });
          expect(splitPrinted(output)).toEqual(values);
        }),
        { numRuns: 150 },
      );
    });
  }

  it('the sh tag quotes every interpolation the same way (a value never becomes syntax)', () => {
    fc.assert(
      fc.property(shellValue, shellValue, (first, second) => {
        const output = execFileSync('/bin/sh', ['-c', sh`printf '%s\\000' ${first} ${[second, first]}`]);
        expect(splitPrinted(output)).toEqual([first, second, first]);
      }),
      { numRuns: 100 },
    );
  });

  it('a NUL is refused with a clear message (the shell would cut the value short)', () => {
    expect(() => shellQuote('a\u0000b')).toThrow(/contains a NUL byte/);
  });
});
