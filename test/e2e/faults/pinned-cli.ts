/**
 * The built CLI copied once per suite (bin/, dist/, assets/, package.json into a temp dir) and run
 * from that copy: a suite that runs for minutes keeps testing the same build even when the working
 * tree's dist/ is rebuilt meanwhile (`npm run build` empties dist/ first). Sessions are the usual
 * CliSession (support/cli.ts) with `start` pointed at the copy.
 * PVT_CLI_FROM=DIR copies from DIR instead of the working tree (a build of one's own, laid out the
 * same: bin/, dist/, assets/, package.json), for runs while others rebuild dist/.
 */
import { spawn } from 'node:child_process';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CliSession, REPO_ROOT, RunningCli } from '../support/cli.js';

export class PinnedCli {
  private constructor(readonly dir: string) {}

  static async copy(from = process.env['PVT_CLI_FROM'] || REPO_ROOT): Promise<PinnedCli> {
    const dir = await mkdtemp(path.join(tmpdir(), 'pvt-pinned-cli-'));
    for (const entry of ['bin', 'dist', 'assets', 'package.json']) {
      await cp(path.join(from, entry), path.join(dir, entry), { recursive: true });
    }
    return new PinnedCli(dir);
  }

  get bin(): string {
    return path.join(this.dir, 'bin', 'picluster-vault-tui.js');
  }

  /** A new CLI user (own HOME and XDG dirs) whose commands run this copy. */
  async session(label: string): Promise<CliSession> {
    const session = await CliSession.create(label);
    const bin = this.bin;
    session.start = (args, extraEnv = {}) => {
      const startedAt = Date.now();
      const child = spawn(process.execPath, [bin, ...args], { cwd: session.home, env: { ...session.env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
      const running = new RunningCli(child, startedAt);
      running.exited.then(
        (result) => session.transcript.push({ args, result }),
        () => undefined,
      );
      return running;
    };
    return session;
  }

  async dispose(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}
