/**
 * What every host step needs to know about the host (architecture, hostname, OS), asked once per
 * connection, and the one way the host steps run commands there: output streamed line by line
 * into the log pane, failures turned into messages that name what failed.
 */
import { UserError } from '../../core/errors.js';
import type { LogLevel, StepContext } from '../../core/step.js';
import { sh } from '../../services/host/shell-quote.js';
import type { ExecResult, Transport } from '../../services/host/transport.js';

export interface OsRelease {
  /** e.g. `debian`, `raspbian`, `ubuntu`. */
  id: string;
  /** e.g. `debian` for Raspberry Pi OS and Ubuntu. */
  idLike: string[];
  versionId: string;
  prettyName: string;
}

export interface HostFacts {
  /** `uname -m`, e.g. aarch64. Map it with vaultArchOf (which refuses unsupported ones). */
  machine: string;
  /** `uname -n`: Vault's raft node_id and a certificate name. */
  hostname: string;
  os: OsRelease;
}

const factsByTransport = new WeakMap<Transport, Promise<HostFacts>>();

/** Facts about the host behind ctx.services.host(), gathered once per transport. */
export async function hostFacts(ctx: StepContext): Promise<HostFacts> {
  const transport = await ctx.services.host();
  let facts = factsByTransport.get(transport);
  if (!facts) {
    facts = gatherFacts(transport, ctx.signal);
    factsByTransport.set(transport, facts);
    // A failed look (dropped connection, cancel) is asked again next time, not remembered.
    facts.catch(() => factsByTransport.delete(transport));
  }
  return facts;
}

const OS_MARK = '--- os-release ---';

async function gatherFacts(transport: Transport, signal: AbortSignal): Promise<HostFacts> {
  const result = await transport.exec(sh`uname -m; uname -n; echo ${OS_MARK}; cat /etc/os-release 2>/dev/null || cat /usr/lib/os-release 2>/dev/null || :`, {
    signal,
    timeoutMs: 30_000,
  });
  if (result.code !== 0) {
    throw new UserError(`cannot read the architecture and hostname of ${transport.description}: ${firstLine(result.stderr)}`);
  }
  const [head = '', osText = ''] = result.stdout.split(`${OS_MARK}\n`);
  const [machine = '', hostname = ''] = head.split('\n').map((line) => line.trim());
  if (!machine || !hostname) throw new UserError(`unexpected answer from uname on ${transport.description}: ${JSON.stringify(head)}`);
  return { machine, hostname, os: parseOsRelease(osText) };
}

/**
 * os-release(5): KEY=value lines, values optionally in shell-style quotes.
 * https://www.freedesktop.org/software/systemd/man/latest/os-release.html
 */
export function parseOsRelease(text: string): OsRelease {
  const values = new Map<string, string>();
  for (const line of text.split('\n')) {
    const match = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (!match) continue;
    let value = match[2]!;
    if (/^".*"$/.test(value)) value = value.slice(1, -1).replace(/\\([$"`\\])/g, '$1');
    else if (/^'.*'$/.test(value)) value = value.slice(1, -1);
    values.set(match[1]!, value);
  }
  const id = values.get('ID') ?? 'linux';
  return {
    id,
    idLike: (values.get('ID_LIKE') ?? '').split(/\s+/).filter(Boolean),
    versionId: values.get('VERSION_ID') ?? '',
    prettyName: values.get('PRETTY_NAME') ?? (values.get('NAME') ?? id),
  };
}

export function firstLine(text: string): string {
  return (
    text
      .split('\n')
      .map((line) => line.trim())
      .find((line) => line.length > 0) ?? 'no error message'
  );
}

export interface HostCommandOptions {
  sudo?: boolean;
  stdin?: string | Buffer;
  timeoutMs?: number;
  /**
   * Level of the command's output lines in the log: `info` while applying (the user watches it),
   * `debug` for the read-only looks of a check, `none` for output that is data (file contents).
   */
  echo?: LogLevel | 'none';
}

/** Runs a command on the host with its output streamed into the step's log; resolves with its exit code. */
export async function hostExec(ctx: StepContext, command: string, options: HostCommandOptions = {}): Promise<ExecResult> {
  const transport = await ctx.services.host();
  const echo = options.echo ?? 'debug';
  const emit = (source: string) =>
    echo === 'none'
      ? undefined
      : (line: string): void => {
          ctx.log[echo](line, source);
        };
  const onStdoutLine = emit('stdout');
  const onStderrLine = emit('stderr');
  return transport.exec(command, {
    signal: ctx.signal,
    ...(options.sudo ? { sudo: true } : {}),
    ...(options.stdin === undefined ? {} : { stdin: options.stdin }),
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    ...(onStdoutLine ? { onStdoutLine } : {}),
    ...(onStderrLine ? { onStderrLine } : {}),
  });
}

/**
 * Runs a command that must succeed; a non-zero exit becomes a UserError saying `what` failed,
 * with the command's first error line.
 */
export async function hostRun(ctx: StepContext, what: string, command: string, options: HostCommandOptions & { hint?: string } = {}): Promise<string> {
  const result = await hostExec(ctx, command, options);
  if (result.code !== 0) {
    const detail = firstLine(result.stderr || result.stdout);
    throw new UserError(`${what} failed on the host (exit ${result.code}): ${detail}`, options.hint === undefined ? {} : { hint: options.hint });
  }
  return result.stdout;
}
