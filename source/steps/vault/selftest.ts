/**
 * vault.selftest: the guide's policy check, automated. With the readwrite token a test secret is
 * written and read back; with the readonly token it is read (allowed) and written (must be denied,
 * 403); then the secret is removed with every version (metadata delete). The result is a table; any
 * row that is not as expected fails the step.
 *
 * Which tokens: the issued ones from custody (what the user actually holds); without them
 * (vault.issueAccess off) short-lived tokens made for the test and revoked after it.
 *
 * check — decided so it changes nothing and is still a real test of the policies: with the issued
 * tokens it asks Vault which capabilities each has on the test path (sys/capabilities-self, a
 * read-only question answered by the same ACL code that enforces requests): readonly must have read
 * and no write, readwrite must have create, read, update and delete. A write attempt, even one
 * expected to be denied, would change Vault when the policy is wrong, so a check never makes one.
 * Without issued tokens nothing can be asked without creating a token, so only a pass earlier in this
 * same run counts as done (the next run repeats the test; it is quick and leaves nothing behind).
 * API: https://developer.hashicorp.com/vault/api-docs/system/capabilities-self, secret/kv/kv-v2
 */
import { randomBytes } from 'node:crypto';
import { UserError } from '../../core/errors.js';
import type { Check, Planned, Step, StepContext } from '../../core/step.js';
import { VaultApiError, type AuthenticatedVault, type VaultApi } from '../../services/vault.js';
import { POLICY_NAMES, type PolicyName } from './policies.js';
import { adminClient, apiAddress, openVault, readTokensRecord, type VaultSession } from './session.js';

export const SELFTEST_STEP_ID = 'vault.selftest';
/** Under the KV mount; removed after every test. */
export const SELFTEST_SECRET_PATH = 'picluster-vault-tui/selftest';
export const SELFTEST_COLUMNS = ['token', 'action', 'expected', 'got', 'result'];
const TEMPORARY_TOKEN_TTL = '10m';

/** Capabilities each policy must (and must not) have on <kv>/data/<test path>. */
export const EXPECTED_CAPABILITIES: Record<PolicyName, { must: string[]; mustNot: string[] }> = {
  readonly: { must: ['read'], mustNot: ['create', 'update', 'delete', 'patch', 'sudo', 'root'] },
  readwrite: { must: ['create', 'read', 'update', 'delete'], mustNot: ['sudo', 'root'] },
};

/** What a capabilities answer says is wrong for a policy; empty when it is as expected. */
export function capabilityProblems(name: PolicyName, granted: string[]): string[] {
  const { must, mustNot } = EXPECTED_CAPABILITIES[name];
  return [
    ...must.filter((capability) => !granted.includes(capability)).map((capability) => `${name} lacks ${capability}`),
    ...mustNot.filter((capability) => granted.includes(capability)).map((capability) => `${name} has ${capability}`),
  ];
}

type Outcome = { kind: 'allowed'; value?: unknown } | { kind: 'denied' } | { kind: 'error'; message: string };

async function attempt(run: () => Promise<unknown>): Promise<Outcome> {
  try {
    return { kind: 'allowed', value: await run() };
  } catch (error) {
    if (error instanceof VaultApiError && error.statusCode === 403) return { kind: 'denied' };
    return { kind: 'error', message: error instanceof Error ? error.message : String(error) };
  }
}

function describeOutcome(outcome: Outcome, expectedValue?: string): string {
  if (outcome.kind === 'denied') return 'denied (403)';
  if (outcome.kind === 'error') return `error: ${outcome.message}`;
  if (expectedValue === undefined) return 'allowed';
  const value = (outcome.value as Record<string, unknown> | undefined)?.['value'];
  return value === expectedValue ? 'allowed, same value' : value === undefined ? 'allowed, no secret' : 'allowed, other value';
}

interface TestTokens {
  clients: Record<PolicyName, AuthenticatedVault>;
  /** Tokens made for this test only, revoked afterwards. */
  temporary: AuthenticatedVault[];
  source: string;
}

async function issuedClients(ctx: StepContext, session: VaultSession, vault: VaultApi): Promise<Record<PolicyName, AuthenticatedVault> | undefined> {
  if (!ctx.profile.vault.issueAccess) return undefined;
  const record = await readTokensRecord(ctx, session);
  const readonly = record?.tokens['readonly']?.token;
  const readwrite = record?.tokens['readwrite']?.token;
  if (!readonly || !readwrite) return undefined;
  return { readonly: vault.withToken(readonly), readwrite: vault.withToken(readwrite) };
}

async function testTokens(ctx: StepContext, session: VaultSession, vault: VaultApi): Promise<TestTokens> {
  const issued = await issuedClients(ctx, session, vault);
  if (issued) return { clients: issued, temporary: [], source: 'the issued tokens' };
  const admin = await adminClient(ctx, session, vault);
  const clients = {} as Record<PolicyName, AuthenticatedVault>;
  const temporary: AuthenticatedVault[] = [];
  for (const name of POLICY_NAMES) {
    const created = await admin.createToken({ policies: [name], ttl: TEMPORARY_TOKEN_TTL, displayName: `picluster-selftest-${name}` });
    ctx.registerSecret(created.token);
    clients[name] = vault.withToken(created.token);
    temporary.push(clients[name]);
  }
  return { clients, temporary, source: `temporary tokens (TTL ${TEMPORARY_TOKEN_TTL}, revoked after the test)` };
}

