/**
 * host.verify: the API answers from THIS machine, at the address the profile names, over TLS
 * verified with the CA installed on the host — what the cluster and the later phases will use.
 * It changes nothing on the host; apply only waits (bounded) for the API to become reachable.
 */
import { serverOf, type ServerFlavor } from '../../core/server.js';
import { UserError } from '../../core/errors.js';
import type { Check, Planned, Step, StepContext } from '../../core/step.js';
import { connectVault, ServerUnreachableError, type SealStatus } from '../../services/vault.js';
import { hostLayout, requireApiAddress, vaultApiAddress } from './layout.js';

export const VERIFY_WAIT_MS = 15_000;

function apiAddress(ctx: StepContext): string {
  return requireApiAddress(ctx.profile);
}

/** `vault status`-like lines. */
export function formatStatus(status: SealStatus, address: string): string[] {
  const rows: [string, string][] = [
    ['Address', address],
    ['Initialized', String(status.initialized)],
    ['Sealed', String(status.sealed)],
    ['Total Shares', String(status.n)],
    ['Threshold', String(status.t)],
    ...(status.sealed && status.initialized ? ([['Unseal Progress', `${status.progress}/${status.t}`]] as [string, string][]) : []),
    ['Version', status.version],
    ['Storage Type', status.storageType],
  ];
  const width = Math.max(...rows.map(([key]) => key.length));
  return rows.map(([key, value]) => `${key.padEnd(width)}    ${value}`);
}

function isUnreachable(error: unknown): boolean {
  return error instanceof ServerUnreachableError;
}

async function lookAtApi(ctx: StepContext): Promise<{ status: SealStatus; address: string } | { unreachable: UserError; address: string } | { noCa: string; address: string }> {
  const address = apiAddress(ctx);
  const transport = await ctx.services.host();
  const caFile = hostLayout(ctx.profile).caFile;
  const caStat = await transport.stat(caFile, { sudo: true, signal: ctx.signal });
  if (!caStat.exists) return { noCa: caFile, address };
  const caPem = (await transport.readFile(caFile, { sudo: true, signal: ctx.signal })).toString('utf8');
  const vault = await connectVault({ address, caPem, timeoutMs: 5_000, server: serverOf(ctx.profile) });
  try {
    return { status: await vault.sealStatus(), address };
  } catch (error) {
    if (isUnreachable(error)) return { unreachable: error as UserError, address };
    throw error;
  }
}

export function verifyStep(server: ServerFlavor): Step {
  return {
  id: 'host.verify',
  phase: 'host',
  title: `Reach the ${server.name} API over verified TLS`,
  describe(ctx): Planned[] {
    const address = vaultApiAddress(ctx.profile) ?? '<vault.nodeIp not set>';
    return [{ kind: 'api', summary: `GET ${address}/v1/sys/seal-status (TLS verified with ${hostLayout(ctx.profile).caFile} from the host)` }];
  },
  async check(ctx): Promise<Check> {
    const result = await lookAtApi(ctx);
    if ('noCa' in result) return { state: 'todo', detail: `no CA certificate at ${result.noCa} on the host yet` };
    if ('unreachable' in result) return { state: 'todo', detail: result.unreachable.message };
    for (const line of formatStatus(result.status, result.address)) ctx.log.info(line, 'vault');
    const { status } = result;
    return {
      state: 'done',
      detail: `${result.address}: initialized ${status.initialized}, sealed ${status.sealed}, version ${status.version}, storage ${status.storageType}`,
    };
  },
  async apply(ctx) {
    const deadline = Date.now() + VERIFY_WAIT_MS;
    for (;;) {
      const result = await lookAtApi(ctx);
      if ('status' in result) return;
      if ('noCa' in result) {
        throw new UserError(`there is no CA certificate at ${result.noCa} on the host to verify Vault's TLS with`, { hint: 'run the TLS step (host.tls) first' });
      }
      if (Date.now() >= deadline) throw result.unreachable;
      ctx.log.info(`waiting for ${result.address}: ${result.unreachable.message}`);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      ctx.signal.throwIfAborted();
    }
  },
};
}
