/**
 * host.directories: the server's directories, 0750: the config tree (config, tls, policy, plugin)
 * root:<group>, so the server reads it and nobody but root changes it; the data and log directories
 * <user>:<group> (vault:vault, openbao:openbao), the only ones the server writes. An install from
 * before this split (everything <user>:<group>) is drift and is migrated by the normal fix. Only the
 * directories themselves are changed: nothing inside them is chmod/chown-ed (the key file in tls/
 * has its own, stricter, mode).
 *
 * A symlink where a directory belongs is refused, never followed. The change itself works on the
 * directory it has entered (`cd`, then `chown .`/`chmod .`), after proving that it is the one at the
 * path: a path swapped for a symlink after the check cannot redirect root's chown to another place.
 */
import { UserError } from '../../core/errors.js';
import type { Check, Planned, Step, StepContext } from '../../core/step.js';
import type { FileStat } from '../../services/host/transport.js';
import { sh } from '../../services/host/shell-quote.js';
import { parseStatLine, STAT_FORMAT } from '../../services/host/shell-file-ops.js';
import { hostRun } from './facts.js';
import { VAULT, type ServerFlavor } from '../../core/server.js';
import { directoryOwner, hostLayout } from './layout.js';

export const DIRECTORY_MODE = 0o750;

export interface DirectoryState {
  path: string;
  stat: FileStat;
  /** Who should own it: root or the server's account. */
  owner: string;
}

function octal(mode: number): string {
  return `0${mode.toString(8).padStart(3, '0')}`;
}

/** What is wrong with one directory, or undefined when it is as wanted. */
export function directoryProblem(entry: DirectoryState, server: ServerFlavor = VAULT): string | undefined {
  const { path, stat, owner } = entry;
  const group = server.group;
  if (!stat.exists) return `${path} is missing`;
  if (stat.type !== 'directory') return `${path} is a ${stat.type ?? 'file'}, not a directory`;
  const problems: string[] = [];
  if (stat.owner !== owner || stat.group !== group) problems.push(`owned by ${stat.owner ?? stat.uid}:${stat.group ?? stat.gid}`);
  if (stat.mode !== DIRECTORY_MODE) problems.push(`mode ${octal(stat.mode ?? 0)}`);
  return problems.length > 0 ? `${path} is ${problems.join(', ')}, want ${owner}:${group} ${octal(DIRECTORY_MODE)}` : undefined;
}

/** One `stat` per directory in a single command (a check runs on every re-check; round trips add up). */
async function inspect(ctx: StepContext): Promise<DirectoryState[]> {
  const layout = hostLayout(ctx.profile);
  const paths = layout.directories;
  // sudo: below a 0750 directory nothing is visible to the login user. Not following symlinks: a
  // symlink where a directory belongs is reported as one.
  const stdout = await hostRun(
    ctx,
    'looking at the directories',
    sh`for d in ${paths}; do LC_ALL=C stat -c ${STAT_FORMAT} -- "$d" 2>/dev/null || echo missing; done`,
    { sudo: true, echo: 'none', timeoutMs: 30_000 },
  );
  const lines = stdout.split('\n');
  return paths.map((path, index) => {
    const stat = parseStatLine(lines[index] ?? 'missing');
    return { path, stat: stat ?? { exists: false }, owner: directoryOwner(layout, path) };
  });
}

function refuseNonDirectories(states: readonly DirectoryState[]): void {
  const blocked = states.find((s) => s.stat.exists && s.stat.type !== 'directory');
  if (blocked) {
    const what = blocked.stat.type === 'symlink' ? 'a symbolic link (root does not follow it)' : `a ${blocked.stat.type ?? 'file'}`;
    throw new UserError(`${blocked.path} exists on the host but is ${what}, not a directory`, {
      hint: 'look at what it is and who made it, move it out of the way (it is not removed automatically, it may be yours), then run the setup again',
    });
  }
}

/**
 * mkdir, then owner and mode set on the directory entered, once its device and inode are the ones
 * of the path itself (lstat): not so when the path is, or was swapped for, a symlink.
 */
export function prepareDirectoryCommand(path: string, owner: string, group: string): string {
  return [
    'set -e',
    sh`mkdir -p -- ${path}`,
    sh`cd -P -- ${path}`,
    sh`if [ "$(stat -c %d:%i .)" != "$(stat -c %d:%i -- ${path})" ]; then echo ${`${path} is not the directory entered (a symbolic link?): not changed`} >&2; exit 1; fi`,
    sh`chown -- ${`${owner}:${group}`} .`,
    sh`chmod -- ${octal(DIRECTORY_MODE)} .`,
  ].join('\n');
}

export function directoriesStep(server: ServerFlavor): Step {
  const { user: serverUser, group: serverGroup } = server;
  return {
    id: 'host.directories',
    phase: 'host',
    title: `Create ${server.name}'s directories (root:${serverGroup} config, ${serverUser}:${serverGroup} data, ${octal(DIRECTORY_MODE)})`,
    describe(ctx): Planned[] {
      const layout = hostLayout(ctx.profile);
      return layout.directories.map((path) => ({
        kind: 'command',
        summary: `mkdir -p ${path}; chown ${directoryOwner(layout, path)}:${serverGroup}; chmod ${octal(DIRECTORY_MODE)}`,
      }));
    },
    async check(ctx): Promise<Check> {
      const states = await inspect(ctx);
      refuseNonDirectories(states);
      const problems = states.map((state) => directoryProblem(state, server)).filter((p): p is string => p !== undefined);
      if (problems.length === 0) return { state: 'done', detail: `${states.length} directories ${octal(DIRECTORY_MODE)}: config root:${serverGroup}, data and logs ${serverUser}:${serverGroup}` };
      const missing = states.filter((s) => !s.stat.exists).length;
      return { state: missing === states.length ? 'todo' : 'drift', detail: problems.join('; ') };
    },
    async apply(ctx) {
      const states = await inspect(ctx);
      refuseNonDirectories(states);
      // In layout order: the config directory becomes root's before anything below it is changed.
      for (const state of states) {
        const problem = directoryProblem(state, server);
        if (!problem) continue;
        ctx.log.info(state.stat.exists ? `fixing ${problem}` : `creating ${state.path}`);
        await hostRun(ctx, `preparing ${state.path}`, prepareDirectoryCommand(state.path, state.owner, serverGroup), { sudo: true, echo: 'info', timeoutMs: 30_000 });
      }
    },
  };
}
