/**
 * The Home screen's engine room: one long-lived connection to the host (opened on first use, closed
 * when the profile changes, the app unmounts or a signal ends it), the status polling over it, and
 * the actions that are not runs of the plan — seal, snapshot, live logs.
 *
 * The host is asked for its units on every poll only while it answers: after a failure (unreachable,
 * a password question dismissed) polls read the server's API alone until the user re-checks with
 * `r`, so a dead host neither stalls every poll on a connect timeout nor asks the same question
 * every 5 seconds.
 */
import { serverOf } from '../../core/server.js';
import { homedir } from 'node:os';
import path from 'node:path';
import { useCallback, useEffect, useMemo, useRef, useState, type Dispatch } from 'react';
import { describeError, isAbortError } from '../../core/errors.js';
import { LogBuffer } from '../../core/log-buffer.js';
import type { Prompter } from '../../core/step.js';
import type { Profile } from '../../profile/schema.js';
import type { Transport } from '../../services/host/transport.js';
import type { StatusReport } from '../../services/status.js';
import type { AppDependencies, RunServices } from '../deps.js';
import { followVaultLogs, formatBytes, sealVault, snapshotVault, type ActionEnvironment } from '../home-actions.js';
import type { HomeAction, HomeState } from '../state/home-state.js';
import { usePolledReading } from './usePolledReading.js';

export const HOME_STATUS_INTERVAL_MS = 5_000;
/** Journal lines kept for the log pane (the journal itself keeps everything). */
const JOURNAL_CAPACITY = 2_000;

export interface HomeControls {
  /** The live journal lines (`l`). */
  journal: LogBuffer;
  seal(): void;
  snapshot(): void;
  /** `l`: start following, or stop. */
  toggleLogs(): void;
  stopLogs(): void;
  /** The host is asked again on the next poll (after `r`). */
  retryHost(): void;
}

interface HostConnection {
  services: RunServices;
  profile: Profile;
}

