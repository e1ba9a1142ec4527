/**
 * The user's `helm` (Helm 3), run on this machine against the same kubeconfig and context as the
 * rest of the cluster phase. Output is streamed line by line to the caller (the log pane); arguments
 * go to execve as an array, never through a shell. No value passed here is secret.
 * Commands: https://helm.sh/docs/helm/helm_repo_add/, https://helm.sh/docs/helm/helm_repo_update/,
 * https://helm.sh/docs/helm/helm_upgrade/
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';
import { isAbortError, UserError } from '../core/errors.js';
import { stripTerminalControls } from '../core/terminal-text.js';

export const HELM_INSTALL_HINT =
  'Install Helm 3 (https://helm.sh/docs/intro/install/), e.g. `curl -fsSL https://raw.githubusercontent.com/helm/helm/main/scripts/get-helm-3 | bash`, or with your package manager (brew install helm, snap install helm --classic), then run the step again.';

export type HelmStream = 'stdout' | 'stderr';

/** Wall-clock limit of a `helm repo` command (it only fetches an index). */
const REPO_TIMEOUT_MS = 120_000;

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
    // helm's --timeout bounds its wait for the resources, not a request the API never answers.
    return this.run(args, ((request.waitSeconds ?? 300) + 120) * 1000);
  }

  /**
   * Runs `helm ARGS --kubeconfig K --kube-context C`; a non-zero exit is a UserError quoting helm's
   * error. After `timeoutMs` of wall time helm is stopped (SIGTERM, then SIGKILL 5 s later) and that is
   * the error: an API that accepts connections and never answers would otherwise hold the run forever.
   */
  run(args: readonly string[], timeoutMs = REPO_TIMEOUT_MS): Promise<HelmResult> {
    const { kubeconfigPath, context, onLine, env, signal } = this.options;
    const fullArgs = [...args, '--kubeconfig', kubeconfigPath, '--kube-context', context];
    const shown = `helm ${args.join(' ')}`;
    return new Promise<HelmResult>((resolve, reject) => {
      const child = spawn(this.executable, fullArgs, { env: env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'], ...(signal ? { signal } : {}) });
      const output: Record<HelmStream, string> = { stdout: '', stderr: '' };
      const partial: Record<HelmStream, string> = { stdout: '', stderr: '' };
      const take = (stream: HelmStream) => (chunk: Buffer) => {
        const text = chunk.toString('utf8');
        output[stream] += text;
        const lines = (partial[stream] + text).split('\n');
        partial[stream] = lines.pop() ?? '';
        // A chart's text (NOTES) is the chart author's: no escape sequence of it reaches the terminal.
        for (const line of lines) onLine(stripTerminalControls(line.replace(/\r$/, '')), stream);
      };
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      }, timeoutMs);
      child.stdout.on('data', take('stdout'));
      child.stderr.on('data', take('stderr'));
      child.on('error', (error) => {
        if (isAbortError(error)) reject(error);
        else reject(new UserError(`${shown} could not be started: ${error.message}`, { hint: HELM_INSTALL_HINT, cause: error }));
      });
      child.on('close', (code, killedBy) => {
        clearTimeout(timer);
        for (const stream of ['stdout', 'stderr'] as const) if (partial[stream]) onLine(stripTerminalControls(partial[stream]), stream);
        if (signal?.aborted) return; // the 'error' event already rejected with the abort
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
          new UserError(`${shown} failed (${killedBy ? `killed by ${killedBy}` : `exit ${code}`})${lastError ? `: ${lastError}` : ''}`, {
            hint: 'helm\'s whole output is in the log; run the same command by hand with --debug for more.',
          }),
        );
      });
    });
  }
}
