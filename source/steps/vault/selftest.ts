/**
 * vault.selftest: the guide's policy check, automated. With the readwrite token a test secret is
 * written and read back; with the readonly token it is read (allowed) and written (must be denied,
 * 403); then the secret is removed with every version (metadata delete). The result is a table; any
 * row that is not as expected fails the step.
 *
 * Which tokens: the issued ones from custody (what the user actually holds); without them
 * (vault.issueAccess off) short-lived tokens made for the test and revoked after it.
 *
 * check — "done" means: the last self-test passed against exactly the policy texts Vault holds now,
 * and the issued tokens still have the capabilities it found. A record of the pass (custody
 * selftest.json: when, and a SHA-256 of both policy texts as Vault returned them) is compared with the
 * policies read from Vault; with issued tokens, Vault is also asked which capabilities each token has
 * on the test path (sys/capabilities-self: a read-only question answered by the same ACL code that
 * enforces requests). A check never makes a write, not even one expected to be denied: when the
 * policy is wrong, that write would change Vault. So a changed policy (even changed back by the
 * policies step to a text not yet tested), a lost record or a token lacking a capability is todo, and
 * apply runs the real test again.
 * API: https://developer.hashicorp.com/vault/api-docs/system/capabilities-self, secret/kv/kv-v2
 */
import { createHash, randomBytes } from 'node:crypto';
import { unlink } from 'node:fs/promises';
import { UserError } from '../../core/errors.js';
import { serverOf } from '../../core/server.js';
import type { Check, Planned, Step, StepContext } from '../../core/step.js';
import { VaultApiError, type AuthenticatedVault, type VaultApi } from '../../services/vault.js';
import { custodyExists, custodyPath, readCustody, writeCustody } from '../../profile/custody.js';
import { normalizePolicy, POLICY_NAMES, type PolicyName } from './policies.js';
import { adminClient, apiAddress, openVault, readTokensRecord, type VaultSession } from './session.js';
import { grantedTtl } from './token-ttl.js';

export const SELFTEST_STEP_ID = 'vault.selftest';
/** Under the KV mount; removed after every test. */
export const SELFTEST_SECRET_PATH = 'picluster-vault-tui/selftest';
export const SELFTEST_COLUMNS = ['token', 'action', 'expected', 'got', 'result'];
const TEMPORARY_TOKEN_TTL = '10m';
/** The record of the last passed self-test (no secret in it). */
export const SELFTEST_CUSTODY_NAME = 'selftest.json';

interface SelftestRecord {
  version: 1;
  vaultAddress: string;
  passedAt: string;
  /** SHA-256 over the normalized texts of the policies the test passed with. */
  policiesSha256: string;
}

/** What the policies are now in Vault, as one hash (a missing policy hashes as such). */
async function policiesFingerprint(admin: AuthenticatedVault): Promise<string> {
  const hash = createHash('sha256');
  for (const name of POLICY_NAMES) {
    const text = await admin.readPolicy(name);
    hash.update(`${name}\0${text === undefined ? '<missing>' : normalizePolicy(text)}\0`);
  }
  return hash.digest('hex');
}

async function readSelftestRecord(profileName: string): Promise<SelftestRecord | undefined> {
  if (!(await custodyExists(profileName, SELFTEST_CUSTODY_NAME))) return undefined;
  try {
    const record = JSON.parse((await readCustody(profileName, SELFTEST_CUSTODY_NAME)).toString('utf8')) as Partial<SelftestRecord>;
    return record.version === 1 && typeof record.policiesSha256 === 'string' ? (record as SelftestRecord) : undefined;
  } catch (error) {
    // An unreadable record only means the test runs again; a custody rule broken (mode) is said.
    if (error instanceof SyntaxError) return undefined;
    throw error;
  }
}

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
  const ttls = new Set<string>();
  for (const name of POLICY_NAMES) {
    const created = await admin.createToken({ policies: [name], ttl: TEMPORARY_TOKEN_TTL, displayName: `picluster-selftest-${name}` });
    ctx.registerSecret(created.token);
    clients[name] = vault.withToken(created.token);
    temporary.push(clients[name]);
    // The TTL Vault granted (a creating token with less time left than asked caps it), not the one asked.
    ttls.add(grantedTtl(TEMPORARY_TOKEN_TTL, created.leaseDuration, serverOf(ctx.profile).name).text);
  }
  return { clients, temporary, source: `temporary tokens (TTL ${[...ttls].join(' / ')}, revoked after the test)` };
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
      const record = await readSelftestRecord(ctx.profileName);
      if (!record) return { state: 'todo', detail: 'the policies have not been self-tested yet' };
      const now = await policiesFingerprint(await adminClient(ctx, session, vault));
      if (now !== record.policiesSha256) return { state: 'todo', detail: `the policies changed since the self-test passed (${record.passedAt})` };
      const clients = await issuedClients(ctx, session, vault).catch((error: unknown) => {
        if (error instanceof UserError) return undefined;
        throw error;
      });
      const path = `${ctx.profile.vault.kvPath}/data/${SELFTEST_SECRET_PATH}`;
      const problems: string[] = [];
      for (const name of clients ? POLICY_NAMES : []) {
        try {
          problems.push(...capabilityProblems(name, (await clients![name].capabilitiesSelf([path]))[path] ?? []));
        } catch (error) {
          if (error instanceof VaultApiError && error.statusCode === 403) problems.push(`the ${name} token is not accepted`);
          else throw error;
        }
      }
      if (problems.length > 0) return { state: 'todo', detail: `capabilities on ${path}: ${problems.join(', ')}` };
      return { state: 'done', detail: `passed ${record.passedAt} with the policies Vault holds now${clients ? '; the issued tokens still have those capabilities' : ''}` };
    },
    async apply(ctx) {
      const vault = await openVault(ctx);
      const mount = ctx.profile.vault.kvPath;
      const shown = `${mount}/${SELFTEST_SECRET_PATH}`;
      const tokens = await testTokens(ctx, session, vault);
      const { readonly, readwrite } = tokens.clients;
      // The policies as they are while the test runs: the record says what was tested.
      const testedPolicies = await policiesFingerprint(await adminClient(ctx, session, vault));
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
      const record: SelftestRecord = { version: 1, vaultAddress: vault.address, passedAt: new Date().toISOString(), policiesSha256: testedPolicies };
      // A record, not a secret: the previous one is dropped rather than kept as a .bak (a crash in
      // between only means the test runs again).
      await unlink(custodyPath(ctx.profileName, SELFTEST_CUSTODY_NAME)).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT') throw error;
      });
      await writeCustody(ctx.profileName, SELFTEST_CUSTODY_NAME, `${JSON.stringify(record, null, 2)}\n`);
      ctx.log.info(`self-test passed; recorded in ${custodyPath(ctx.profileName, SELFTEST_CUSTODY_NAME)}`);
    },
  };
}
