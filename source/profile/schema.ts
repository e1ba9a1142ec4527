/**
 * The profile: everything the product needs to know to set up and later re-check one Vault host
 * and its cluster. It holds NO secret (no password, key, token): those live in custody or in memory.
 * Every field is validated with the shared validators so the form, `profile set`, `profile import`
 * and loading a file all give the same message for the same mistake.
 */
import * as z from 'zod';
import {
  validateHost,
  validateHttpsUrl,
  validateIp,
  validateK8sName,
  validateLocalPath,
  validateMountPath,
  validateSan,
  validateServerDirectory,
  validateShares,
  validateUrl,
  validateUserName,
  validateVaultVersion,
  type Validator,
} from '../core/validate.js';
import { SERVER_KINDS, type ServerKind } from '../core/server.js';

/** Turns a shared validator into a zod refinement with the same message. */
function checked(validator: Validator) {
  return z.string().superRefine((value, ctx) => {
    const message = validator(value);
    if (message) ctx.addIssue({ code: 'custom', message });
  });
}

/**
 * The external-secrets/external-secrets chart version installed when cluster.esoChartVersion is
 * unset: the version the end-to-end suite installs and tests against (the lab builds ESO v0.16.2
 * and serves that chart; test/lab/kube/versions.ts KUBE_VERSIONS.eso must be the same). Not written
 * into profiles: a profile that leaves it unset follows this when the product moves to a newer tested
 * version. Another version: `profile set cluster.esoChartVersion=X` (the profile's value wins);
 * `cluster.esoChartVersion=` goes back to this one.
 */
export const DEFAULT_ESO_CHART_VERSION = '0.16.2';

/** The ESO chart version to install: the profile's (without a leading v), else DEFAULT_ESO_CHART_VERSION. */
export function esoChartVersionOf(cluster: { esoChartVersion?: string | undefined }): string {
  return (cluster.esoChartVersion ?? DEFAULT_ESO_CHART_VERSION).replace(/^v/, '');
}

/**
 * What an optional key means when it is unset, where that is one fixed value the product picks at
 * use rather than a schema default written into the profile (`profile keys` and `profile show` say it).
 */
export const UNSET_MEANS: Readonly<Record<string, string>> = { 'cluster.esoChartVersion': DEFAULT_ESO_CHART_VERSION };

const port = z.number().int('must be a whole number').min(1, 'must be from 1 to 65535').max(65535, 'must be from 1 to 65535');

export const HostKeyPinSchema = z.object({
  /** ssh key type, e.g. ssh-ed25519 */
  algorithm: z.string().min(1),
  /** OpenSSH-style fingerprint: `SHA256:` + unpadded base64 of the key's SHA-256. */
  fingerprint: z.string().regex(/^SHA256:[A-Za-z0-9+/]{43}$/, 'must look like SHA256:<43 base64 characters>'),
});

export const HostSchema = z.object({
  /** `local` when the tool runs on the Vault host itself. */
  transport: z.enum(['ssh', 'local']).default('ssh'),
  address: checked(validateHost).default('raspberrypi.local'),
  port: port.default(22),
  user: checked(validateUserName).default('pi'),
  auth: z.enum(['agent', 'key', 'password']).default('agent'),
  /** Private key for auth=key (its passphrase is asked, never stored). */
  keyFile: checked(validateLocalPath).optional(),
  /** Pinned host key, set after the user accepted an unknown key (TOFU). */
  hostKey: HostKeyPinSchema.optional(),
});

export const TlsSchema = z.object({
  /** generate: our own CA (kept in local custody) signs a server certificate. provided: the user's files. */
  mode: z.enum(['generate', 'provided']).default('generate'),
  /** Extra subjectAltNames besides node IP, hostname, 127.0.0.1 and localhost. */
  extraSans: z.array(checked(validateSan)).default([]),
  certFile: checked(validateLocalPath).optional(),
  keyFile: checked(validateLocalPath).optional(),
  caFile: checked(validateLocalPath).optional(),
  /** Server certificate lifetime. */
  validityDays: z.number().int().min(1).max(3650).default(825),
});

