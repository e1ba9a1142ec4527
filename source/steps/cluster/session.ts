/**
 * What the cluster phase's steps share: one ClusterClient per plan, opened from the profile's
 * kubeconfig and context the first time a step needs it (so a plan without cluster steps never loads
 * client-node), the Vault session (the root token is asked at most once per run, whatever the phase),
 * and the names of the objects the phase manages.
 */
import type { StepContext } from '../../core/step.js';
import { openCluster, type ClusterClient } from '../../services/cluster.js';
import { kubeconfigReadOptions } from '../../services/cluster-status.js';
import { VaultSession } from '../vault/session.js';

/** The reviewer account Vault's kubernetes auth method uses to call the TokenReview API. */
export const REVIEWER = {
  namespace: 'vault',
  serviceAccount: 'vault-auth',
  binding: 'vault-auth-delegator',
  tokenSecret: 'vault-auth-token',
} as const;

/** External Secrets Operator as the chart installs it, and what this product creates for it. */
export const ESO = {
  /** https://external-secrets.io/latest/introduction/getting-started/ */
  repoName: 'external-secrets',
  repoUrl: 'https://charts.external-secrets.io',
  chart: 'external-secrets/external-secrets',
  release: 'external-secrets',
  /** The chart's controller Deployment and service account carry this label. */
  controllerLabel: 'app.kubernetes.io/name=external-secrets',
  /**
   * The chart's admission webhook (it validates every store and ExternalSecret) and the
   * cert-controller that issues the webhook's certificate; either may be disabled in the chart.
   */
  webhookLabel: 'app.kubernetes.io/name=external-secrets-webhook',
  certControllerLabel: 'app.kubernetes.io/name=external-secrets-cert-controller',
  /** The chart's default service account name (release name). */
  defaultServiceAccount: 'external-secrets',
  group: 'external-secrets.io',
  /** The Vault role ESO logs in with (auth/<mount>/role/<name>). */
  vaultRole: 'external-secrets',
  store: 'vault-backend',
} as const;

/** The verification: a value in Vault, an ExternalSecret that syncs it, in a namespace of its own. */
export const VERIFY = {
  namespace: 'vault-eso-check',
  externalSecret: 'vault-eso-check',
  targetSecret: 'vault-eso-check',
  /** Below the KV mount: <kvPath>/<key>. */
  vaultKey: 'picluster-vault-tui/eso-check',
  property: 'value',
  /** On the ClusterSecretStore: the store generation a sync was last proven with. */
  annotation: 'picluster-vault-tui/verified-generation',
} as const;

export interface ClusterStepOptions {
  /** How long apply waits for the token controller to fill the reviewer token (default 60 s). */
  tokenWaitMs?: number;
  /** How long apply waits for the ClusterSecretStore to become Ready (default 90 s). */
  storeWaitMs?: number;
  /** How long a store that ESO keeps reporting Ready=False is waited for before its message is shown (default 20 s). */
  storeFailAfterMs?: number;
  /** How long apply waits for the verification ExternalSecret to sync (default 90 s). */
  syncWaitMs?: number;
  /** How long apply waits for a controller Deployment not installed by helm to become ready (default 120 s). */
  controllerWaitMs?: number;
  /** Environment helm runs in (PATH is searched for `helm`); default this process's. */
  helmEnv?: NodeJS.ProcessEnv;
  /**
   * A helm release left pending by a stopped helm is rolled back (or uninstalled) without asking
   * (`setup --recover-helm`). Without it the step asks, and a run with no one to ask stops.
   */
  recoverHelm?: boolean;
  /** Opens the cluster; defaults to the profile's kubeconfig and context. */
  open?: (ctx: StepContext) => Promise<ClusterClient>;
  /** The Vault session shared with the vault phase of the same plan. */
  vault?: VaultSession;
}

export class ClusterSession {
  readonly tokenWaitMs: number;
  readonly storeWaitMs: number;
  readonly storeFailAfterMs: number;
  readonly syncWaitMs: number;
  readonly controllerWaitMs: number;
  readonly helmEnv: NodeJS.ProcessEnv | undefined;
  readonly recoverHelm: boolean;
  readonly vault: VaultSession;
  private readonly open: (ctx: StepContext) => Promise<ClusterClient>;
  private client: Promise<ClusterClient> | undefined;

  constructor(options: ClusterStepOptions = {}) {
    this.tokenWaitMs = options.tokenWaitMs ?? 60_000;
    this.storeWaitMs = options.storeWaitMs ?? 90_000;
    this.storeFailAfterMs = options.storeFailAfterMs ?? 20_000;
    this.syncWaitMs = options.syncWaitMs ?? 90_000;
    this.controllerWaitMs = options.controllerWaitMs ?? 120_000;
    this.helmEnv = options.helmEnv;
    this.recoverHelm = options.recoverHelm ?? false;
    this.vault = options.vault ?? new VaultSession();
    this.open = options.open ?? ((ctx) => openCluster(ctx.profile.cluster, kubeconfigReadOptions(ctx.profile, () => ctx.services.host(), ctx.signal)));
  }

  cluster(ctx: StepContext): Promise<ClusterClient> {
    if (!this.client) {
      this.client = this.open(ctx);
      // A failed open (missing kubeconfig) is retried by the next step or run, not remembered.
      this.client.catch(() => {
        this.client = undefined;
      });
    }
    return this.client;
  }
}