export function selftestStep(session: VaultSession): Step {
  return {
    id: SELFTEST_STEP_ID,
    phase: 'vault',
    title: 'Self-test the policies',
    describe(ctx): Planned[] {
      const path = `${ctx.profile.vault.kvPath}/data/${SELFTEST_SECRET_PATH}`;
      return [
        { kind: 'api', summary: `readwrite token: write and read ${apiAddress(ctx)}/v1/${path}; readonly token: read (allowed) and write (must be 403)` },
        { kind: 'api', summary: `DELETE ${apiAddress(ctx)}/v1/${ctx.profile.vault.kvPath}/metadata/${SELFTEST_SECRET_PATH} (the test secret is removed)` },
      ];
    },
    async check(ctx): Promise<Check> {
      const vault = await openVault(ctx);
      let clients: Record<PolicyName, AuthenticatedVault> | undefined;
      try {
        clients = await issuedClients(ctx, session, vault);
      } catch (error) {
        if (!(error instanceof UserError)) throw error;
      }
      if (!clients) {
        return session.selftestPassed
          ? { state: 'done', detail: 'the self-test passed in this run' }
          : { state: 'todo', detail: 'no issued tokens to probe the policies with: the self-test runs with temporary tokens' };
      }
      const path = `${ctx.profile.vault.kvPath}/data/${SELFTEST_SECRET_PATH}`;
      const problems: string[] = [];
      for (const name of POLICY_NAMES) {
        try {
          problems.push(...capabilityProblems(name, (await clients[name].capabilitiesSelf([path]))[path] ?? []));
        } catch (error) {
          if (error instanceof VaultApiError && error.statusCode === 403) problems.push(`the ${name} token is not accepted`);
          else throw error;
        }
      }
      if (problems.length > 0) return { state: 'todo', detail: `capabilities on ${path}: ${problems.join(', ')}` };
      return { state: 'done', detail: `on ${path} readonly may read only and readwrite may write (capabilities of the issued tokens)` };
    },
    async apply(ctx) {
      const vault = await openVault(ctx);
      const mount = ctx.profile.vault.kvPath;
      const shown = `${mount}/${SELFTEST_SECRET_PATH}`;
      const tokens = await testTokens(ctx, session, vault);
      const { readonly, readwrite } = tokens.clients;
      ctx.log.info(`self-test with ${tokens.source} at ${shown}`);
      const value = randomBytes(18).toString('base64url');
      ctx.registerSecret(value);
      const rows: string[][] = [];
      const row = (token: string, action: string, expected: string, got: string): void => {
        rows.push([token, action, expected, got, got === expected ? 'pass' : 'FAIL']);
      };
      let removed = false;
      try {
        row('readwrite', `write ${shown}`, 'allowed', describeOutcome(await attempt(() => readwrite.kvWrite(mount, SELFTEST_SECRET_PATH, { value }))));
        row('readwrite', `read ${shown}`, 'allowed, same value', describeOutcome(await attempt(() => readwrite.kvRead(mount, SELFTEST_SECRET_PATH)), value));
        row('readonly', `read ${shown}`, 'allowed, same value', describeOutcome(await attempt(() => readonly.kvRead(mount, SELFTEST_SECRET_PATH)), value));
        row('readonly', `write ${shown}`, 'denied (403)', describeOutcome(await attempt(() => readonly.kvWrite(mount, SELFTEST_SECRET_PATH, { value: `${value}-changed` }))));
        const deletion = await attempt(() => readwrite.kvDeleteAll(mount, SELFTEST_SECRET_PATH));
        removed = deletion.kind === 'allowed';
        row('readwrite', `delete ${shown} (all versions)`, 'allowed', describeOutcome(deletion));
      } finally {
        for (const client of tokens.temporary) await client.revokeSelf().catch(() => undefined);
        // Whatever happened above, the test secret does not stay behind.
        if (!removed) {
          const admin = await adminClient(ctx, session, vault);
          await admin.kvDeleteAll(mount, SELFTEST_SECRET_PATH);
          ctx.log.info(`removed the test secret ${shown} with the configuration token`);
        }
      }
      ctx.present({ kind: 'table', title: 'Policy self-test', columns: SELFTEST_COLUMNS, rows });
      const failed = rows.filter((cells) => cells[4] !== 'pass');
      if (failed.length > 0) {
        throw new UserError(`policy self-test failed: ${failed.map((cells) => `${cells[0]} ${cells[1]}: expected ${cells[2]}, got ${cells[3]}`).join('; ')}`, {
          hint: 'the policies step writes the policies from assets/policies; run it again, or look at `vault policy read readonly` and `readwrite`',
        });
      }
      session.selftestPassed = true;
    },
  };
}
