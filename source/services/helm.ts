/**
 * The user's `helm` (Helm 3 or 4), run on this machine against the same kubeconfig and context as the
 * rest of the cluster phase. Output is streamed line by line to the caller (the log pane); arguments
 * go to execve as an array, never through a shell. No value passed here is secret.
 * Commands: https://helm.sh/docs/helm/helm_repo_add/, https://helm.sh/docs/helm/helm_repo_update/,
 * https://helm.sh/docs/helm/helm_upgrade/, https://helm.sh/docs/helm/helm_list/,
 * https://helm.sh/docs/helm/helm_history/, https://helm.sh/docs/helm/helm_rollback/,
 * https://helm.sh/docs/helm/helm_uninstall/
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';
import { CancelledError, UserError } from '../core/errors.js';
import { stripTerminalControls } from '../core/terminal-text.js';
import { isPendingStatus, listedStatus, parseHistory, type HelmRevision } from './helm-release.js';

export const HELM_INSTALL_HINT =
  'Install Helm 3 (https://helm.sh/docs/intro/install/), e.g. `curl -fsSL https://raw.githubusercontent.com/helm/helm/main/scripts/get-helm-3 | bash`, or with your package manager (brew install helm, snap install helm --classic), then run the step again.';

export type HelmStream = 'stdout' | 'stderr';

/** Wall-clock limit of a `helm repo` command (it only fetches an index). */
const REPO_TIMEOUT_MS = 120_000;
/** Wall-clock limit of reading a release's record (`list`, `history`: a few API reads). */
const READ_TIMEOUT_MS = 60_000;
/**
 * Beyond helm's own --timeout: helm's --timeout bounds its wait for the resources (and hooks), not a
 * request the API never answers, so the product's limit comes after it — helm times out first and
 * records the release `failed` itself.
 */
const RELEASE_TIMEOUT_MARGIN_S = 120;
/** helm's --timeout when the caller asks for none (helm's own default, 5m). */
const HELM_DEFAULT_TIMEOUT_S = 300;
/**
 * Between SIGTERM and SIGKILL. Since helm 3.7 (helm/helm#9180) `install` and `upgrade` catch SIGTERM
 * and SIGINT, cancel their context and write the release `failed` (pkg/action/upgrade.go
 * handleContext → failRelease; install.go the same) before they exit; a SIGKILL before that write
 * leaves the record `pending-install`/`pending-upgrade`, and every later upgrade is refused
 * (helm/helm#10599). So a command that changes a release gets 30 s for that write — it is one API
 * request, done in well under a second when the API answers; one that does not is why the SIGKILL
 * still comes. A command that changes no release (repo, list, history) has nothing to record.
 */
const RELEASE_KILL_GRACE_MS = 30_000;
const KILL_GRACE_MS = 5_000;

export interface RunOptions {
  /** Wall-clock limit; after it helm is stopped (SIGTERM, then SIGKILL after killGraceMs). */
  timeoutMs?: number;
  /** Between SIGTERM and SIGKILL, when helm is stopped (the limit, or the run cancelled). */
  killGraceMs?: number;
  /** stdout is the command's data (JSON), not progress: it is returned, not streamed to onLine. */
  quiet?: boolean;
}

export interface HelmOptions {
  kubeconfigPath: string;
  context: string;
  /** Receives every output line as it arrives. */
  onLine: (line: string, stream: HelmStream) => void;
  /** Environment of the helm process (default: this process's); PATH is searched for `helm`. */
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
}

export interface HelmResult {
  stdout: string;
  stderr: string;
}

export interface UpgradeInstall {
  release: string;
  /** `repo/chart` */
  chart: string;
  namespace: string;
  version?: string;
  /** --set name=value pairs, in order. */
  set?: Readonly<Record<string, string>>;
  /** --wait with this --timeout in seconds (Helm's own default is 5m). */
  waitSeconds?: number;
}

