/**
 * Benchmark (d): the log pane under a flood. The real <App> (Setup screen, LogPane, runner, redactor,
 * ring buffer, log file) is rendered by Ink exactly as the product renders it (maxFps 60 as in
 * source/ui/run.tsx, not debug mode) into a fake 100x30 terminal whose every write is a frame,
 * timestamped. One step of the plan logs 50,000 lines as fast as it can: 200 lines (about one
 * 16 KiB pipe read of helm or journalctl output), then it yields to the event loop once, and again.
 *
 * Two floods run back to back: the first is timed (frames per second, worst gap between frames,
 * event-loop delay), the second samples the heap after a forced GC every 10,000 lines to show
 * whether memory grows with the line count once the ring buffer is full.
 *
 * Run as a child with `node --expose-gc --import tsx test/bench/logpane.tsx`; prints one JSON object.
 * perf_hooks: https://nodejs.org/docs/latest-v20.x/api/perf_hooks.html#perf_hooksmonitoreventloopdelayoptions
 */
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { stripVTControlCharacters } from 'node:util';
import { render } from 'ink';
import { LogBuffer } from '../../source/core/log-buffer.js';
import { LogFile } from '../../source/core/log-file.js';
import type { StepContext } from '../../source/core/step.js';
import { App } from '../../source/ui/App.js';
import { createTheme } from '../../source/ui/theme.js';
import { testDependencies, testStep } from '../ui/harness.js';

// Ink renders differently when CI is set; the product never runs its TUI under CI.
delete process.env['CI'];

const LINES = Number(process.env['PVT_BENCH_LOG_LINES'] ?? 50_000);
const CHUNK = 200;
const COLUMNS = 100;
const ROWS = 30;

/**
 * A terminal that keeps the time of every frame. Ink wraps each frame in the synchronized-output
 * escapes, written separately (begin, frame, end): only a write with visible text is a frame.
 */
class FrameRecorder extends EventEmitter {
  isTTY = true;
  columns = COLUMNS;
  rows = ROWS;
  readonly times: number[] = [];
  /** The latest frame, without escape codes. */
  last = '';
  write = (data: string): boolean => {
    const text = stripVTControlCharacters(data);
    if (text.trim() !== '') {
      this.times.push(performance.now());
      this.last = text;
    }
    return true;
  };
}

class QuietStdin extends EventEmitter {
  isTTY = true;
  #data: string | null = null;
  write(data: string): void {
    this.#data = data;
    this.emit('readable');
  }
  read = (): string | null => {
    const data = this.#data;
    this.#data = null;
    return data;
  };
  setEncoding(): void {}
  setRawMode(): void {}
  resume(): void {}
  pause(): void {}
  ref(): void {}
  unref(): void {}
}

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A line like helm's or journalctl's: a timestamp, a unit, a message of ~90 characters. */
function lineText(flood: number, n: number): string {
  return `flood ${flood} line ${n} vault[4242]: core: successfully mounted: type=kv version=v2 path=secret/ namespace="ID: root."`;
}

interface FloodResult {
  ms: number;
  frames: number;
  fps: number;
  worstGapMs: number;
  gapsMs: number[];
  /** 95th percentile of the gaps between frames. */
  p95GapMs: number;
  renderMedianMs: number;
  renderMaxMs: number;
  eventLoopMaxMs: number;
  eventLoopP99Ms: number;
}

async function flood(ctx: StepContext, index: number, onMark?: (sent: number) => void): Promise<void> {
  for (let sent = 0; sent < LINES; ) {
    const end = Math.min(LINES, sent + CHUNK);
    for (; sent < end; sent++) ctx.log.info(lineText(index, sent), 'stdout');
    if (onMark && sent % 10_000 === 0) onMark(sent);
    await yieldToLoop();
  }
}

const home = mkdtempSync(path.join(tmpdir(), 'pvt-bench-logpane-'));
for (const name of ['XDG_CONFIG_HOME', 'XDG_DATA_HOME', 'XDG_STATE_HOME']) process.env[name] = path.join(home, name.toLowerCase());

