/**
 * vault.policies: the `readonly` and `readwrite` policies, rendered from assets/policies/<name>.hcl for
 * the profile's KV path, written to Vault (sys/policies/acl) and as files on the host
 * (<configDir>/policy/<name>.hcl, 0640 root:vault) so the owner can read and diff what Vault enforces.
 * One name per policy everywhere (the guide saved one file name and loaded another).
 *
 * A policy whose text differs from the template (in Vault or on the host) is drift and is rewritten:
 * the comparison is on normalized text (line endings, trailing spaces, blank lines at the ends), since
 * Vault returns a policy exactly as it was stored.
 * API: https://developer.hashicorp.com/vault/api-docs/system/policies
 */
import { readAsset, renderTemplate } from '../../core/assets.js';
import { UserError } from '../../core/errors.js';
import type { Check, Planned, Step, StepContext } from '../../core/step.js';
import type { Transport } from '../../services/host/transport.js';
import { hostLayout } from '../host/layout.js';
import { adminClient, apiAddress, type VaultSession } from './session.js';

export const POLICIES_STEP_ID = 'vault.policies';
export const POLICY_NAMES = ['readonly', 'readwrite'] as const;
export type PolicyName = (typeof POLICY_NAMES)[number];
export const POLICY_FILE_MODE = 0o640;

export function renderPolicy(name: PolicyName, kvPath: string): string {
  const asset = `policies/${name}.hcl`;
  const text = renderTemplate(readAsset(asset), { kvPath }, 'hcl', asset);
  return text.endsWith('\n') ? text : `${text}\n`;
}

export function normalizePolicy(text: string): string {
  return text
    .replace(/\r\n?/g, '\n')
    .split('\n')
    .map((line) => line.trimEnd())
    .join('\n')
    .trim();
}

export function policyFile(ctx: StepContext, name: PolicyName): string {
  return `${hostLayout(ctx.profile).policyDir}/${name}.hcl`;
}

interface PolicyFinding {
  name: PolicyName;
  want: string;
  /** undefined: fine */
  vault?: 'missing' | 'differs';
  file?: 'missing' | 'differs' | string;
}

async function hostFileProblem(transport: Transport, ctx: StepContext, session: VaultSession, path: string, want: string): Promise<PolicyFinding['file']> {
  const stat = await transport.stat(path, { sudo: true, signal: ctx.signal });
  if (!stat.exists) return 'missing';
  if (stat.type !== 'file') return `is a ${stat.type ?? 'special file'}`;
  const content = (await transport.readFile(path, { sudo: true, signal: ctx.signal })).toString('utf8');
  if (normalizePolicy(content) !== normalizePolicy(want)) return 'differs';
  const { user, group } = session.fileOwner(ctx.profile);
  const problems: string[] = [];
  if (stat.mode !== POLICY_FILE_MODE) problems.push(`mode 0${(stat.mode ?? 0).toString(8)}, want 0${POLICY_FILE_MODE.toString(8)}`);
  if (stat.owner !== user || stat.group !== group) problems.push(`owner ${stat.owner ?? stat.uid}:${stat.group ?? stat.gid}, want ${user}:${group}`);
  return problems.length ? problems.join(', ') : undefined;
}

async function inspect(ctx: StepContext, session: VaultSession): Promise<{ findings: PolicyFinding[]; policyDirExists: boolean }> {
  const client = await adminClient(ctx, session);
  const transport = await ctx.services.host();
  const policyDir = hostLayout(ctx.profile).policyDir;
  const dirStat = await transport.stat(policyDir, { sudo: true, signal: ctx.signal });
  const policyDirExists = dirStat.exists && dirStat.type === 'directory';
  const findings: PolicyFinding[] = [];
  for (const name of POLICY_NAMES) {
    const want = renderPolicy(name, ctx.profile.vault.kvPath);
    const stored = await client.readPolicy(name);
    const finding: PolicyFinding = { name, want };
    if (stored === undefined) finding.vault = 'missing';
    else if (normalizePolicy(stored) !== normalizePolicy(want)) finding.vault = 'differs';
    const file = policyDirExists ? await hostFileProblem(transport, ctx, session, policyFile(ctx, name), want) : 'missing';
    if (file !== undefined) finding.file = file;
    findings.push(finding);
  }
  return { findings, policyDirExists };
}

function describeFinding(ctx: StepContext, finding: PolicyFinding): string[] {
  const lines: string[] = [];
  if (finding.vault === 'missing') lines.push(`policy ${finding.name} is not in Vault`);
  if (finding.vault === 'differs') lines.push(`policy ${finding.name} in Vault differs from the template`);
  if (finding.file === 'missing') lines.push(`${policyFile(ctx, finding.name)} is missing`);
  else if (finding.file === 'differs') lines.push(`${policyFile(ctx, finding.name)} differs from the template`);
  else if (finding.file) lines.push(`${policyFile(ctx, finding.name)}: ${finding.file}`);
  return lines;
}

export function policiesStep(session: VaultSession): Step {
  return {
    id: POLICIES_STEP_ID,
    phase: 'vault',
    title: 'Write the readonly and readwrite policies',
    describe(ctx): Planned[] {
      const { user, group } = session.fileOwner(ctx.profile);
      return POLICY_NAMES.flatMap((name): Planned[] => [
        { kind: 'api', summary: `PUT ${apiAddress(ctx)}/v1/sys/policies/acl/${name} (from assets/policies/${name}.hcl, when missing or different)` },
        { kind: 'file', summary: `${policyFile(ctx, name)} (0${POLICY_FILE_MODE.toString(8)} ${user}:${group})` },
      ]);
    },
    async check(ctx): Promise<Check> {
      const { findings, policyDirExists } = await inspect(ctx, session);
      const problems = findings.flatMap((finding) => describeFinding(ctx, finding));
      if (!policyDirExists) problems.unshift(`${hostLayout(ctx.profile).policyDir} does not exist on the host`);
      if (problems.length === 0) return { state: 'done', detail: `${POLICY_NAMES.join(' and ')} in Vault and in ${hostLayout(ctx.profile).policyDir}, as the templates say` };
      // Something there but different is drift; only missing pieces are a plain todo.
      const drift = findings.some((finding) => finding.vault === 'differs' || (finding.file !== undefined && finding.file !== 'missing'));
      return { state: drift ? 'drift' : 'todo', detail: problems.join('; ') };
    },
    async apply(ctx) {
      const { findings, policyDirExists } = await inspect(ctx, session);
      if (!policyDirExists) {
        throw new UserError(`${hostLayout(ctx.profile).policyDir} does not exist on the host`, { hint: 'run the host phase first (its directories step creates it)' });
      }
      const client = await adminClient(ctx, session);
      const transport = await ctx.services.host();
      const { user, group } = session.fileOwner(ctx.profile);
      for (const finding of findings) {
        if (finding.vault) {
          ctx.log.info(finding.vault === 'missing' ? `writing policy ${finding.name} to Vault` : `policy ${finding.name} in Vault differs from the template: rewriting it`);
          await client.writePolicy(finding.name, finding.want);
        }
        if (finding.file) {
          const path = policyFile(ctx, finding.name);
          ctx.log.info(finding.file === 'missing' ? `writing ${path}` : `${path} ${finding.file === 'differs' ? 'differs from the template' : `has ${finding.file}`}: rewriting it`);
          await transport.writeFile(path, finding.want, { mode: POLICY_FILE_MODE, owner: user, group, sudo: true });
        }
      }
    },
  };
}
