/**
 * host.preflight: can the server be installed on this host at all, before anything is changed?
 * sudo, systemd as PID 1, an architecture the server is built for, the OS, free disk, the listener
 * ports, the tools the later steps use (curl, openssl, jq, and unzip for Vault's zip or tar and gzip
 * for OpenBao's tarball: installed with apt when missing), a sane clock (TLS certificates and
 * tokens are checked against it) — and that the host does not already run the OTHER server: the
 * product never migrates a host between Vault and OpenBao, half-way or otherwise.
 */
import { UserError } from '../../core/errors.js';
import type { Check, Planned, Step, StepContext } from '../../core/step.js';
import { otherServer, type ServerFlavor } from '../../core/server.js';
import { bracketed, leastApart, offsetEstimate, offsetFromLocal, type ClockOffset } from '../../core/clock.js';
import { releaseArchOf } from '../../services/release.js';
import { sh } from '../../services/host/shell-quote.js';
import { HOST_CLOCK_LINE, hostSecondsOf } from './clock.js';
import { hostExec, hostFacts, hostRun } from './facts.js';
import { dataDirOf, hostLayout } from './layout.js';

/** The tools every server's steps use on the host. */
export const REQUIRED_TOOLS = ['curl', 'openssl', 'jq'] as const;

/** The tools the later steps use for this server: its release archive's unpacker besides REQUIRED_TOOLS. */
export function requiredTools(server: ServerFlavor): string[] {
  return [...REQUIRED_TOOLS, ...(server.release.archive === 'zip' ? ['unzip'] : ['tar', 'gzip'])];
}
/** Room for the binary (~150 MB unpacked plus the zip while installing) and a start of raft data. */
export const MIN_FREE_BYTES = 500 * 1024 * 1024;
/**
 * This machine against the Vault host: what the two share is the certificates this machine signs
 * for the host (source/services/tls.ts backdates notBefore by 5 minutes for a host running behind),
 * hence 5 minutes. The clocks that decide logins are another pair — the Vault host's against the
 * Kubernetes API's, which issues ESO's tokens (150 s leeway at Vault's login) — and cluster.preflight
 * compares those (source/steps/cluster/clock-skew.ts): a tighter limit here would refuse a host whose
 * logins work, and could not see the API's clock anyway.
 */
export const MAX_CLOCK_SKEW_SECONDS = 300;

export interface Listener {
  port: number;
  address: string;
  pids: number[];
  processes: string[];
}

/** `ss -ltnpH` lines: `LISTEN 0 128 0.0.0.0:8200 0.0.0.0:* users:(("vault",pid=812,fd=7))`. */
export function parseListeners(lines: readonly string[]): Listener[] {
  const listeners: Listener[] = [];
  for (const line of lines) {
    const fields = line.trim().split(/\s+/);
    const local = fields[3];
    if (!local) continue;
    const colon = local.lastIndexOf(':');
    const port = Number(local.slice(colon + 1));
    if (colon === -1 || !Number.isInteger(port)) continue;
    const processText = fields.slice(5).join(' ');
    listeners.push({
      port,
      address: local.slice(0, colon),
      pids: [...processText.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1])),
      processes: [...processText.matchAll(/\("([^"]+)"/g)].map((m) => m[1]!),
    });
  }
  return listeners;
}

/** Ports among `wanted` that something other than our vault (its main pid) listens on. */
export function portConflicts(listeners: readonly Listener[], wanted: readonly number[], vaultMainPid: number): { port: number; holder: string }[] {
  const conflicts: { port: number; holder: string }[] = [];
  for (const port of wanted) {
    const holders = listeners.filter((l) => l.port === port);
    const foreign = holders.filter((l) => vaultMainPid === 0 || !l.pids.includes(vaultMainPid));
    if (foreign.length > 0) {
      const who = foreign[0]!;
      const name = who.processes[0] ? `${who.processes[0]} (pid ${who.pids[0] ?? '?'})` : 'a process this user cannot see';
      conflicts.push({ port, holder: `${name} on ${who.address}` });
    }
  }
  return conflicts;
}

/** What of the other server is on the host: its unit file, its unit running, its binary. */
export interface OtherServerFound {
  unitFile: boolean;
  active: boolean;
  binary: boolean;
}

interface Probe {
  pid1: string;
  /** The host's clock minus this machine's (NaN bounds when the host printed no time). */
  clock: ClockOffset;
  missing: string[];
  hasApt: boolean;
  vaultMainPid: number;
  other: OtherServerFound;
  disks: { availableKiB: number; mount: string }[];
  listeners: Listener[] | undefined;
}

