/**
 * host.account: the server's system group and user (`vault` or `openbao`) it runs as, with no login shell.
 *
 * Home directory: /nonexistent, Debian's convention for system users that need none (Debian
 * Policy 9.2.2). The server never uses $HOME; pointing it at the raft data directory would invite
 * tools run as this user (the CLI's token helper, a shell history) to write files beside the
 * database.
 */
import { UserError } from '../../core/errors.js';
import type { Check, Planned, Step, StepContext } from '../../core/step.js';
import { sh } from '../../services/host/shell-quote.js';
import { hostExec, hostRun } from './facts.js';
import type { ServerFlavor } from '../../core/server.js';

export const VAULT_HOME = '/nonexistent';

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

export interface GroupEntry {
  name: string;
  gid: number;
}

export function parsePasswdLine(line: string): PasswdEntry | undefined {
  const fields = line.trim().split(':');
  if (fields.length < 7) return undefined;
  return { name: fields[0]!, uid: Number(fields[2]), gid: Number(fields[3]), home: fields[5]!, shell: fields[6]! };
}

export function parseGroupLine(line: string): GroupEntry | undefined {
  const fields = line.trim().split(':');
  if (fields.length < 3) return undefined;
  return { name: fields[0]!, gid: Number(fields[2]) };
}

/** Shells that refuse a login: nologin(8) and false(1) in any of their usual places. */
export function isNoLoginShell(shell: string): boolean {
  return /(^|\/)(nologin|false)$/.test(shell);
}

interface Account {
  user: PasswdEntry | undefined;
  group: GroupEntry | undefined;
}

async function lookUp(ctx: StepContext, server: ServerFlavor): Promise<Account> {
  const { user: serverUser, group: serverGroup } = server;
  const GROUP_MARK = '--- group ---';
  const result = await hostExec(ctx, sh`getent passwd ${serverUser}; echo ${GROUP_MARK}; getent group ${serverGroup}; :`, { echo: 'none', timeoutMs: 30_000 });
  if (result.code !== 0) throw new UserError(`cannot look up the ${serverUser} account on the host: ${result.stderr.trim()}`);
  const [passwd = '', group = ''] = result.stdout.split(`${GROUP_MARK}\n`);
  return { user: parsePasswdLine(passwd), group: parseGroupLine(group) };
}

function judge(account: Account, server: ServerFlavor): Check {
  const { user: serverUser, group: serverGroup } = server;
  const { user, group } = account;
  if (!group && !user) return { state: 'todo', detail: `no ${serverUser} user or group yet` };
  if (!group) return { state: 'todo', detail: `no ${serverGroup} group yet` };
  if (!user) return { state: 'todo', detail: `no ${serverUser} user yet` };
  if (!isNoLoginShell(user.shell)) return { state: 'drift', detail: `${serverUser} has the login shell ${user.shell}, want nologin` };
  if (user.gid !== group.gid) return { state: 'drift', detail: `${serverUser}'s primary group is gid ${user.gid}, want ${serverGroup} (${group.gid})` };
  return { state: 'done', detail: `${serverUser} (uid ${user.uid}, gid ${group.gid}, shell ${user.shell})` };
}

/** The first nologin-type shell the host has (Debian: /usr/sbin/nologin). */
const NOLOGIN_SHELL = `for s in /usr/sbin/nologin /sbin/nologin /bin/false; do if [ -x "$s" ]; then shell=$s; break; fi; done`;

export function accountStep(server: ServerFlavor): Step {
  const { user: serverUser, group: serverGroup } = server;
  return {
  id: 'host.account',
  phase: 'host',
  title: `Create the ${serverUser} system user and group`,
  describe(): Planned[] {
    return [
      { kind: 'command', summary: `groupadd --system ${serverGroup}` },
      { kind: 'command', summary: `useradd --system --gid ${serverGroup} --no-create-home --home-dir ${VAULT_HOME} --shell /usr/sbin/nologin ${serverUser}` },
    ];
  },
  async check(ctx) {
    return judge(await lookUp(ctx, server), server);
  },
  async apply(ctx) {
    const { user, group } = await lookUp(ctx, server);
    const run = (what: string, command: string) => hostRun(ctx, what, `set -e\n${NOLOGIN_SHELL}\n${command}`, { sudo: true, echo: 'info', timeoutMs: 60_000 });
    if (!group) {
      ctx.log.info(`groupadd --system ${serverGroup}`);
      await run('groupadd', sh`groupadd --system ${serverGroup}`);
    }
    if (!user) {
      ctx.log.info(`useradd --system ${serverUser} (no home, no login shell)`);
      await run(
        'useradd',
        sh`useradd --system --gid ${serverGroup} --no-create-home --home-dir ${VAULT_HOME} --shell "$shell" --comment ${server.fullName} ${serverUser}`,
      );
      return;
    }
    if (!isNoLoginShell(user.shell)) {
      ctx.log.info(`usermod --shell nologin ${serverUser} (was ${user.shell})`);
      await run('usermod --shell', sh`usermod --shell "$shell" ${serverUser}`);
    }
    const groupNow = group ?? (await lookUp(ctx, server)).group;
    if (groupNow && user.gid !== groupNow.gid) {
      ctx.log.info(`usermod --gid ${serverGroup} ${serverUser}`);
      await run('usermod --gid', sh`usermod --gid ${serverGroup} ${serverUser}`);
    }
  },
};
}