const stdout = new FrameRecorder();
const stdin = new QuietStdin();
const timing: { start: number; end: number } = { start: 0, end: 0 };
const heapSamples: { lines: number; heapKiB: number; rssMiB: number }[] = [];
let floodsDone = 0;
/** The first flood's last line was on screen when the flood ended and the pane caught up. */
let showedLastLine = false;

const logFile = new LogFile(path.join(home, 'bench.log'));
const plan = {
  steps: [
    testStep('bench.flood', 'host', 'Flood the log pane (timed)', {
      run: async (ctx) => {
        timing.start = performance.now();
        await flood(ctx, 1);
        timing.end = performance.now();
        floodsDone = 1;
      },
    }),
    testStep('bench.flood-memory', 'host', 'Flood the log pane (heap sampled)', {
      run: async (ctx) => {
        // The pane catches up with the first flood's end (it re-renders at most every 40 ms).
        await sleep(200);
        showedLastLine = stdout.last.includes(`flood 1 line ${LINES - 1} `);
        await flood(ctx, 2, (sent) => {
          gc();
          const memory = process.memoryUsage();
          heapSamples.push({ lines: LINES + sent, heapKiB: Math.round(memory.heapUsed / 1024), rssMiB: Math.round(memory.rss / 1048576) });
        });
        floodsDone = 2;
      },
    }),
  ],
};
const deps = { ...testDependencies({ plan, profileName: 'bench' }), logBuffer: new LogBuffer(), onLogLine: (line: Parameters<LogFile['write']>[0]) => logFile.write(line) };

const loopDelay = monitorEventLoopDelay({ resolution: 5 });
/** Ink's own measure of each render (layout and output of the tree, not React's reconciliation). */
const renderTimes: { at: number; ms: number }[] = [];
const instance = render(<App deps={deps} theme={createTheme({ unicode: true, color: true })} />, {
  stdout: stdout as unknown as NodeJS.WriteStream,
  stderr: new FrameRecorder() as unknown as NodeJS.WriteStream,
  stdin: stdin as unknown as NodeJS.ReadStream,
  exitOnCtrlC: false,
  patchConsole: false,
  maxFps: 60,
  onRender: ({ renderTime }) => renderTimes.push({ at: performance.now(), ms: renderTime }),
});

try {
  // Ink reads keys once it has put stdin in raw mode and attached its listener.
  while (stdin.listenerCount('readable') === 0) await sleep(10);
  await sleep(50);
  loopDelay.enable();
  stdin.write('\r');
  while (floodsDone < 1) await sleep(20);
  loopDelay.disable();
  const framesDuring = stdout.times.filter((at) => at >= timing.start && at <= timing.end);
  const gaps = [framesDuring[0]! - timing.start, ...framesDuring.slice(1).map((at, i) => at - framesDuring[i]!), timing.end - framesDuring.at(-1)!];
  const ms = timing.end - timing.start;
  const renders = renderTimes.filter(({ at }) => at >= timing.start && at <= timing.end).map(({ ms: renderMs }) => renderMs);
  const timed: FloodResult = {
    ms: Math.round(ms),
    frames: framesDuring.length,
    fps: Math.round((framesDuring.length / ms) * 1000 * 10) / 10,
    worstGapMs: Math.round(Math.max(...gaps)),
    // In order: flood start to the first frame, between frames, last frame to the flood's end.
    gapsMs: gaps.map((gap) => Math.round(gap)),
    p95GapMs: Math.round(percentile(gaps, 95)),
    renderMedianMs: Math.round(percentile(renders, 50) * 10) / 10,
    renderMaxMs: Math.round(Math.max(0, ...renders)),
    eventLoopMaxMs: Math.round(loopDelay.max / 1e6),
    eventLoopP99Ms: Math.round(loopDelay.percentile(99) / 1e6),
  };
  while (floodsDone < 2) await sleep(20);
  const heap = heapSamples.map((sample) => sample.heapKiB);
  const result = {
    lines: LINES,
    chunk: CHUNK,
    terminal: `${COLUMNS}x${ROWS}`,
    ...timed,
    showedLastLine,
    peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
    heapSamples,
    heapGrowthKiB: heap.length >= 2 ? heap.at(-1)! - heap[0]! : 0,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  instance.unmount();
  logFile.close();
  rmSync(home, { recursive: true, force: true });
}
