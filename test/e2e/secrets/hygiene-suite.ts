/**
 * Secret hygiene, measured: on a fresh lab instance the built CLI runs the full setup, a failing
 * setup (a kubeconfig context that does not exist: it fails after Vault's keys are loaded), a plan
 * that needs the sudo password (typed in a real pty), and the TUI (tmux: every distinct frame).
 * Meanwhile `ps -eo args` is sampled on the host and /proc/<pid>/cmdline on this machine every
 * 50 ms. Then every secret value — unseal keys (hex and base64), root token, issued tokens, the
 * CA key and the server key, the reviewer JWT, the sudo password — is looked for in: the log
 * files, the profile (every file under the config dir), every run's stdout and stderr, the pty's
 * output, every TUI frame, the host's whole journal and every process-list sample.
 * No run uses --show-keys and the TUI is not taken through init, so the one screen allowed to show
 * keys (the acknowledged key screen) never appears: the expected count is 0.
 * Prints one JSON line with the figures.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sh } from '../../../source/services/host/shell-quote.js';
import { describeResult } from '../support/cli.js';
import { hasTmux, PtyCli, TuiTerminal } from '../support/terminal.js';
import { initRecord, Lanes, PATHS, SERVER, SETUP, RUN_TIMEOUT_MS, type LabEnv } from '../faults/harness.js';
import { PinnedCli } from '../faults/pinned-cli.js';

const SUDO_PASSWORD = `pvt-sudo-${Math.random().toString(36).slice(2)}-x`;

let pinned: PinnedCli;
let lanes: Lanes;
let env: LabEnv;
const texts: [string, string][] = [];
const localSamples: string[] = [];

/** Every regular file under a local directory. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((entry) => entry.isFile()).map((entry) => path.join(entry.parentPath, entry.name));
}

/** /proc/<pid>/cmdline of every process on this machine, every 50 ms, until stopped. */
function sampleLocalCmdlines(): () => void {
  let stopped = false;
  const sample = async (): Promise<void> => {
    while (!stopped) {
      const lines: string[] = [];
      for (const pid of await readdir('/proc').catch(() => [] as string[])) {
        if (!/^\d+$/.test(pid)) continue;
        const args = await readFile(`/proc/${pid}/cmdline`).catch(() => undefined);
        if (args && args.length > 0) lines.push(args.toString('utf8').replaceAll('\u0000', ' '));
      }
      localSamples.push(lines.join('\n'));
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  void sample();
  return () => (stopped = true);
}

beforeAll(async () => {
  pinned = await PinnedCli.copy();
  lanes = new Lanes(1, pinned);
  await lanes.withLane(async (lane) => {
    env = await lanes.fresh(lane, 'secrets');
  });
}, 120_000);

afterAll(async () => {
  await lanes.dispose();
  await pinned.dispose();
}, 120_000);

describe('no secret value anywhere but custody', () => {
  it('setup, a failing setup, a sudo-password plan and the TUI leave no secret in logs, profile, outputs, frames, journal or process lists', { timeout: 420_000 }, async () => {
    const { session, lab, info } = env;
    const hostSampler = lab.host.sampleProcessArgs(0.05);
    await hostSampler.ready;
    const stopLocal = sampleLocalCmdlines();
    let hostSamples: string[] = [];
    try {
      const full = await session.run(SETUP, RUN_TIMEOUT_MS);
      expect(full.code, describeResult(SETUP, full)).toBe(0);

      // A failing run with every secret loaded: the cluster phase cannot start.
      const original = await readFile(info.profileFile, 'utf8');
      const broken = JSON.parse(original) as { cluster: Record<string, unknown> };
      broken.cluster['context'] = 'no-such-context';
      const { writeFile } = await import('node:fs/promises');
      await writeFile(info.profileFile, `${JSON.stringify(broken, null, 2)}\n`);
      const failing = await session.run(SETUP, RUN_TIMEOUT_MS);
      expect(failing.code, describeResult(SETUP, failing)).toBe(1);
      await writeFile(info.profileFile, original);

      // sudo with a password: pi's NOPASSWD rule removed, a password set; typed in a pty when asked.
      // (The password goes to chpasswd on stdin: on a command line it would be in the journal and in ps.)
      await lab.host.sudo('chpasswd && mv /etc/sudoers.d/010_pi-nopasswd /root/010_pi-nopasswd.off', { input: `pi:${SUDO_PASSWORD}\n` });
      try {
        const pty = new PtyCli(session, ['plan', '--phase', 'host']);
        try {
          await pty.waitFor(/sudo password on the host:/i, 0, 60_000);
          pty.typeLine(SUDO_PASSWORD);
          const ended = await Promise.race([pty.exited, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 60_000))]);
          expect(ended?.code, pty.output).toBe(0);
        } finally {
          texts.push(['the terminal of `plan --phase host` with a sudo password', (await pty.stop()).output]);
        }
      } finally {
        await lab.host.run(sh`sudo -S -p '' /bin/sh -c ${'mv /root/010_pi-nopasswd.off /etc/sudoers.d/010_pi-nopasswd'}`, { input: `${SUDO_PASSWORD}\n` });
      }

      if (hasTmux) {
        const terminal = TuiTerminal.start(session);
        try {
          await terminal.waitForScreen((screen) => /unsealed/i.test(screen), 'the TUI showing Vault unsealed', 30_000);
          terminal.keys('r');
          const deadline = Date.now() + 4_000;
          while (Date.now() < deadline) {
            terminal.capture();
            await new Promise((resolve) => setTimeout(resolve, 100));
          }
          terminal.keys('q');
          // q asks first while a re-check runs: confirm it.
          const after = await terminal.waitForScreen((screen) => /exited with status|\(y\/n\)|\by\b.*\bn\b/i.test(screen), 'the TUI to quit or ask', 15_000);
          if (!/exited with status/.test(after)) terminal.keys('y');
          await terminal.waitForScreen((screen) => /exited with status/.test(screen), 'the TUI to quit', 15_000);
        } finally {
          terminal.screens.forEach((screen, index) => texts.push([`TUI frame ${index + 1}`, screen]));
          terminal.dispose();
        }
      }
    } finally {
      stopLocal();
      hostSamples = await hostSampler.stop();
    }

    // The secrets.
    const secrets = new Map<string, string>();
    const record = await initRecord(env);
    record.keys.forEach((key, index) => secrets.set(key, `unseal key ${index + 1} (hex)`));
    record.keys_base64.forEach((key, index) => secrets.set(key, `unseal key ${index + 1} (base64)`));
    secrets.set(record.root_token, 'root token');
    const tokens = JSON.parse(await readFile(path.join(info.custodyDir, 'tokens.json'), 'utf8')) as { tokens: Record<string, { token: string }> };
    for (const [name, { token }] of Object.entries(tokens.tokens)) secrets.set(token, `${name} token`);
    const pemBody = (pem: string): string => pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '').slice(0, 60);
    secrets.set(pemBody(await readFile(path.join(info.custodyDir, 'ca.key'), 'utf8')), 'CA private key');
    secrets.set(pemBody(await lab.host.readFile(PATHS.keyFile)), `${SERVER.name} server private key`);
    const kube = new k8s.KubeConfig();
    kube.loadFromFile(lab.state.cluster.kubeconfig);
    kube.setCurrentContext(lab.state.cluster.context);
    const reviewer = await kube.makeApiClient(k8s.CoreV1Api).readNamespacedSecret({ name: 'vault-auth-token', namespace: 'vault' });
    const jwt = Buffer.from(reviewer.data?.['token'] ?? '', 'base64').toString('utf8');
    if (jwt) secrets.set(jwt, 'token reviewer JWT');
    secrets.set(SUDO_PASSWORD, 'sudo password');

    // Where they must not be.
    for (const file of [...(await filesUnder(session.env['XDG_STATE_HOME']!)), ...(await filesUnder(session.env['XDG_CONFIG_HOME']!))]) texts.push([file, await readFile(file, 'utf8')]);
    expect(texts.map(([where]) => where)).toContain(info.logFile);
    expect(texts.map(([where]) => where)).toContain(info.profileFile);
    for (const { args, result } of session.transcript) {
      texts.push([`stdout of \`${args.join(' ')}\``, result.stdout], [`stderr of \`${args.join(' ')}\``, result.stderr]);
    }
    texts.push(['the host journal', await lab.host.sudo('journalctl --no-pager -o cat', { timeoutMs: 60_000 })]);
    hostSamples.forEach((sample, index) => texts.push([`host ps sample ${index + 1}`, sample]));
    localSamples.forEach((sample, index) => texts.push([`local /proc/*/cmdline sample ${index + 1}`, sample]));

    const hits: string[] = [];
    let bytes = 0;
    for (const [where, text] of texts) {
      bytes += text.length;
      for (const [secret, what] of secrets) if (text.includes(secret)) hits.push(`${what} in ${where}`);
    }
    const summary = {
      suite: 'secrets',
      secretValues: secrets.size,
      placesScanned: texts.length,
      hostPsSamples: hostSamples.length,
      localCmdlineSamples: localSamples.length,
      tuiFrames: texts.filter(([where]) => where.startsWith('TUI frame')).length,
      megabytesScanned: Number((bytes / 1e6).toFixed(1)),
      hits: hits.length,
    };
    console.log(`RELIABILITY ${JSON.stringify(summary)}`);
    expect(secrets.size).toBeGreaterThanOrEqual(12);
    expect(hostSamples.length, 'process samples were taken on the host').toBeGreaterThan(20);
    expect(hits).toEqual([]);
  });
});