/** The first executable `helm` on PATH, or undefined. */
export function findHelm(env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const dir of (env['PATH'] ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, 'helm');
    try {
      if (!statSync(candidate).isFile()) continue;
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not here: the next PATH entry.
    }
  }
  return undefined;
}

export class Helm {
  private constructor(
    readonly executable: string,
    private readonly options: HelmOptions,
  ) {}

  /** Finds helm on PATH; a missing helm is a UserError with the install command. */
  static locate(options: HelmOptions): Helm {
    const executable = findHelm(options.env ?? process.env);
    if (!executable) throw new UserError('helm was not found on PATH', { hint: HELM_INSTALL_HINT });
    return new Helm(executable, options);
  }

  async repoAdd(name: string, url: string, options: { caFile?: string } = {}): Promise<void> {
    // --force-update: an existing entry with another URL (or CA) is replaced instead of failing.
    await this.run(['repo', 'add', name, url, '--force-update', ...(options.caFile ? ['--ca-file', options.caFile] : [])], REPO_TIMEOUT_MS);
  }

  async repoUpdate(): Promise<void> {
    await this.run(['repo', 'update'], REPO_TIMEOUT_MS);
  }

  async upgradeInstall(request: UpgradeInstall): Promise<HelmResult> {
    const args = ['upgrade', '--install', request.release, request.chart, '--namespace', request.namespace, '--create-namespace'];
    if (request.version) args.push('--version', request.version);
    for (const [name, value] of Object.entries(request.set ?? {})) args.push('--set', `${name}=${value}`);
    if (request.waitSeconds !== undefined) args.push('--wait', '--timeout', `${request.waitSeconds}s`);
    return this.run(args, releaseRunOptions(request.waitSeconds));
  }

  /**
   * The release's revisions (oldest first) when its newest one is pending — a helm stopped before it
   * recorded the end of its install, upgrade or rollback — else undefined (also when there is no
   * such release). `list --pending` answers both without an error to read: an empty list is "none".
   */
  async pendingHistory(release: string, namespace: string): Promise<HelmRevision[] | undefined> {
    const listed = await this.run(['list', '--namespace', namespace, '--pending', '--filter', `^${escapeRegExp(release)}$`, '--output', 'json'], { timeoutMs: READ_TIMEOUT_MS, quiet: true });
    const found = listedStatus(listed.stdout, release);
    if (!found || !isPendingStatus(found.status)) return undefined;
    return parseHistory((await this.run(['history', release, '--namespace', namespace, '--output', 'json'], { timeoutMs: READ_TIMEOUT_MS, quiet: true })).stdout);
  }

  /** `helm rollback RELEASE REVISION --wait`: a new revision with REVISION's chart and values. */
  async rollback(release: string, namespace: string, revision: number, waitSeconds: number): Promise<HelmResult> {
    return this.run(['rollback', release, String(revision), '--namespace', namespace, '--wait', '--timeout', `${waitSeconds}s`], releaseRunOptions(waitSeconds));
  }

  /** `helm uninstall RELEASE --wait`: waits until what it deletes is gone, so an install after it does not meet it terminating. */
  async uninstall(release: string, namespace: string, waitSeconds: number): Promise<HelmResult> {
    return this.run(['uninstall', release, '--namespace', namespace, '--wait', '--timeout', `${waitSeconds}s`], releaseRunOptions(waitSeconds));
  }