function probeScript(server: ServerFlavor, dataDir: string): string {
  const other = otherServer(server);
  return [
    `echo "pid1=$(ps -p 1 -o comm= 2>/dev/null || cat /proc/1/comm 2>/dev/null)"`,
    HOST_CLOCK_LINE,
    sh`for tool in ${requiredTools(server)}; do command -v "$tool" >/dev/null 2>&1 || echo "missing=$tool"; done`,
    'command -v apt-get >/dev/null 2>&1 && echo apt=yes',
    sh`echo "mainpid=$(systemctl show -p MainPID --value ${server.unit} 2>/dev/null)"`,
    sh`if [ -e ${other.unitFile} ]; then echo other=unit-file; fi`,
    sh`if systemctl is-active --quiet ${other.unit} 2>/dev/null; then echo other=active; fi`,
    sh`if [ -e ${other.binaryPath} ]; then echo other=binary; fi`,
    // The data directory may not exist yet: measure the file system it will be created on.
    sh`d=${dataDir}; while [ ! -e "$d" ]; do d=$(dirname -- "$d"); done`,
    `df -Pk -- / "$d" | awk 'NR > 1 { print "df=" $4 " " $6 }'`,
    `if command -v ss >/dev/null 2>&1; then ss -ltnpH | sed 's/^/listen=/'; else echo ss=missing; fi`,
  ].join('\n');
}

async function probe(ctx: StepContext): Promise<Probe> {
  // Under sudo: proves sudo works (the transport asks for the password or explains why it cannot),
  // and `ss -p` shows other users' processes only to root.
  const server = hostLayout(ctx.profile).server;
  const { value: stdout, sentAtMs, receivedAtMs } = await bracketed(() => hostRun(ctx, 'the preflight probe', probeScript(server, dataDirOf(ctx.profile)), { sudo: true, timeoutMs: 30_000 }));
  const values = stdout.split('\n').map((line) => {
    const eq = line.indexOf('=');
    return eq === -1 ? ['', ''] : [line.slice(0, eq), line.slice(eq + 1)];
  });
  const all = (key: string) => values.filter(([k]) => k === key).map(([, v]) => v!);
  const one = (key: string) => all(key)[0] ?? '';
  return {
    pid1: one('pid1').trim(),
    clock: offsetFromLocal({ remoteSeconds: hostSecondsOf(one('now')), sentAtMs, receivedAtMs }),
    missing: all('missing'),
    hasApt: one('apt') === 'yes',
    vaultMainPid: Number(one('mainpid')) || 0,
    other: { unitFile: all('other').includes('unit-file'), active: all('other').includes('active'), binary: all('other').includes('binary') },
    disks: all('df').map((entry) => {
      const [available = '0', ...mount] = entry.split(' ');
      return { availableKiB: Number(available), mount: mount.join(' ') };
    }),
    listeners: one('ss') === 'missing' ? undefined : parseListeners(all('listen')),
  };
}

function gigabytes(bytes: number): string {
  return `${(bytes / 1024 ** 3).toFixed(1)} GB`;
}

/**
 * Refuses a host where the other server is installed (its unit file) or running: setting up Vault
 * beside OpenBao (or the reverse) would leave two servers fighting over ports, or a half-migrated
 * host. Its binary alone (a CLI someone installed) is only mentioned.
 */
export function refuseOtherServer(server: ServerFlavor, other: OtherServerFound, log: Pick<StepContext['log'], 'info'>): void {
  const them = otherServer(server);
  if (other.unitFile || other.active) {
    const found = [other.unitFile ? them.unitFile : '', other.active ? `${them.unit} is running` : ''].filter(Boolean).join('; ');
    throw new UserError(`this host already runs ${them.name} (${found}), but the profile sets up ${server.name} (vault.server=${server.kind})`, {
      hint: `nothing was changed. To manage the ${them.name} that is there, set vault.server=${them.kind}; to replace it with ${server.name}, take a snapshot, stop and remove ${them.unit} and its files by hand first: the product does not migrate a host between servers`,
    });
  }
  if (other.binary) log.info(`${them.binaryPath} (${them.name}'s CLI) is on the host but no ${them.unit}: left alone`);
}

