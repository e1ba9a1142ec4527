/**
 * File operations on the host written as POSIX shell commands, so that they work the same over SSH,
 * locally and through sudo (a root-owned file cannot be written with the login user's fs calls).
 * File content always travels on stdin/stdout, never in the command line.
 *
 * The one atomic write of the product: the data goes to a temp file created by `mktemp` in the target's
 * directory (rename is only atomic within one file system), which gets its owner and mode, is flushed
 * to disk, and is then renamed over the target. A crash at any point leaves either the old file or the
 * new one, never a half-written file. As root (sudo) it writes only into a directory nobody but
 * root can change (root-safe.ts): there, nobody can swap the temp file for a symlink between its
 * creation and the chown/chmod/mv that follow.
 */
import { posix } from 'node:path';
import { InputError, UserError } from '../../core/errors.js';
import type { RawExecResult } from './exec-support.js';
import { notSymlinkGuard, trustedDirectoryGuard } from './root-safe.js';
import { sh } from './shell-quote.js';
import type { FileStat, FileType, WriteFileOptions } from './transport.js';

export type RawExec = (
  command: string,
  options: { sudo?: boolean; stdin?: Buffer; signal?: AbortSignal },
) => Promise<RawExecResult>;

const MISSING = /No such file or directory|Not a directory/;

/** `stat -c` format of the fields parseStatLine reads: type|mode|uid|gid|user|group|size. */
export const STAT_FORMAT = '%F|%a|%u|%g|%U|%G|%s';

/** One line of `stat -c STAT_FORMAT` output; undefined when it is not such a line. */
export function parseStatLine(line: string): FileStat | undefined {
  const fields = line.trim().split('|');
  if (fields.length !== 7) return undefined;
  const [type, mode, uid, gid, owner, group, size] = fields as [string, string, string, string, string, string, string];
  return {
    exists: true,
    type: fileType(type),
    mode: Number.parseInt(mode, 8),
    uid: Number(uid),
    gid: Number(gid),
    // stat prints UNKNOWN for an id with no name.
    ...(owner !== 'UNKNOWN' ? { owner } : {}),
    ...(group !== 'UNKNOWN' ? { group } : {}),
    size: Number(size),
  };
}

/** `%F` file type names of GNU and BusyBox stat. */
function fileType(name: string): FileType {
  if (name === 'regular file' || name === 'regular empty file') return 'file';
  if (name === 'directory') return 'directory';
  if (name === 'symbolic link') return 'symlink';
  return 'other';
}

function checkPath(path: string, field = 'path'): void {
  if (path.length === 0) throw new InputError('a file path on the host is empty', { field });
  if (/[\u0000\n]/.test(path)) throw new InputError('a file path on the host contains a newline or NUL character', { field });
}

function firstErrorLine(stderr: Buffer): string {
  return (
    stderr
      .toString('utf8')
      .split('\n')
      .map((line) => line.trim())
      .find((line) => line.length > 0) ?? 'no error message'
  );
}

export class ShellFileOps {
  constructor(
    private readonly run: RawExec,
    /** e.g. `pi@10.0.0.11` or `this machine`, for messages. */
    private readonly where: string,
  ) {}

  async readFile(path: string, options: { sudo?: boolean; signal?: AbortSignal } = {}): Promise<Buffer> {
    checkPath(path);
    // As root a symlink is not followed: it could make root read (and the product show) any file.
    const command = options.sudo ? `${notSymlinkGuard(path)}\n${sh`LC_ALL=C cat -- ${path}`}` : sh`LC_ALL=C cat -- ${path}`;
    const result = await this.run(command, { sudo: options.sudo, signal: options.signal });
    if (result.code === 0) return result.stdout;
    if (MISSING.test(result.stderr.toString('utf8'))) {
      throw new UserError(`${path} does not exist on ${this.where}`, {
        hint: 'run the setup steps that create it, or check the path in the profile',
      });
    }
    throw new UserError(`cannot read ${path} on ${this.where}: ${firstErrorLine(result.stderr)}`, {
      hint: options.sudo ? undefined : 'the file may be readable by root only',
    });
  }

  async stat(path: string, options: { sudo?: boolean; signal?: AbortSignal } = {}): Promise<FileStat> {
    checkPath(path);
    // Not following symlinks (lstat), so a symlink is reported as one.
    const result = await this.run(sh`LC_ALL=C stat -c ${STAT_FORMAT} -- ${path}`, {
      sudo: options.sudo,
      signal: options.signal,
    });
    if (result.code !== 0) {
      if (MISSING.test(result.stderr.toString('utf8'))) return { exists: false };
      throw new UserError(`cannot inspect ${path} on ${this.where}: ${firstErrorLine(result.stderr)}`);
    }
    const stat = parseStatLine(result.stdout.toString('utf8'));
    if (!stat) throw new Error(`unexpected stat output for ${path}: ${result.stdout.toString('utf8')}`);
    return stat;
  }

  async writeFile(path: string, data: string | Buffer, options: WriteFileOptions & { signal?: AbortSignal }): Promise<void> {
    checkPath(path);
    if (!Number.isInteger(options.mode) || options.mode < 0 || options.mode > 0o7777) {
      throw new InputError(`file mode for ${path} must be an octal permission such as 0o640`, { field: 'mode' });
    }
    const directory = posix.dirname(path);
    // Hidden, recognisable, and short enough for any file name length limit.
    const template = posix.join(directory, `.${posix.basename(path).slice(0, 40)}.tmp.XXXXXXXX`);
    const modeText = `0${options.mode.toString(8)}`;
    const ownership =
      options.owner || options.group
        ? sh`chown -h -- ${`${options.owner ?? ''}${options.group ? `:${options.group}` : ''}`} "$tmp"`
        : ':';
    const script = [
      'set -e',
      options.sudo ? trustedDirectoryGuard(directory) : ':',
      // mv onto a directory would move the file into it instead of replacing anything.
      sh`if [ -d ${path} ]; then echo ${`${path} is a directory`} >&2; exit 1; fi`,
      sh`tmp=$(mktemp -- ${template})`,
      `trap 'rm -f -- "$tmp"' EXIT`,
      'cat > "$tmp"',
      ownership,
      // chmod after chown: chown clears setuid/setgid bits.
      sh`chmod -- ${modeText} "$tmp"`,
      // Flush the data before the rename makes it visible (coreutils >= 8.24 fsyncs named files).
      'sync -- "$tmp" 2>/dev/null || :',
      // -T: the target is replaced as a name (a symlink there is replaced, not followed), never entered.
      sh`mv -f -T -- "$tmp" ${path}`,
      'trap - EXIT',
      // Persist the rename itself (fsync of the directory).
      sh`sync -- ${directory} 2>/dev/null || :`,
    ].join('\n');
    const stdin = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    const result = await this.run(`LC_ALL=C; export LC_ALL\n${script}`, { sudo: options.sudo, stdin, signal: options.signal });
    if (result.code !== 0) {
      throw new UserError(`cannot write ${path} on ${this.where}: ${firstErrorLine(result.stderr)}`, {
        hint: options.sudo ? 'check that the directory exists' : 'files outside your home usually need sudo; check that the directory exists',
      });
    }
  }
}