export const VaultSchema = z
  .object({
    /**
     * Which server: HashiCorp Vault or OpenBao (its API-compatible fork). Names, paths, release site
     * and CLI follow it (core/server.ts); a host already running the other one is refused, never migrated.
     */
    server: z.enum(SERVER_KINDS as [ServerKind, ...ServerKind[]]).default('vault'),
    version: checked(validateVaultVersion).default('latest'),
    /** Release site; unset = the server's official one (releases.hashicorp.com, OpenBao's GitHub releases). */
    releaseBaseUrl: checked(validateUrl).optional(),
    /** HTTP(S) proxy the host uses to reach the release site. */
    httpProxy: checked(validateUrl).optional(),
    /** The node's IP address: api_addr, certificate SAN, and where the product reaches the API. */
    nodeIp: checked(validateIp).optional(),
    apiPort: port.default(8200),
    clusterPort: port.default(8201),
    /** Override of the API address the product uses (default https://<nodeIp>:<apiPort>). */
    apiAddress: checked(validateHttpsUrl).optional(),
    tls: TlsSchema.default(() => TlsSchema.parse({})),
    keyShares: z.number().int().default(5),
    keyThreshold: z.number().int().default(3),
    /** Install <configDir>/unseal.json + the <server>-unseal.service unit so the server unseals itself after every start (a homelab trade-off: the keys sit on the host). */
    autoUnseal: z.boolean().default(true),
    /** Mount path of the KV v2 engine the cluster reads from. */
    kvPath: checked(validateMountPath).default('secret'),
    /** Issue a readonly and a readwrite token after the policies (key names avoid "token": profiles hold no secrets). */
    issueAccess: z.boolean().default(true),
    /** TTL of the issued tokens, in Vault's duration syntax (e.g. 768h). */
    accessTtl: z.string().regex(/^\d{1,6}[smhd]$/, 'must be a duration like 768h, 30d or 3600s').default('768h'),
    /** Revoke the root token at the end of the vault phase (a new one: `vault operator generate-root`). */
    revokeRootAtEnd: z.boolean().default(false),
    /**
     * Install from this local release archive (uploaded over SFTP and verified) instead of downloading
     * it on the host: Vault's vault_<v>_linux_<arch>.zip, or OpenBao's openbao_<v>_linux_<arch>.tar.gz,
     * with the release's checksum file beside it.
     */
    localZip: checked(validateLocalPath).optional(),
    /** Unset = the server's own default: /etc/vault, /etc/openbao. */
    configDir: checked(validateServerDirectory).optional(),
    /** Unset = the server's own default: /var/lib/vault, /var/lib/openbao. */
    dataDir: checked(validateServerDirectory).optional(),
  })
  .superRefine((vault, ctx) => {
    const message = validateShares(vault.keyShares, vault.keyThreshold);
    if (message) ctx.addIssue({ code: 'custom', message, path: ['keyThreshold'] });
  });

export const ClusterSchema = z.object({
  /** Kubeconfig file; default KUBECONFIG or ~/.kube/config (on the Pi: /etc/rancher/k3s/k3s.yaml). */
  kubeconfig: checked(validateLocalPath).optional(),
  context: z.string().min(1).max(253).optional(),
  /** Kubernetes API address reachable from the Vault host (the kubeconfig's is often 127.0.0.1). */
  apiAddressForVault: checked(validateHttpsUrl).optional(),
  authMountPath: checked(validateMountPath).default('kubernetes'),
  esoNamespace: checked(validateK8sName).default('external-secrets'),
  /**
   * The chart repository ESO is installed from (default https://charts.external-secrets.io): a
   * mirror of it, for a cluster that cannot reach the internet. HTTPS only.
   */
  esoChartRepository: checked(validateHttpsUrl).optional(),
  /** CA bundle (PEM) that signs the chart repository's certificate, when a public CA does not (helm --ca-file). */
  esoChartRepositoryCaFile: checked(validateLocalPath).optional(),
  /** Chart version of external-secrets/external-secrets to install; unset = DEFAULT_ESO_CHART_VERSION (0.16.2, the tested one). */
  esoChartVersion: z
    .string()
    .regex(/^v?\d{1,4}\.\d{1,4}\.\d{1,4}(-[0-9A-Za-z.-]{1,40})?$/, 'must be a chart version like 0.20.4 or 1.1.0')
    .optional(),
  /**
   * Audience of the service account token ESO presents to Vault: the ClusterSecretStore asks for
   * it (serviceAccountRef.audiences) and the Vault role requires it (audience), so a token minted
   * for another service cannot log in.
   */
  esoAudience: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9:/._-]{0,252}$/, 'must be an audience name like vault (letters, digits and : / . _ -)')
    .default('vault'),
  /** Keep the verification ExternalSecret, its Secret and Vault value as a working example instead of removing them. */
  keepVerifyExample: z.boolean().default(false),
});

export const StepProgressSchema = z.object({
  state: z.enum(['done', 'failed', 'running', 'cancelled']),
  at: z.string(),
  durationMs: z.number().nonnegative().optional(),
  /** Redacted error message of the last failure. */
  error: z.string().optional(),
});

export const LastRunSchema = z.object({
  mode: z.enum(['apply', 'check']),
  startedAt: z.string(),
  endedAt: z.string().optional(),
  /** Missing endedAt/result = the run was interrupted (crash, power cut, SSH drop). */
  result: z.enum(['ok', 'failed', 'cancelled', 'drift']).optional(),
  failedStep: z.string().optional(),
});

export const PROFILE_SCHEMA_VERSION = 1;

export const ProfileSchema = z.object({
  schemaVersion: z.literal(PROFILE_SCHEMA_VERSION).default(PROFILE_SCHEMA_VERSION),
  host: HostSchema.default(() => HostSchema.parse({})),
  vault: VaultSchema.default(() => VaultSchema.parse({})),
  cluster: ClusterSchema.default(() => ClusterSchema.parse({})),
  /** Display only: checks are the truth. */
  progress: z.record(z.string(), StepProgressSchema).default({}),
  lastRun: LastRunSchema.optional(),
});

export type Profile = z.infer<typeof ProfileSchema>;
export type ProfileInput = z.input<typeof ProfileSchema>;
export type StepProgress = z.infer<typeof StepProgressSchema>;
export type LastRun = z.infer<typeof LastRunSchema>;

export function defaultProfile(): Profile {
  return ProfileSchema.parse({});
}
