/**
 * What the cluster phase's steps share: one ClusterClient per plan, opened from the profile's
 * kubeconfig and context the first time a step needs it (so a plan without cluster steps never loads
 * client-node), and the names of the objects the phase manages.
 */
import type { StepContext } from '../../core/step.js';
import { openCluster, type ClusterClient } from '../../services/cluster.js';

/** The reviewer account Vault's kubernetes auth method uses to call the TokenReview API. */
export const REVIEWER = {
  namespace: 'vault',
  serviceAccount: 'vault-auth',
  binding: 'vault-auth-delegator',
  tokenSecret: 'vault-auth-token',
} as const;

export interface ClusterStepOptions {
  /** How long apply waits for the token controller to fill the reviewer token (default 60 s). */
  tokenWaitMs?: number;
  /** Opens the cluster; defaults to the profile's kubeconfig and context. */
  open?: (ctx: StepContext) => Promise<ClusterClient>;
}

export class ClusterSession {
  readonly tokenWaitMs: number;
  private readonly open: (ctx: StepContext) => Promise<ClusterClient>;
  private client: Promise<ClusterClient> | undefined;

  constructor(options: ClusterStepOptions = {}) {
    this.tokenWaitMs = options.tokenWaitMs ?? 60_000;
    this.open = options.open ?? ((ctx) => openCluster(ctx.profile.cluster));
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
