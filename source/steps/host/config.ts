/**
 * host.config: the server configuration, rendered from assets/vault_main.hcl into
 * /etc/vault/vault_main.hcl (root:vault 0640), or for OpenBao from assets/openbao.hcl into
 * /etc/openbao/openbao.hcl (root:openbao 0640): the server reads it through its group and cannot
 * change it (a config it could edit would be drift that root fixes in a directory it controls).
 * Drift is "the content differs from what the profile renders": shown as a unified diff in the log
 * (so a hand edit is visible before it is replaced) and fixed by writing the rendered file.
 */
import { InputError } from '../../core/errors.js';
import { renderAsset, serverConfigTemplate } from '../../core/assets.js';
import type { Check, Planned, Step, StepContext } from '../../core/step.js';
import type { Profile } from '../../profile/schema.js';
import type { FileStat } from '../../services/host/transport.js';
import { hostFacts } from './facts.js';
import { serverConfigTemplate as templateOf } from '../../core/assets.js';
import type { ServerFlavor } from '../../core/server.js';
import { hostLayout } from './layout.js';

export const CONFIG_MODE = 0o640;

/** The config for this profile on a host named `hostname` (Vault's raft node_id). */
export function renderVaultConfig(profile: Profile, hostname: string): string {
  const { vault } = profile;
  if (!vault.nodeIp) {
    throw new InputError('vault.nodeIp is not set: the config needs the address clients reach this node at', {
      field: 'vault.nodeIp',
      hint: 'set it to the host\'s LAN address, e.g. profile set vault.nodeIp=192.168.1.50',
    });
  }
  const layout = hostLayout(profile);
  return renderAsset(serverConfigTemplate(layout.server.kind), {
    nodeAddress: vault.nodeIp.includes(':') ? `[${vault.nodeIp}]` : vault.nodeIp,
    apiPort: vault.apiPort,
    clusterPort: vault.clusterPort,
    certFile: layout.certFile,
    keyFile: layout.keyFile,
    dataDir: layout.dataDir,
    nodeId: hostname,
    pluginDir: layout.pluginDir,
  });
}

/**
 * A unified diff (`diff -u` format) of two texts, by longest common subsequence of lines, with
 * `context` unchanged lines around each change. Empty string when the texts are equal.
 */
export function unifiedDiff(before: string, after: string, labels: { before: string; after: string }, context = 3): string {
  if (before === after) return '';
  const a = splitLines(before);
  const b = splitLines(after);
  const ops = diffLines(a, b);
  const hunks: string[] = [];
  let index = 0;
  while (index < ops.length) {
    // Find the next change, then grow the hunk while changes are within 2*context of each other.
    while (index < ops.length && ops[index]!.kind === ' ') index++;
    if (index >= ops.length) break;
    const start = Math.max(0, index - context);
    let end = index;
    let lastChange = index;
    while (end < ops.length) {
      if (ops[end]!.kind !== ' ') lastChange = end;
      else if (end - lastChange > 2 * context) break;
      end++;
    }
    end = Math.min(ops.length, lastChange + context + 1);
    const slice = ops.slice(start, end);
    const first = ops[start]!;
    const oldCount = slice.filter((op) => op.kind !== '+').length;
    const newCount = slice.filter((op) => op.kind !== '-').length;
    const oldStart = oldCount === 0 ? first.oldLine : first.oldLine + 1;
    const newStart = newCount === 0 ? first.newLine : first.newLine + 1;
    // diff -u leaves out a count of 1.
    const range = (lineStart: number, count: number) => (count === 1 ? `${lineStart}` : `${lineStart},${count}`);
    hunks.push(`@@ -${range(oldStart, oldCount)} +${range(newStart, newCount)} @@`);
    for (const op of slice) hunks.push(`${op.kind}${op.text}`);
    index = end;
  }
  return [`--- ${labels.before}`, `+++ ${labels.after}`, ...hunks].join('\n');
}

function splitLines(text: string): string[] {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines;
}

interface DiffOp {
  kind: ' ' | '-' | '+';
  text: string;
  /** Lines of each side before this one (0-based positions). */
  oldLine: number;
  newLine: number;
}

/** Above this many cells the LCS table is not built: the whole file is shown as replaced. */
const MAX_LCS_CELLS = 4_000_000;

