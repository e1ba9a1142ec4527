// vault-sim only: the simulator's launcher (package.ts) under a Type=notify unit, as HashiCorp's
// packaged vault.service is (the product's own units are Type=simple; this is how the lab's
// simulator takes part in systemd's readiness protocol, nothing a real server is checked for): https://www.freedesktop.org/software/systemd/man/latest/sd_notify.html and
// https://www.freedesktop.org/software/systemd/man/latest/systemd.service.html#NotifyAccess=
// systemd only accepts READY=1 from the unit's main PID; the receiver below records the sender
// credentials (SCM_CREDENTIALS) the way the service manager checks them.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, makeTlsMaterial, serverConfigHcl, vaultRequest, writeVaultExecutable, type TlsMaterial } from '../lab/vault-sim/testing.js';

const RECEIVER = `
import json, os, socket, struct, sys
path = sys.argv[1]
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
sock.bind(path)
print(json.dumps({"listening": path}), flush=True)
while True:
    data, ancillary, flags, _ = sock.recvmsg(4096, socket.CMSG_SPACE(12) + socket.CMSG_SPACE(64))
    pid = None
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = struct.unpack("iII", payload[:12])[0]
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            # a BARRIER=1 message carries a pipe; closing it releases the sender
            for index in range(len(payload) // 4):
                os.close(struct.unpack("i", payload[index * 4:index * 4 + 4])[0])
    print(json.dumps({"pid": pid, "message": data.decode()}), flush=True)
`;

function hasCommand(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const canRun = hasCommand('python3') && hasCommand('systemd-notify');

let dir: string;
let tls: TlsMaterial;
let executable: string;
const started: ChildProcess[] = [];
const nodePids: number[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vault-sim-systemd-'));
  executable = await writeVaultExecutable(join(dir, 'bin'), '2.0.4');
  tls = await makeTlsMaterial(join(dir, 'tls'));
});

afterAll(async () => {
  for (const pid of nodePids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const child of started) if (child.exitCode === null) child.kill('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

describe.skipIf(!canRun)('vault-sim only: launcher under a Type=notify service manager', () => {
  it('READY=1 comes from the main PID with MAINPID handing the service to the node process, which shuts down cleanly on SIGTERM', async () => {
    const socketPath = join(dir, 'notify.sock');
    const receiver = spawn('python3', ['-c', RECEIVER, socketPath], { stdio: ['ignore', 'pipe', 'inherit'] });
    started.push(receiver);
    const messages: { pid: number; message: string }[] = [];
    let buffered = '';
    const listening = new Promise<void>((resolve) => {
      receiver.stdout!.on('data', (chunk: Buffer) => {
        buffered += chunk.toString('utf8');
        for (let newline = buffered.indexOf('\n'); newline !== -1; newline = buffered.indexOf('\n')) {
          const line = JSON.parse(buffered.slice(0, newline));
          buffered = buffered.slice(newline + 1);
          if (line.listening) resolve();
          else messages.push(line);
        }
      });
    });
    await listening;

    const port = await freePort();
    const dataDir = join(dir, 'data');
    execFileSync('mkdir', ['-p', dataDir]);
    const configFile = join(dir, 'vault.hcl');
    await writeFile(configFile, serverConfigHcl({ port, clusterPort: await freePort(), tls, dataDir }));
    const launcher = spawn(executable, ['server', `-config=${configFile}`], { env: { ...process.env, NOTIFY_SOCKET: socketPath }, stdio: ['ignore', 'pipe', 'pipe'] });
    started.push(launcher);
    // The server command's own output (banner, shutdown, errors) is on stdout, its log on stderr.
    let stdout = '';
    let stderr = '';
    launcher.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    launcher.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    // node inherits the launcher's stdout and stderr: they end only when node itself is gone.
    const streamsClosed = Promise.all([launcher.stdout!, launcher.stderr!].map((stream) => new Promise<void>((resolve) => stream.once('end', () => resolve()))));
    const launcherExit = new Promise<number | null>((resolve) => launcher.once('exit', resolve));

    const deadline = Date.now() + 15_000;
    while (!messages.some((m) => m.message.includes('READY=1')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const ready = messages.find((m) => m.message.includes('READY=1'));
    expect(ready, stdout + stderr).toBeDefined();
    const mainPid = Number(/MAINPID=(\d+)/.exec(ready!.message)?.[1]);
    nodePids.push(mainPid); // cleaned up in afterAll whatever fails below
    // The sender is the process systemd started (the launcher's PID, now systemd-notify).
    expect(ready!.pid).toBe(launcher.pid);
    expect(mainPid).not.toBe(launcher.pid);
    expect(readFileSync(`/proc/${mainPid}/cmdline`, 'utf8').split('\0')).toEqual(expect.arrayContaining(['node', executable, 'server']));
    // Readiness is reported once the API answers.
    expect((await vaultRequest(`https://127.0.0.1:${port}`, tls.caPem, { path: 'sys/health' })).status).toBe(501);
    expect(await launcherExit).toBe(0);

    process.kill(mainPid, 'SIGTERM');
    await streamsClosed;
    expect(stdout).toContain('==> Vault shutdown triggered');
    expect(existsSync(`/proc/${mainPid}`) && readFileSync(`/proc/${mainPid}/stat`, 'utf8').split(' ')[2] !== 'Z').toBe(false);
    receiver.kill('SIGTERM');
  });

  it('a server that fails before it is ready exits with its own code and never reports READY', async () => {
    const socketPath = join(dir, 'notify-fail.sock');
    const receiver = spawn('python3', ['-c', RECEIVER, socketPath], { stdio: ['ignore', 'pipe', 'inherit'] });
    started.push(receiver);
    const lines: string[] = [];
    await new Promise<void>((resolve) =>
      receiver.stdout!.on('data', (chunk: Buffer) => {
        lines.push(...chunk.toString('utf8').trim().split('\n'));
        if (lines.some((l) => l.includes('listening'))) resolve();
      }),
    );
    const launcher = spawn(executable, ['server', `-config=${join(dir, 'absent.hcl')}`], { env: { ...process.env, NOTIFY_SOCKET: socketPath }, stdio: ['ignore', 'pipe', 'pipe'] });
    started.push(launcher);
    let stdout = '';
    launcher.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    const stdoutClosed = new Promise<void>((resolve) => launcher.stdout!.once('end', () => resolve()));
    expect(await new Promise((resolve) => launcher.once('exit', resolve))).toBe(1);
    await stdoutClosed;
    expect(stdout).toContain(`error loading configuration from ${join(dir, 'absent.hcl')}: stat `);
    expect(lines.filter((l) => l.trim() && !l.includes('listening'))).toEqual([]);
    receiver.kill('SIGTERM');
  });
});
