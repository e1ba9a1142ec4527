/**
 * Property: shellQuote'd values come back byte for byte from the lab host's real `sh -c` over SSH
 * (OpenSSH runs the command line with the login shell, which hands it to sh as the product does).
 * Each run sends a batch of arbitrary strings in one command. fast-check: https://fast-check.dev/
 */
import { execFile } from 'node:child_process';
import fc from 'fast-check';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { shellQuote, sh } from '../../../source/services/host/shell-quote.js';
import { sshArgs } from '../../lab/host/ssh.js';
import { readLabState, sshTargetOf, type LabState } from '../../lab/lab.js';
import { printScript, shellValue, splitPrinted } from '../../unit/validation/shell-quote-property.js';

let lab: LabState;

/** Runs one command line on the lab host as pi; resolves with its raw stdout. */
function onHost(commandLine: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    execFile('ssh', [...sshArgs(sshTargetOf(lab)), '--', commandLine], { encoding: 'buffer', maxBuffer: 16 * 1024 * 1024, timeout: 30_000 }, (error, stdout, stderr) =>
      error ? reject(new Error(`${error.message}\n${stderr.toString('utf8')}`)) : resolve(stdout),
    );
  });
}

beforeAll(async () => {
  lab = await readLabState(process.env['LAB_DIR'] ?? inject('labDir'));
});

describe('shellQuote round-trips through sh -c on the lab host over SSH', () => {
  it('batches of arbitrary strings (quotes, newlines, $(), unicode) come back byte for byte', { timeout: 120_000 }, async () => {
    let checked = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(shellValue, { minLength: 1, maxLength: 30 }), async (values) => {
        // The whole script is itself one quoted word for the remote sh, as the product's transport sends it.
        const output = await onHost(sh`sh -c ${printScript(values.map(shellQuote))}`);
        expect(splitPrinted(output)).toEqual(values);
        checked += values.length;
      }),
      { numRuns: 40 },
    );
    console.log(`RELIABILITY ${JSON.stringify({ suite: 'shell-quote-lab', stringsRoundTripped: checked })}`);
  });
});