async function examine(ctx: StepContext, level: 'debug' | 'info'): Promise<{ check: Check; missing: string[] }> {
  const { vault } = ctx.profile;
  const server = hostLayout(ctx.profile).server;
  const result = await probe(ctx);
  const facts = await hostFacts(ctx);

  if (result.pid1 !== 'systemd') {
    throw new UserError(`the host does not run systemd as PID 1 (PID 1 is "${result.pid1 || 'unknown'}")`, {
      hint: `${server.name} is installed as a systemd service; use Raspberry Pi OS or another Debian-family system booted with systemd`,
    });
  }
  refuseOtherServer(server, result.other, ctx.log);
  const arch = releaseArchOf(server, facts.machine);
  if (facts.machine.startsWith('armv6')) {
    ctx.log.warn(`ARMv6 CPU (Pi 1 / Zero): the ${arch} build of ${server.name} may not run here; the binary step checks \`${server.binaryName} version\` before installing it`);
  }

  for (const disk of result.disks) {
    const bytes = disk.availableKiB * 1024;
    if (bytes < MIN_FREE_BYTES) {
      throw new UserError(`only ${Math.floor(bytes / 1024 ** 2)} MB free on ${disk.mount || '/'} of the host; ${server.name} needs at least ${MIN_FREE_BYTES / 1024 ** 2} MB`, {
        hint: 'free some space (sudo apt-get clean, old logs in /var/log) or put vault.dataDir on a bigger disk',
      });
    }
  }

  const ports = [vault.apiPort, vault.clusterPort];
  let portDetail: string;
  if (result.listeners === undefined) {
    ctx.log.warn('`ss` (iproute2) is not installed on the host: the listener ports were not checked');
    portDetail = 'ports not checked';
  } else {
    const conflicts = portConflicts(result.listeners, ports, result.vaultMainPid);
    if (conflicts.length > 0) {
      throw new UserError(`port ${conflicts.map((c) => `${c.port} is taken by ${c.holder}`).join('; port ')} on the host`, {
        hint: 'stop what listens there, or choose other ports: vault.apiPort / vault.clusterPort in the profile',
      });
    }
    const ours = result.vaultMainPid !== 0 && result.listeners.some((l) => ports.includes(l.port));
    portDetail = `ports ${ports.join('/')} ${ours ? `held by ${server.binaryName}` : 'free'}`;
  }

  // Judged on the least the clocks can be apart (the probe's round trip and date's whole seconds
  // widen the bounds), shown as the estimate.
  const skew = Math.round(offsetEstimate(result.clock));
  if (!Number.isFinite(skew) || leastApart(result.clock) > MAX_CLOCK_SKEW_SECONDS) {
    throw new UserError(`the host's clock is ${Number.isFinite(skew) ? `${Math.abs(skew)} s ${skew > 0 ? 'ahead of' : 'behind'}` : 'unreadable compared with'} this machine's`, {
      hint: 'a Raspberry Pi has no battery-backed clock: enable time sync on the host (sudo timedatectl set-ntp true; check systemd-timesyncd) and make sure this machine\'s clock is right too',
    });
  }

  const root = result.disks[0];
  ctx.log[level](
    `${facts.hostname}: ${facts.os.prettyName}, ${facts.machine} (${server.binaryName} ${arch}), ${root ? `${gigabytes(root.availableKiB * 1024)} free on /` : 'disk not measured'}, ${portDetail}, clock off by ${Math.abs(skew)} s`,
  );

  if (result.missing.length > 0) {
    if (!result.hasApt) {
      throw new UserError(`the host lacks ${result.missing.join(', ')} and has no apt-get to install them`, {
        hint: `install ${result.missing.join(', ')} with the host's package manager, then run the setup again`,
      });
    }
    return { check: { state: 'todo', detail: `missing tools: ${result.missing.join(', ')} (installed with apt-get)` }, missing: result.missing };
  }
  return { check: { state: 'done', detail: `${facts.os.prettyName}, ${arch}, ${portDetail}, tools present` }, missing: [] };
}

export const preflightStep: Step = {
  id: 'host.preflight',
  phase: 'host',
  title: 'Check the host (sudo, systemd, architecture, disk, ports, tools, clock)',
  describe(ctx): Planned[] {
    const { vault } = ctx.profile;
    const server = hostLayout(ctx.profile).server;
    return [
      {
        kind: 'command',
        summary: `sudo: ps -p 1 -o comm=; uname -m; df -Pk / ${dataDirOf(ctx.profile)}; ss -ltnp (ports ${vault.apiPort}, ${vault.clusterPort}); date +%s; no ${otherServer(server).unit} on the host`,
      },
      { kind: 'command', summary: `apt-get install -y ${requiredTools(server).join(' ')} (only the missing ones)` },
    ];
  },
  check: async (ctx) => (await examine(ctx, 'debug')).check,
  async apply(ctx) {
    const { missing } = await examine(ctx, 'info');
    if (missing.length === 0) return;
    // Each tool's Debian package has the tool's name.
    // Lock::Timeout: wait for an unattended upgrade holding the dpkg lock instead of failing at once.
    const aptInstall = sh`apt-get -o DPkg::Lock::Timeout=120 install -y --no-install-recommends ${missing}`;
    const aptUpdate = 'apt-get -o DPkg::Lock::Timeout=120 update';
    const install = (command: string) =>
      hostExec(ctx, `DEBIAN_FRONTEND=noninteractive; export DEBIAN_FRONTEND\n${command}`, { sudo: true, echo: 'info', timeoutMs: 15 * 60_000 });
    ctx.log.info(`installing ${missing.join(', ')} with apt-get`);
    let result = await install(aptInstall);
    if (result.code !== 0 && /Unable to locate package|has no installation candidate/.test(result.stderr)) {
      // A fresh image may have no package lists yet.
      ctx.log.info('package lists look out of date: apt-get update, then again');
      result = await install(`${aptUpdate} && ${aptInstall}`);
    }
    if (result.code !== 0) {
      throw new UserError(`apt-get could not install ${missing.join(', ')} on the host (exit ${result.code})`, {
        hint: 'look at the apt output in the log; check the host\'s network and /etc/apt/sources.list, then run the setup again',
      });
    }
  },
};