  /**
   * Runs `helm ARGS --kubeconfig K --kube-context C`; a non-zero exit is a UserError quoting helm's
   * error. After the wall-clock limit helm is stopped (SIGTERM, then SIGKILL `killGraceMs` later) and
   * that is the error: an API that accepts connections and never answers would otherwise hold the
   * run forever. A cancelled run stops helm the same way and settles once helm has exited (or was
   * killed), so that helm's own SIGTERM handling can record the release before the product goes on.
   */
  run(args: readonly string[], limit: number | RunOptions = REPO_TIMEOUT_MS): Promise<HelmResult> {
    const { timeoutMs = REPO_TIMEOUT_MS, killGraceMs = KILL_GRACE_MS, quiet = false } = typeof limit === 'number' ? { timeoutMs: limit } : limit;
    const { kubeconfigPath, context, onLine, env, signal } = this.options;
    const fullArgs = [...args, '--kubeconfig', kubeconfigPath, '--kube-context', context];
    const shown = `helm ${args.join(' ')}`;
    return new Promise<HelmResult>((resolve, reject) => {
      if (signal?.aborted) {
        reject(new CancelledError(`${shown} was cancelled`));
        return;
      }
      // Not spawn's `signal` option: it kills with SIGTERM and reports the abort at once, before
      // helm has written its release record; here the promise settles when helm has exited.
      const child = spawn(this.executable, fullArgs, { env: env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
      const output: Record<HelmStream, string> = { stdout: '', stderr: '' };
      const partial: Record<HelmStream, string> = { stdout: '', stderr: '' };
      const emit = (line: string, stream: HelmStream): void => {
        if (quiet && stream === 'stdout') return;
        // A chart's text (NOTES) is the chart author's: no escape sequence of it reaches the terminal.
        onLine(stripTerminalControls(line), stream);
      };
      const take = (stream: HelmStream) => (chunk: Buffer) => {
        const text = chunk.toString('utf8');
        output[stream] += text;
        const lines = (partial[stream] + text).split('\n');
        partial[stream] = lines.pop() ?? '';
        for (const line of lines) emit(line.replace(/\r$/, ''), stream);
      };
      let timedOut = false;
      let killTimer: NodeJS.Timeout | undefined;
      const stop = (): void => {
        if (killTimer) return;
        child.kill('SIGTERM');
        killTimer = setTimeout(() => child.kill('SIGKILL'), killGraceMs);
        killTimer.unref();
      };
      const timer = setTimeout(() => {
        timedOut = true;
        stop();
      }, timeoutMs);
      signal?.addEventListener('abort', stop, { once: true });
      const settle = (): void => {
        clearTimeout(timer);
        if (killTimer) clearTimeout(killTimer);
        signal?.removeEventListener('abort', stop);
      };
      child.stdout.on('data', take('stdout'));
      child.stderr.on('data', take('stderr'));
      child.on('error', (error) => {
        settle();
        reject(new UserError(`${shown} could not be started: ${error.message}`, { hint: HELM_INSTALL_HINT, cause: error }));
      });
      child.on('close', (code, killedBy) => {
        settle();
        for (const stream of ['stdout', 'stderr'] as const) if (partial[stream]) emit(partial[stream], stream);
        if (signal?.aborted) {
          reject(new CancelledError(`${shown} was cancelled`));
          return;
        }
        if (timedOut) {
          reject(
            new UserError(`${shown} did not finish within ${Math.round(timeoutMs / 1000)} s and was stopped`, {
              hint: `Check that the Kubernetes API answers (kubectl --context ${context} get --raw /readyz), then run the step again; helm's output so far is in the log.`,
            }),
          );
          return;
        }
        if (code === 0) {
          resolve(output);
          return;
        }
        const lastError = output.stderr.trim().split('\n').filter((line) => line.trim()).at(-1) ?? '';
        reject(
          new UserError(`${shown} failed (${killedBy ? `killed by ${killedBy}` : `exit ${code}`})${lastError ? `: ${stripTerminalControls(lastError)}` : ''}`, {
            hint: 'helm\'s whole output is in the log; run the same command by hand with --debug for more.',
          }),
        );
      });
    });
  }
}

/** For a command that changes a release: a limit past helm's own --timeout, and time for its SIGTERM cleanup. */
function releaseRunOptions(waitSeconds: number | undefined): RunOptions {
  return { timeoutMs: ((waitSeconds ?? HELM_DEFAULT_TIMEOUT_S) + RELEASE_TIMEOUT_MARGIN_S) * 1000, killGraceMs: RELEASE_KILL_GRACE_MS };
}

/** `name` as a regular expression matching only itself (helm's --filter is one). */
function escapeRegExp(name: string): string {
  return name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
