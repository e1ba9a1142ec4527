/**
 * useThrottledSubscription (the log pane's re-render throttle) over a real LogBuffer, rendered by Ink:
 * a burst of lines costs one re-render, a flood re-renders about once per interval (the interval
 * counted from the previous re-render, so a slow render does not stretch the period), and a line
 * after a quiet spell shows at once rather than an interval later.
 */
import { Text } from 'ink';
import { afterEach, describe, expect, it } from 'vitest';
import { LogBuffer } from '../../source/core/log-buffer.js';
import { LOG_RENDER_INTERVAL_MS, useThrottledSubscription } from '../../source/ui/hooks/useThrottledSubscription.js';
import { renderSized, type Rendered } from './harness.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function line(n: number) {
  return { at: Date.now(), level: 'info' as const, text: `line ${n}` };
}

let renders: number[] = [];

function Counter({ buffer }: { buffer: LogBuffer }) {
  const version = useThrottledSubscription(buffer);
  renders.push(performance.now());
  return <Text>{`version ${version} total ${buffer.total}`}</Text>;
}

let app: Rendered | undefined;
afterEach(() => {
  app?.instance.unmount();
  app = undefined;
  renders = [];
});

async function waitForTotal(rendered: Rendered, total: number, timeoutMs = 2_000): Promise<number> {
  const started = performance.now();
  while (!(rendered.frame()).includes(`total ${total}`)) {
    if (performance.now() - started > timeoutMs) throw new Error(`total ${total} not shown; last frame: ${rendered.frame()}`);
    await sleep(1);
  }
  return performance.now() - started;
}

describe('useThrottledSubscription', () => {
  it('a burst of 5,000 lines costs one re-render, shown on the next turn of the event loop', async () => {
    const buffer = new LogBuffer(100);
    app = renderSized(<Counter buffer={buffer} />, { columns: 40, rows: 5 });
    await sleep(LOG_RENDER_INTERVAL_MS * 2);
    const before = renders.length;
    for (let i = 0; i < 5_000; i++) buffer.push(line(i));
    const shownAfterMs = await waitForTotal(app, 5_000);
    // Not an interval later: the previous re-render was long ago.
    expect(shownAfterMs).toBeLessThan(LOG_RENDER_INTERVAL_MS);
    await sleep(LOG_RENDER_INTERVAL_MS * 2);
    expect(renders.length - before).toBe(1);
  });

  it('a flood re-renders about once per interval, however often lines come', async () => {
    const buffer = new LogBuffer(100);
    app = renderSized(<Counter buffer={buffer} />, { columns: 40, rows: 5 });
    await sleep(LOG_RENDER_INTERVAL_MS * 2);
    const before = renders.length;
    const started = performance.now();
    let sent = 0;
    // 20 lines every millisecond or so for 10 intervals.
    while (performance.now() - started < LOG_RENDER_INTERVAL_MS * 10) {
      for (let i = 0; i < 20; i++) buffer.push(line(sent++));
      await sleep(1);
    }
    await waitForTotal(app, sent);
    const elapsed = performance.now() - started;
    const count = renders.length - before;
    expect(sent).toBeGreaterThan(200);
    // About one per interval, plus the leading one and the last; a loaded machine may give fewer.
    expect(count).toBeLessThanOrEqual(Math.floor(elapsed / LOG_RENDER_INTERVAL_MS) + 2);
    expect(count).toBeGreaterThanOrEqual(3);
    const during = renders.slice(before);
    // Each re-render is due an interval after the previous one was asked for; React renders it a
    // moment later, so single gaps jitter by a few ms but their mean is the interval or more.
    const meanGap = (during.at(-1)! - during[0]!) / (during.length - 1);
    expect(meanGap).toBeGreaterThanOrEqual(LOG_RENDER_INTERVAL_MS - 1);
    const gaps = during.slice(1).map((at, index) => at - during[index]!);
    for (const gap of gaps) expect(gap).toBeGreaterThan(LOG_RENDER_INTERVAL_MS / 2);
  });
});
