/**
 * Booting and stopping the lab host: systemd-nspawn runs the prepared root filesystem with real
 * systemd as PID 1, sharing this machine's network (https://www.freedesktop.org/software/systemd/man/systemd-nspawn.html).
 */
import { spawn } from 'node:child_process';
import { open, readFile } from 'node:fs/promises';
import { realpathSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { LAB_HOSTNAME } from './prepare.js';
import { CommandError, childrenOf, containerAlive, isAlive, isOurs, pidNamespaceOf, stopProcess, waitForExit } from './process.js';
import { sshRun, waitForSsh, type SshTarget } from './ssh.js';

export interface BootedMachine {
  nspawnPid: number;
  /** The container's init (systemd): it outlives nspawn if nspawn is killed, so it is killed with it. */
  leaderPid: number | undefined;
}

/** The node binary running this code; the host gets it read-only as /usr/local/bin/node. */
export function nodeBinary(): string {
  return realpathSync(process.execPath);
}

/** Starts systemd-nspawn detached (own session, output to `consoleLog`) and returns its pid. */
export async function bootMachine(options: { root: string; machine: string; consoleLog: string }): Promise<number> {
  const output = await open(options.consoleLog, 'a', 0o644);
  try {
    const child = spawn(
      'systemd-nspawn',
      [
        // No machined, no dbus on this machine: don't register, and stay in the caller's cgroup.
        '--register=no',
        '--keep-unit',
        '--boot',
        `--directory=${options.root}`,
        `--machine=${options.machine}`,
        `--hostname=${LAB_HOSTNAME}`,
        `--bind-ro=${nodeBinary()}:/usr/local/bin/node`,
        // The container's journal stays inside it: nothing is linked into this machine's /var/log/journal.
        '--link-journal=no',
        // Boot messages go to our log file; nothing reads the console.
        '--console=read-only',
      ],
      { detached: true, stdio: ['ignore', output.fd, output.fd], env: { ...process.env, TERM: 'dumb', SYSTEMD_COLORS: '0' } },
    );
    const pid = child.pid;
    if (pid === undefined) {
      const error = await new Promise<Error>((resolve) => child.once('error', resolve));
      throw new Error(`could not start systemd-nspawn: ${error.message}`);
    }
    child.unref();
    return pid;
  } finally {
    await output.close();
  }
}

/**
 * The container's init once nspawn has started it: nspawn's child that lives in a pid namespace of
 * its own (a first child of nspawn still in ours only prepares the container, then exits).
 */
export async function findLeader(nspawnPid: number, timeoutMs = 10_000): Promise<number | undefined> {
  const deadline = Date.now() + timeoutMs;
  const ours = await pidNamespaceOf(nspawnPid);
  while (Date.now() < deadline && (await isAlive(nspawnPid))) {
    for (const child of await childrenOf(nspawnPid)) {
      const namespace = await pidNamespaceOf(child);
      if (namespace !== undefined && namespace !== ours) return child;
    }
    await sleep(50);
  }
  return undefined;
}

const ANSI = /\u001b\[[0-9;?]*[A-Za-z]/g;

export async function consoleTail(consoleLog: string, lines = 40): Promise<string> {
  const text = await readFile(consoleLog, 'utf8').catch(() => '(no console log)');
  return text.replace(ANSI, '').split('\n').slice(-lines).join('\n');
}

/**
 * Waits until sshd answers and systemd finished starting up: `systemctl is-system-running --wait`
 * prints `running` or `degraded` (some unit failed; reported, accepted). Anything else, a dead
 * nspawn or the time running out is an error carrying the console's last lines.
 */
export async function waitUntilReady(
  target: SshTarget,
  machine: { nspawnPid: number; consoleLog: string },
  timeoutMs: number,
): Promise<{ state: 'running' | 'degraded'; failedUnits: string[] }> {
  const deadline = Date.now() + timeoutMs;
  const fail = async (why: string): Promise<never> => {
    throw new Error(`the lab host did not come up: ${why}\n--- console (${machine.consoleLog}) ---\n${await consoleTail(machine.consoleLog)}`);
  };
  try {
    await waitForSsh(target.address, target.port, timeoutMs, () => isAlive(machine.nspawnPid));
  } catch (error) {
    return fail((error as Error).message);
  }
  const left = Math.max(5, Math.round((deadline - Date.now()) / 1000));
  let state: string;
  try {
    // `is-system-running` exits non-zero for every state but `running`; its output is the answer.
    const result = await sshRun(target, `timeout ${left} systemctl is-system-running --wait`, { timeoutMs: (left + 10) * 1000 }).catch(
      (error: unknown) => {
        if (error instanceof CommandError && error.stdout.trim()) return { stdout: error.stdout, stderr: error.stderr };
        throw error;
      },
    );
    state = result.stdout.trim().split('\n').pop() ?? '';
  } catch (error) {
    return fail(`ssh to the host failed: ${(error as Error).message}`);
  }
  if (state !== 'running' && state !== 'degraded') return fail(`systemctl is-system-running says "${state}"`);
  let failedUnits: string[] = [];
  if (state === 'degraded') {
    const { stdout } = await sshRun(target, 'systemctl --failed --no-legend --plain');
    failedUnits = stdout
      .split('\n')
      .map((line) => line.trim().split(/\s+/)[0] ?? '')
      .filter(Boolean);
  }
  return { state, failedUnits };
}

/**
 * Powers the host off the way a user would (`systemctl poweroff` over SSH) and waits for nspawn to
 * exit; only if it does not, stops it by signal (nspawn turns SIGTERM into an orderly shutdown of the
 * container), then kills it and the container's init.
 */
export async function shutdownMachine(
  target: SshTarget | undefined,
  machine: { nspawnPid: number; leaderPid: number | undefined; pidNamespace: string | undefined; root: string },
): Promise<'not-running' | 'powered-off' | 'terminated' | 'killed'> {
  // The init is killed along with nspawn only while that pid is still the container's init.
  const leaderIsOurs = (): Promise<boolean> => containerAlive(machine.leaderPid, machine.pidNamespace);
  if (!(await isOurs(machine.nspawnPid, machine.root))) {
    // nspawn is gone; if it was killed, the container's init can outlive it. Killing the init of a
    // pid namespace kills every process in it (pid_namespaces(7)).
    if (machine.leaderPid !== undefined && (await leaderIsOurs())) {
      await stopProcess(machine.leaderPid, 0);
      return 'killed';
    }
    return 'not-running';
  }
  if (target) {
    // The connection may drop while the host goes down, so an error can still mean "asked";
    // only an error from before the command ran (no connection, refused login) means it was not.
    const asked = await sshRun(target, 'sudo -n systemctl poweroff', { timeoutMs: 15_000 }).then(
      () => true,
      (error: unknown) => !/connect to host|Connection refused|Permission denied|Host key verification failed|HOST IDENTIFICATION/i.test((error as CommandError).stderr ?? ''),
    );
    if (asked && (await waitForExit(machine.nspawnPid, 30_000))) return 'powered-off';
  }
  const leader = machine.leaderPid !== undefined && (await leaderIsOurs()) ? [machine.leaderPid] : [];
  return (await stopProcess(machine.nspawnPid, 20_000, leader)) === 'exited' ? 'terminated' : 'killed';
}