export function useHome(options: {
  deps: AppDependencies;
  prompter: Prompter;
  profile: Profile;
  home: HomeState;
  dispatch: Dispatch<HomeAction>;
  /** The Home screen is open and nothing is quitting. */
  active: boolean;
  /** Changes whenever a run's step finished (the Setup slice's vaultRefresh): the status is read again then. */
  runRefresh: number;
  intervalMs?: number;
}): HomeControls {
  const { deps, prompter, profile, home, dispatch, active, runRefresh, intervalMs = HOME_STATUS_INTERVAL_MS } = options;
  const [journal] = useState(() => new LogBuffer(JOURNAL_CAPACITY));
  const connection = useRef<HostConnection | undefined>(undefined);
  const hostProblem = useRef<string | undefined>(undefined);
  const logs = useRef<AbortController | undefined>(undefined);
  const latest = useRef({ deps, prompter, profile });
  latest.current = { deps, prompter, profile };

  const closeConnection = useCallback(() => {
    const open = connection.current;
    connection.current = undefined;
    void open?.services.close().catch(() => undefined);
  }, []);

  /** The home's services for the profile as it is now (a saved change opens a new connection). */
  const services = useCallback((): RunServices => {
    const { deps: current, prompter: prompt, profile: target } = latest.current;
    if (connection.current && connection.current.profile !== target) closeConnection();
    connection.current ??= { services: current.openServices(target, prompt), profile: target };
    return connection.current.services;
  }, [closeConnection]);

  useEffect(() => {
    const unregister = deps.cleanup?.add('close the home screen connection', async () => {
      logs.current?.abort();
      const open = connection.current;
      connection.current = undefined;
      await open?.services.close().catch(() => undefined);
    });
    return () => {
      unregister?.();
      logs.current?.abort();
      closeConnection();
    };
  }, [deps.cleanup, closeConnection]);

  const readStatus = deps.homeStatus;
  const read = useMemo(() => {
    if (!readStatus) return undefined;
    return async () => {
      const { deps: current, profile: target } = latest.current;
      const askHost = hostProblem.current === undefined;
      const report = await readStatus(current.profileName, target, askHost ? () => services().host() : undefined);
      if (report.host && !report.host.reachable) {
        hostProblem.current = report.host.error ?? 'the host did not answer';
        // A failed connection is not reused: the next attempt (after `r`) opens a new one.
        closeConnection();
      }
      return { report, hostProblem: report.host ? undefined : hostProblem.current };
    };
  }, [readStatus, services, closeConnection]);
  const onValue = useCallback((value: { report: StatusReport; hostProblem: string | undefined }) => {
    dispatch({ type: 'status-read', report: value.report, ...(value.hostProblem === undefined ? {} : { hostProblem: value.hostProblem }) });
  }, [dispatch]);
  usePolledReading({ read, onValue, active, refresh: `${home.refresh}:${runRefresh}`, intervalMs, key: profile });

  const environment = useCallback(
    (): ActionEnvironment => {
      const { deps: current, prompter: prompt, profile: target } = latest.current;
      return {
        profileName: current.profileName,
        profile: target,
        services: services(),
        prompt,
        redactor: current.redactor,
        onLog: (level, text) => current.logBuffer.push({ at: Date.now(), level, text, source: 'home' }),
      };
    },
    [services],
  );

  const busy = home.task !== undefined;
  const seal = useCallback(() => {
    if (busy) return;
    const { name } = serverOf(latest.current.profile);
    dispatch({ type: 'task-started', task: 'seal', text: `sealing ${name}...` });
    void sealVault(environment()).then(
      () => dispatch({ type: 'task-finished', message: { tone: 'success', text: `${name} is sealed: u unseals it` } }),
      (error: unknown) => dispatch({ type: 'task-finished', message: { tone: 'error', text: `seal failed: ${failure(latest.current.deps, error)}` } }),
    );
  }, [busy, dispatch, environment]);

  const snapshot = useCallback(() => {
    if (busy) return;
    dispatch({ type: 'task-started', task: 'snapshot', text: 'taking a snapshot...' });
    void snapshotVault(environment()).then(
      (result) => {
        // Name and size first (a narrow terminal cuts the end of the line); the full path and the
        // checksum go to the log too.
        const where = displayPath(path.dirname(result.file));
        latest.current.deps.logBuffer.push({ at: Date.now(), level: 'info', source: 'home', text: `raft snapshot ${result.file}: ${result.bytes} bytes, sha256 ${result.sha256}` });
        dispatch({ type: 'task-finished', message: { tone: 'success', text: `snapshot ${path.basename(result.file)} (${formatBytes(result.bytes)}) in ${where}` } });
      },
      (error: unknown) => dispatch({ type: 'task-finished', message: { tone: 'error', text: `snapshot failed: ${failure(latest.current.deps, error)}` } }),
    );
  }, [busy, dispatch, environment]);

  const stopLogs = useCallback(() => {
    logs.current?.abort();
  }, []);

  const toggleLogs = useCallback(() => {
    if (logs.current) {
      logs.current.abort();
      return;
    }
    const controller = new AbortController();
    logs.current = controller;
    dispatch({ type: 'logs-starting' });
    const { deps: current } = latest.current;
    const journalLine = (line: string): { at: number; text: string } => {
      const parsed = parseJournalLine(line);
      return { at: parsed.at ?? Date.now(), text: current.redactor.redact(parsed.text) };
    };
    void (async (): Promise<void> => {
      let transport: Transport;
      try {
        transport = await services().host();
        if (controller.signal.aborted) return;
        dispatch({ type: 'logs-following' });
        await followVaultLogs(transport, {
          server: serverOf(latest.current.profile),
          signal: controller.signal,
          onLine: (line) => journal.push({ ...journalLine(line), level: 'info', source: 'journal' }),
        });
      } catch (error) {
        if (!controller.signal.aborted && !isAbortError(error)) {
          dispatch({ type: 'logs-stopped', message: { tone: 'error', text: `logs: ${failure(current, error)}` } });
          return;
        }
      } finally {
        if (logs.current === controller) logs.current = undefined;
      }
      dispatch({ type: 'logs-stopped', ...(controller.signal.aborted ? {} : { message: { tone: 'info', text: 'the log stream ended' } }) });
    })();
  }, [dispatch, journal, services]);

  const retryHost = useCallback(() => {
    hostProblem.current = undefined;
  }, []);

  return { journal, seal, snapshot, toggleLogs, stopLogs, retryHost };
}

/**
 * A `journalctl -o short-iso` line split into its time and the rest (`host unit[pid]: message`), so
 * the log pane shows when the line was written, not when it arrived (the history lines arrive at
 * once). Notes (`-- … --`) and anything else keep the arrival time.
 * https://www.freedesktop.org/software/systemd/man/latest/journalctl.html (short-iso)
 */
export function parseJournalLine(line: string): { at?: number; text: string } {
  const match = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?)([+-]\d\d):?(\d\d) (.*)$/.exec(line);
  if (!match) return { text: line };
  const at = Date.parse(`${match[1]}${match[2]}:${match[3]}`);
  return Number.isNaN(at) ? { text: line } : { at, text: match[4] ?? '' };
}

/** `~/…` for a path under the home directory: shorter, and what the user would type. */
function displayPath(file: string): string {
  const home = homedir();
  return home && (file === home || file.startsWith(`${home}${path.sep}`)) ? `~${file.slice(home.length)}` : file;
}

function failure(deps: AppDependencies, error: unknown): string {
  const { message, hint } = describeError(error);
  return deps.redactor.redact(hint ? `${message} (${hint})` : message);
}
