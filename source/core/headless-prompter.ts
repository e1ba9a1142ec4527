/**
 * Answers step questions when there is no TUI (`setup --yes`, `unseal`, scripts). In a terminal it
 * asks on stderr and reads the answer (masked for secrets); without one it uses the question's
 * default under --yes, and otherwise fails with a message saying how to answer in advance.
 * Nothing here writes to stdout: stdout belongs to the command's own output (e.g. --json).
 */
import { InputError } from './errors.js';
import type { Prompter } from './step.js';

export interface HeadlessPrompterOptions {
  /** --yes: accept each question's default. Questions without a safe default still fail. */
  assumeYes: boolean;
  input?: NodeJS.ReadStream;
  output?: NodeJS.WriteStream;
  /** Called with every secret typed, so the redactor masks it. */
  registerSecret?: (value: string) => void;
  /** --show-keys: print revealed material (on stderr). Off by default: custody holds it. */
  showRevealed?: boolean;
}

export function createHeadlessPrompter(options: HeadlessPrompterOptions): Prompter {
  const input = options.input ?? process.stdin;
  const output = options.output ?? process.stderr;
  const interactive = Boolean(input.isTTY);

  const needsAnswer = (question: string, how: string): never => {
    // Questions end in ':' or '?' when asked; inside a sentence that punctuation reads wrong.
    throw new InputError(`this needs an answer and there is no terminal to ask: ${question.replace(/[\s:?]+$/, '')}`, { hint: how });
  };

  return {
    async confirm(question, { defaultValue, detail } = {}) {
      if (options.assumeYes && defaultValue !== undefined) return defaultValue;
      if (!interactive) return needsAnswer(question, 'run it in a terminal, or pass --yes where the default is safe');
      if (detail) output.write(`${detail}\n`);
      const hint = defaultValue === undefined ? 'y/n' : defaultValue ? 'Y/n' : 'y/N';
      for (;;) {
        const answer = (await readLine(input, output, `${question} [${hint}] `, false)).trim().toLowerCase();
        if (answer === '' && defaultValue !== undefined) return defaultValue;
        if (answer === 'y' || answer === 'yes') return true;
        if (answer === 'n' || answer === 'no') return false;
      }
    },
    async secret(question) {
      if (!interactive) return needsAnswer(question, 'run it in a terminal so it can be typed without echo');
      const value = await readLine(input, output, `${question} `, true);
      options.registerSecret?.(value);
      return value;
    },
    async revealOnce({ title, lines, note, lastCopy }) {
      output.write(`${title}\n`);
      // The only copy left is printed even without --show-keys: stderr is then the last place it is.
      if (options.showRevealed || lastCopy) for (const line of lines) output.write(`  ${line}\n`);
      output.write(`${note}\n`);
    },
    async text(question, { defaultValue, validate } = {}) {
      if (options.assumeYes && defaultValue !== undefined && !validate?.(defaultValue)) return defaultValue;
      if (!interactive) return needsAnswer(question, 'set the value in the profile first (profile set KEY=VALUE)');
      for (;;) {
        const raw = await readLine(input, output, `${question}${defaultValue ? ` [${defaultValue}]` : ''} `, false);
        const value = raw === '' && defaultValue !== undefined ? defaultValue : raw;
        const problem = validate?.(value);
        if (!problem) return value;
        output.write(`${problem}\n`);
      }
    },
  };
}

/** Reads one line from a TTY; with `masked`, echoes nothing (raw mode) so the secret never shows. */
function readLine(input: NodeJS.ReadStream, output: NodeJS.WriteStream, prompt: string, masked: boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    let value = '';
    const wasRaw = input.isRaw;
    // Echo off BEFORE the prompt appears: a key typed the moment the prompt shows must not be echoed.
    input.setRawMode?.(true);
    output.write(prompt);
    input.setEncoding('utf8');
    input.resume();
    const finish = (error?: Error): void => {
      input.off('data', onData);
      input.setRawMode?.(wasRaw);
      input.pause();
      output.write('\n');
      if (error) reject(error);
      else resolve(value);
    };
    const onData = (chunk: string): void => {
      for (const char of chunk) {
        if (char === '\r' || char === '\n') return finish();
        if (char === '\u0003') return finish(new InputError('cancelled at the prompt'));
        if (char === '\u007f' || char === '\b') {
          if (value.length > 0) {
            value = value.slice(0, -1);
            if (!masked) output.write('\b \b');
          }
          continue;
        }
        if (char < ' ') continue;
        value += char;
        if (!masked) output.write(char);
      }
    };
    input.on('data', onData);
  });
}
