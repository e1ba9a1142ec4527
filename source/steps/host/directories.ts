/**
 * host.directories: the server's directories (config, tls, policy, plugin, data, log) owned by
 * its user and group (vault:vault, openbao:openbao) with mode 0750. Only the directories themselves are changed: nothing inside them is
 * chmod/chown-ed (the key file in tls/ has its own, stricter, mode).
 */
import { UserError } from '../../core/errors.js';
import type { Check, Planned, Step, StepContext } from '../../core/step.js';
import type { FileStat } from '../../services/host/transport.js';
import { sh } from '../../services/host/shell-quote.js';
import { parseStatLine, STAT_FORMAT } from '../../services/host/shell-file-ops.js';
import { hostRun } from './facts.js';
import { VAULT, type ServerFlavor } from '../../core/server.js';
import { hostLayout } from './layout.js';

export const DIRECTORY_MODE = 0o750;

export interface DirectoryState {
  path: string;
  stat: FileStat;
}

function octal(mode: number): string {
  return `0${mode.toString(8).padStart(3, '0')}`;
}

/** What is wrong with one directory, or undefined when it is as wanted. */
export function directoryProblem(entry: DirectoryState, server: ServerFlavor = VAULT): string | undefined {
  const { path, stat } = entry;
  const { user: serverUser, group: serverGroup } = server;
  if (!stat.exists) return `${path} is missing`;
  if (stat.type !== 'directory') return `${path} is a ${stat.type ?? 'file'}, not a directory`;
  const problems: string[] = [];
  if (stat.owner !== serverUser || stat.group !== serverGroup) problems.push(`owned by ${stat.owner ?? stat.uid}:${stat.group ?? stat.gid}`);
  if (stat.mode !== DIRECTORY_MODE) problems.push(`mode ${octal(stat.mode ?? 0)}`);
  return problems.length > 0 ? `${path} is ${problems.join(', ')}, want ${serverUser}:${serverGroup} ${octal(DIRECTORY_MODE)}` : undefined;
}

/** One `stat` per directory in a single command (a check runs on every re-check; round trips add up). */
async function inspect(ctx: StepContext): Promise<DirectoryState[]> {
  const paths = hostLayout(ctx.profile).directories;
  // sudo: below a 0750 vault directory nothing is visible to the login user. Not following
  // symlinks: a symlink where a directory belongs is reported as one.
  const stdout = await hostRun(
    ctx,
    'looking at the directories',
    sh`for d in ${paths}; do LC_ALL=C stat -c ${STAT_FORMAT} -- "$d" 2>/dev/null || echo missing; done`,
    { sudo: true, echo: 'none', timeoutMs: 30_000 },
  );
  const lines = stdout.split('\n');
  return paths.map((path, index) => {
    const stat = parseStatLine(lines[index] ?? 'missing');
    return { path, stat: stat ?? { exists: false } };
  });
}

function refuseNonDirectories(states: readonly DirectoryState[]): void {
  const blocked = states.find((s) => s.stat.exists && s.stat.type !== 'directory');
  if (blocked) {
    throw new UserError(`${blocked.path} exists on the host but is a ${blocked.stat.type ?? 'file'}, not a directory`, {
      hint: 'move it out of the way (it is not removed automatically, it may be yours), then run the setup again',
    });
  }
}

export function directoriesStep(server: ServerFlavor): Step {
  const { user: serverUser, group: serverGroup } = server;
  return {
  id: 'host.directories',
  phase: 'host',
  title: `Create ${server.name}'s directories (${serverUser}:${serverGroup} ${octal(DIRECTORY_MODE)})`,
  describe(ctx): Planned[] {
    return hostLayout(ctx.profile).directories.map((path) => ({
      kind: 'command',
      summary: `mkdir -p ${path}; chown ${serverUser}:${serverGroup}; chmod ${octal(DIRECTORY_MODE)}`,
    }));
  },
  async check(ctx): Promise<Check> {
    const states = await inspect(ctx);
    refuseNonDirectories(states);
    const problems = states.map((state) => directoryProblem(state, server)).filter((p): p is string => p !== undefined);
    if (problems.length === 0) return { state: 'done', detail: `${states.length} directories ${serverUser}:${serverGroup} ${octal(DIRECTORY_MODE)}` };
    const missing = states.filter((s) => !s.stat.exists).length;
    return { state: missing === states.length ? 'todo' : 'drift', detail: problems.join('; ') };
  },
  async apply(ctx) {
    const states = await inspect(ctx);
    refuseNonDirectories(states);
    for (const state of states) {
      const problem = directoryProblem(state, server);
      if (!problem) continue;
      ctx.log.info(state.stat.exists ? `fixing ${problem}` : `creating ${state.path}`);
      await hostRun(
        ctx,
        `preparing ${state.path}`,
        sh`set -e; mkdir -p -- ${state.path}; chown -- ${`${serverUser}:${serverGroup}`} ${state.path}; chmod -- ${octal(DIRECTORY_MODE)} ${state.path}`,
        { sudo: true, echo: 'info', timeoutMs: 30_000 },
      );
    }
  },
};
}