function diffLines(a: string[], b: string[]): DiffOp[] {
  const ops: DiffOp[] = [];
  if (a.length * b.length > MAX_LCS_CELLS) {
    a.forEach((text, i) => ops.push({ kind: '-', text, oldLine: i, newLine: 0 }));
    b.forEach((text, j) => ops.push({ kind: '+', text, oldLine: a.length, newLine: j }));
    return ops;
  }
  // lcs[i][j] = length of the LCS of a[i..] and b[j..].
  const width = b.length + 1;
  const lcs = new Uint32Array((a.length + 1) * width);
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      lcs[i * width + j] = a[i] === b[j] ? lcs[(i + 1) * width + j + 1]! + 1 : Math.max(lcs[(i + 1) * width + j]!, lcs[i * width + j + 1]!);
    }
  }
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      ops.push({ kind: ' ', text: a[i]!, oldLine: i, newLine: j });
      i++;
      j++;
    } else if (i < a.length && (j >= b.length || lcs[(i + 1) * width + j]! >= lcs[i * width + j + 1]!)) {
      ops.push({ kind: '-', text: a[i]!, oldLine: i, newLine: j });
      i++;
    } else {
      ops.push({ kind: '+', text: b[j]!, oldLine: i, newLine: j });
      j++;
    }
  }
  // Show removals before additions within a change, as diff -u does.
  for (let k = 0; k < ops.length; k++) {
    if (ops[k]!.kind !== ' ') {
      let end = k;
      while (end < ops.length && ops[end]!.kind !== ' ') end++;
      const block = ops.slice(k, end);
      const ordered = [...block.filter((op) => op.kind === '-'), ...block.filter((op) => op.kind === '+')];
      ops.splice(k, block.length, ...ordered);
      k = end;
    }
  }
  // Positions after the reordering: lines of each side before each op.
  let oldLine = 0;
  let newLine = 0;
  for (const op of ops) {
    op.oldLine = oldLine;
    op.newLine = newLine;
    if (op.kind !== '+') oldLine++;
    if (op.kind !== '-') newLine++;
  }
  return ops;
}

interface ConfigState {
  stat: FileStat;
  content: string | undefined;
  wanted: string;
  path: string;
}

async function inspect(ctx: StepContext): Promise<ConfigState> {
  const transport = await ctx.services.host();
  const path = hostLayout(ctx.profile).configFile;
  const wanted = renderVaultConfig(ctx.profile, (await hostFacts(ctx)).hostname);
  const stat = await transport.stat(path, { sudo: true, signal: ctx.signal });
  const content = stat.exists && stat.type === 'file' ? (await transport.readFile(path, { sudo: true, signal: ctx.signal })).toString('utf8') : undefined;
  return { stat, content, wanted, path };
}

/** The config file's owner: root; its group: the server's. */
export const CONFIG_OWNER = 'root';

function ownershipProblem(stat: FileStat, server: ServerFlavor): string | undefined {
  const serverGroup = server.group;
  if (stat.owner === CONFIG_OWNER && stat.group === serverGroup && stat.mode === CONFIG_MODE) return undefined;
  return `${stat.owner ?? stat.uid}:${stat.group ?? stat.gid} 0${(stat.mode ?? 0).toString(8)}, want ${CONFIG_OWNER}:${serverGroup} 0${CONFIG_MODE.toString(8)}`;
}

function logDiff(ctx: StepContext, state: ConfigState): void {
  if (state.content === undefined) return;
  const diff = unifiedDiff(state.content, state.wanted, { before: `${state.path} (on the host)`, after: `${state.path} (from the profile)` });
  for (const line of diff.split('\n')) ctx.log.info(line, 'diff');
}

export function configStep(server: ServerFlavor): Step {
  const serverGroup = server.group;
  return {
  id: 'host.config',
  phase: 'host',
  title: `Write the ${server.name} server configuration`,
  describe(ctx): Planned[] {
    return [{ kind: 'file', summary: `${hostLayout(ctx.profile).configFile} (0640 ${CONFIG_OWNER}:${serverGroup}) from assets/${templateOf(server.kind).name}` }];
  },
  async check(ctx): Promise<Check> {
    const state = await inspect(ctx);
    if (!state.stat.exists) return { state: 'todo', detail: `${state.path} does not exist yet` };
    if (state.content === undefined) return { state: 'drift', detail: `${state.path} is a ${state.stat.type ?? 'special file'}, not a file` };
    if (state.content !== state.wanted) {
      logDiff(ctx, state);
      return { state: 'drift', detail: `${state.path} differs from the profile's configuration (diff in the log)` };
    }
    const problem = ownershipProblem(state.stat, server);
    if (problem) return { state: 'drift', detail: `${state.path} is ${problem}` };
    return { state: 'done', detail: `${state.path} matches the profile` };
  },
  async apply(ctx) {
    const state = await inspect(ctx);
    if (state.content !== undefined && state.content !== state.wanted) {
      ctx.log.info(`replacing ${state.path}; the hand-made changes (lines with -) are undone:`);
      logDiff(ctx, state);
    }
    const transport = await ctx.services.host();
    await transport.writeFile(state.path, state.wanted, { mode: CONFIG_MODE, owner: CONFIG_OWNER, group: serverGroup, sudo: true });
    ctx.log.info(`wrote ${state.path} (0640 ${CONFIG_OWNER}:${serverGroup})`);
  },
};
}
