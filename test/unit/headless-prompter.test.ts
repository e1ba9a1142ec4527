import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../source/core/errors.js';
import { createHeadlessPrompter } from '../../source/core/headless-prompter.js';

/** A non-terminal input and a captured stderr, as under CI or a pipe. */
function streams(): { input: NodeJS.ReadStream; output: NodeJS.WriteStream; text: () => string } {
  const input = new PassThrough() as unknown as NodeJS.ReadStream;
  const sink = new PassThrough();
  const chunks: Buffer[] = [];
  sink.on('data', (chunk: Buffer) => chunks.push(chunk));
  return { input, output: sink as unknown as NodeJS.WriteStream, text: () => Buffer.concat(chunks).toString('utf8') };
}

describe('headless prompter without a terminal', () => {
  it('fails with a message naming the question (without its trailing colon) and a hint', async () => {
    const { input, output } = streams();
    const prompt = createHeadlessPrompter({ assumeYes: false, input, output });
    const error = await prompt.secret('sudo password on the host:').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).message).toBe('this needs an answer and there is no terminal to ask: sudo password on the host');
    expect((error as InputError).hint).toMatch(/terminal/);
  });

  it('--yes takes a safe default, but never answers a question that has none', async () => {
    const { input, output } = streams();
    const prompt = createHeadlessPrompter({ assumeYes: true, input, output });
    await expect(prompt.confirm('Install missing tools with apt?', { defaultValue: true })).resolves.toBe(true);
    await expect(prompt.confirm('Trust the SSH host key?', { defaultValue: false })).resolves.toBe(false);
    await expect(prompt.confirm('Delete everything?')).rejects.toBeInstanceOf(InputError);
    await expect(prompt.text('Kubernetes API address', { defaultValue: 'https://10.0.0.1:6443', validate: () => 'unreachable' })).rejects.toBeInstanceOf(InputError);
  });

  it('revealOnce prints where the material is kept, and the material itself only when asked to', async () => {
    const quiet = streams();
    await createHeadlessPrompter({ assumeYes: true, input: quiet.input, output: quiet.output }).revealOnce({
      title: 'Unseal keys and root token',
      lines: ['key 1: abcdef0123456789'],
      note: 'kept in /custody/init.json',
    });
    expect(quiet.text()).toContain('kept in /custody/init.json');
    expect(quiet.text()).not.toContain('abcdef0123456789');

    const shown = streams();
    await createHeadlessPrompter({ assumeYes: true, input: shown.input, output: shown.output, showRevealed: true }).revealOnce({
      title: 'Unseal keys and root token',
      lines: ['key 1: abcdef0123456789'],
      note: 'kept in /custody/init.json',
    });
    expect(shown.text()).toContain('key 1: abcdef0123456789');
  });

  it('revealOnce prints the last copy (custody failed) even without --show-keys', async () => {
    const last = streams();
    await createHeadlessPrompter({ assumeYes: true, input: last.input, output: last.output }).revealOnce({
      title: 'Vault was initialized but its keys could NOT be saved in custody: copy them now',
      lines: ['Unseal Key 1: abcdef0123456789'],
      note: 'these lines are the only copy',
      lastCopy: true,
    });
    expect(last.text()).toContain('  Unseal Key 1: abcdef0123456789\n');
  });
});
