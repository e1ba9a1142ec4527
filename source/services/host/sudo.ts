/**
 * Running commands as root on the host, the same way for SSH and local transports.
 *
 * `sudo -n` (never prompt) is tried first. When the host says a password is required, the password is
 * asked once through a callback, checked, kept in memory only, and fed as the first line of standard
 * input: `sudo -S -k -p '' -- /bin/sh -c <command>`. `-S` reads it from stdin (sudo reads it one byte at
 * a time up to the newline, so the rest of stdin reaches the command untouched), `-k` makes sudo ask
 * even when it has cached credentials, so the password line is always consumed by sudo and never
 * leaks into the command's input, `-p ''` keeps the prompt out of stderr.
 * See sudo(8): https://www.sudo.ws/docs/man/sudo.man/
 *
 * A login as root runs commands directly (a minimal host may have no sudo at all).
 */
import { UserError } from '../../core/errors.js';
import type { RawExecResult } from './exec-support.js';
import { sh } from './shell-quote.js';

/** Runs a command line as the login user (no sudo), with optional stdin. */
export type PlainRunner = (commandLine: string, options: { stdin?: Buffer; signal?: AbortSignal }) => Promise<RawExecResult>;

export type SudoMode = 'root' | 'nopasswd' | 'password';

export interface SudoWrapped {
  /** Command line for the login user's /bin/sh. */
  commandLine: string;
  /** Bytes to send before the command's own stdin (the password line), if any. */
  stdinPrefix?: Buffer;
}

const ROOT_MARK = 'picluster-vault-tui:uid0';

/**
 * What sudo runs (as root, with the command in $1). sudo relays a cancel signal only to its direct
 * child, and a shell does not pass signals on to the command it waits for, so the grandchildren would
 * survive. This shell runs the command in the background (its stdin handed over explicitly through
 * fd 3, as `&` would otherwise give it /dev/null) and, on a signal, signals its whole process group as
 * root, which the login user could not do.
 */
const ROOT_SIDE = [
  'exec 3<&0',
  '/bin/sh -c "$1" <&3 3<&- &',
  'exec 3<&-',
  "trap 'trap - HUP INT TERM; kill -TERM 0' HUP INT TERM",
  'wait $!',
].join('\n');

export class SudoSession {
  private mode: Promise<SudoMode> | undefined;
  private password: string | undefined;

  constructor(
    private readonly runPlain: PlainRunner,
    private readonly askSudoPassword: (() => Promise<string>) | undefined,
    /** e.g. `pi@10.0.0.11`, for messages. */
    private readonly where: string,
  ) {}

  /** The command line that runs `command` as root, probing the host the first time. */
  async wrap(command: string, signal?: AbortSignal): Promise<SudoWrapped> {
    const mode = await this.resolveMode(signal);
    switch (mode) {
      case 'root':
        return { commandLine: command };
      case 'nopasswd':
        return { commandLine: sh`sudo -n -- /bin/sh -c ${ROOT_SIDE} sh ${command}` };
      case 'password':
        return {
          commandLine: sh`sudo -S -k -p '' -- /bin/sh -c ${ROOT_SIDE} sh ${command}`,
          stdinPrefix: Buffer.from(`${this.password ?? ''}\n`, 'utf8'),
        };
    }
  }

  /** How sudo works on this host (probes once; a failed probe is retried on the next call). */
  resolveMode(signal?: AbortSignal): Promise<SudoMode> {
    if (!this.mode) {
      this.mode = this.probe(signal);
      this.mode.catch(() => {
        this.mode = undefined;
      });
    }
    return this.mode;
  }

  private async probe(signal?: AbortSignal): Promise<SudoMode> {
    const probe = await this.runPlain(
      sh`if [ "$(id -u)" = 0 ]; then echo ${ROOT_MARK}; exit 0; fi; LC_ALL=C sudo -n -- /bin/sh -c true`,
      { signal },
    );
    const stdout = probe.stdout.toString('utf8');
    const stderr = probe.stderr.toString('utf8').trim();
    if (probe.code === 0) return stdout.includes(ROOT_MARK) ? 'root' : 'nopasswd';
    if (probe.code === 127 || /sudo: (not found|command not found)/.test(stderr)) {
      throw new UserError(`sudo is not installed on ${this.where}`, {
        hint: 'install it as root (apt-get install sudo) and add the login user to the sudo group, or log in as root',
      });
    }
    if (/password is required/i.test(stderr)) {
      await this.acquirePassword(signal);
      return 'password';
    }
    throw notAllowed(this.where, stderr);
  }

  private async acquirePassword(signal?: AbortSignal): Promise<void> {
    if (!this.askSudoPassword) {
      throw new UserError(`sudo on ${this.where} needs a password and none can be asked here`, {
        hint: 'run interactively so the password can be asked, or allow the login user passwordless sudo (NOPASSWD) for the setup',
      });
    }
    const password = await this.askSudoPassword();
    if (password.includes('\n') || password.includes('\u0000')) {
      throw new UserError('the sudo password cannot contain a newline or NUL character');
    }
    // Check it with a command that reads nothing else: a wrong password must never be followed by
    // real data on stdin, which sudo would otherwise read as further password attempts.
    const check = await this.runPlain(sh`LC_ALL=C sudo -S -k -p '' -- /bin/sh -c true`, {
      stdin: Buffer.from(`${password}\n`, 'utf8'),
      signal,
    });
    if (check.code === 0) {
      this.password = password;
      return;
    }
    const stderr = check.stderr.toString('utf8').trim();
    if (/incorrect password|try again|no password was provided|authentication fail/i.test(stderr)) {
      throw new UserError(`the sudo password for ${this.where} is wrong`, {
        hint: 'type the password of the login user on the host (the one sudo asks for); nothing was run as root',
      });
    }
    throw notAllowed(this.where, stderr);
  }
}

function notAllowed(where: string, stderr: string): UserError {
  const firstLine = stderr.split('\n').find((line) => line.trim().length > 0) ?? 'sudo failed';
  return new UserError(`cannot run commands as root on ${where}: ${firstLine}`, {
    hint: 'allow the login user to use sudo (e.g. add it to the sudo group: usermod -aG sudo USER), or log in as root',
  });
}

/** The command line and stdin for one exec: wrapped in sudo when asked, the password line first. */
export async function prepareCommand(
  sudo: SudoSession,
  command: string,
  options: { sudo?: boolean; stdin?: Buffer; signal?: AbortSignal },
): Promise<{ commandLine: string; stdin: Buffer | undefined }> {
  if (!options.sudo) return { commandLine: command, stdin: options.stdin };
  const wrapped = await sudo.wrap(command, options.signal);
  const stdin = wrapped.stdinPrefix ? Buffer.concat([wrapped.stdinPrefix, options.stdin ?? Buffer.alloc(0)]) : options.stdin;
  return { commandLine: wrapped.commandLine, stdin };
}
