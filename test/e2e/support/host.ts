/**
 * Looks at a lab host the way an administrator would: real OpenSSH as `pi` with strict host key
 * checking against the lab's known_hosts, and `sudo -n` for what only root may read. Every value in a
 * remote command line is quoted by the product's one quoting helper (`sh`).
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { sh } from '../../../source/services/host/shell-quote.js';
import { sshArgs, type SshTarget } from '../../lab/host/ssh.js';
import { sshTargetOf, type LabState } from '../../lab/lab.js';

export interface RemoteResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A file or directory as `find -printf` sees it. */
export interface FileEntry {
  path: string;
  /** f file, d directory, l symlink (find's %y). */
  type: string;
  owner: string;
  group: string;
  /** Octal permission bits, e.g. "750". */
  mode: string;
  size: number;
  /** Modification time, seconds with fraction (%T@). */
  mtime: string;
  inode: number;
}

export class LabHostShell {
  readonly target: SshTarget;

  constructor(readonly lab: LabState) {
    this.target = sshTargetOf(lab);
  }

  /** Runs a command line (quote values with `sh`); never throws on a non-zero exit. */
  exec(commandLine: string, options: { input?: string; timeoutMs?: number } = {}): Promise<RemoteResult> {
    return new Promise((resolve, reject) => {
      const child = execFile('ssh', [...sshArgs(this.target), '--', commandLine], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: options.timeoutMs ?? 60_000, killSignal: 'SIGKILL' }, (error, stdout, stderr) => {
        if (error && typeof error.code !== 'number') {
          reject(new Error(`ssh failed to run \`${commandLine}\`: ${error.message}\n${stderr}`));
          return;
        }
        resolve({ code: error ? (error.code as number) : 0, stdout, stderr });
      });
      child.stdin?.end(options.input ?? '');
    });
  }

  /** Runs a command line and returns its stdout; throws with its output unless it exits 0. */
  async run(commandLine: string, options: { input?: string; timeoutMs?: number } = {}): Promise<string> {
    const result = await this.exec(commandLine, options);
    if (result.code !== 0) throw new Error(`on the host, \`${commandLine}\` exited ${result.code}:\n${result.stdout}${result.stderr}`);
    return result.stdout;
  }

  /** `sudo -n sh -c COMMAND` — root without a password, which the lab's pi has. */
  sudo(commandLine: string, options: { input?: string; timeoutMs?: number } = {}): Promise<string> {
    return this.run(sh`sudo -n /bin/sh -c ${commandLine}`, options);
  }

  sudoExec(commandLine: string, options: { input?: string; timeoutMs?: number } = {}): Promise<RemoteResult> {
    return this.exec(sh`sudo -n /bin/sh -c ${commandLine}`, options);
  }

  /** Every entry under the given paths (recursively; missing paths are skipped), sorted by path. */
  async list(paths: readonly string[]): Promise<FileEntry[]> {
    const output = await this.sudo(sh`for p in ${paths}; do [ -e "$p" ] || [ -L "$p" ] || continue; find "$p" -printf '%p\\t%y\\t%u\\t%g\\t%m\\t%s\\t%T@\\t%i\\n'; done`);
    return output
      .split('\n')
      .filter((line) => line.length > 0)
      .map((line) => {
        const [path, type, owner, group, mode, size, mtime, inode] = line.split('\t') as [string, string, string, string, string, string, string, string];
        return { path, type, owner, group, mode, size: Number(size), mtime, inode: Number(inode) };
      })
      .sort((a, b) => a.path.localeCompare(b.path));
  }

  /** sha256 of each regular file under the given paths, keyed by path. */
  async sha256(paths: readonly string[]): Promise<Map<string, string>> {
    const output = await this.sudo(sh`for p in ${paths}; do [ -e "$p" ] || continue; find "$p" -type f -exec sha256sum {} +; done`);
    const sums = new Map<string, string>();
    for (const line of output.split('\n')) {
      const match = /^([0-9a-f]{64}) {2}(.+)$/.exec(line);
      if (match) sums.set(match[2]!, match[1]!);
    }
    return sums;
  }

  async readFile(path: string): Promise<string> {
    return this.sudo(sh`cat ${path}`);
  }

  async exists(path: string): Promise<boolean> {
    return (await this.sudoExec(sh`test -e ${path}`)).code === 0;
  }

  /** `systemctl show -p NAME` values of a unit. */
  async unitProperties(unit: string, names: readonly string[]): Promise<Record<string, string>> {
    const output = await this.run(sh`systemctl show ${unit} ${names.map((name) => `--property=${name}`)}`);
    const properties: Record<string, string> = {};
    for (const line of output.split('\n')) {
      const index = line.indexOf('=');
      if (index > 0) properties[line.slice(0, index)] = line.slice(index + 1);
    }
    return properties;
  }

  /** `systemctl is-active` / `is-enabled` answers (they exit non-zero when the answer is "no"). */
  async unitState(unit: string): Promise<{ active: string; enabled: string }> {
    const active = (await this.exec(sh`systemctl is-active ${unit}`)).stdout.trim();
    const enabled = (await this.exec(sh`systemctl is-enabled ${unit}`)).stdout.trim();
    return { active, enabled };
  }

  /**
   * `ps -eo args` on the host every `intervalSeconds` until `stop()`, over an SSH session of its own as
   * `pi` (who sees every process's arguments, as any user on the Pi would). `ready` resolves once the
   * first sample is under way; `stop()` resolves with every complete sample.
   */
  sampleProcessArgs(intervalSeconds = 0.05): { ready: Promise<void>; stop: () => Promise<string[]> } {
    const stopFile = `/tmp/pvt-stop-sampler-${randomBytes(6).toString('hex')}`;
    const loop = sh`echo started; while [ ! -e ${stopFile} ]; do ps -eo args; echo '--- sample'; sleep ${String(intervalSeconds)}; done; rm -f ${stopFile}`;
    const child = spawn('ssh', [...sshArgs(this.target), '--', loop], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let markReady!: () => void;
    let markFailed!: (error: Error) => void;
    const ready = new Promise<void>((resolve, reject) => {
      markReady = resolve;
      markFailed = reject;
    });
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
      if (out.startsWith('started\n')) markReady();
    });
    const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    void closed.then((code) => markFailed(new Error(`the ps sampler ended before it started (ssh exit ${code})`)));
    return {
      ready,
      stop: async () => {
        await this.run(sh`touch ${stopFile}`);
        await closed;
        return out.split('--- sample\n').slice(0, -1);
      },
    };
  }
}
