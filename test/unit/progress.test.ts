// Output.wait: a spinner on a terminal, a plain line elsewhere, nothing for short waits or machine output.
import { Writable } from 'node:stream';
import { Output } from '../../src/cli/output.js';

function sink(isTTY: boolean) {
  const chunks: string[] = [];
  const s = new Writable({
    write(c, _e, cb) {
      chunks.push(String(c));
      cb();
    },
  }) as Writable & { isTTY?: boolean };
  s.isTTY = isTTY;
  return { s, text: () => chunks.join('') };
}
const later = <T>(ms: number, v: T) => new Promise<T>((r) => setTimeout(() => r(v), ms));

test('a wait shorter than the threshold draws nothing and returns the value', async () => {
  const { s, text } = sink(true);
  expect(await new Output({ err: s }).wait('rollout', later(20, 42), { afterMs: 200 })).toBe(42);
  expect(text()).toBe('');
});

test('on a terminal a longer wait draws spinner frames with the label and erases them at the end', async () => {
  const { s, text } = sink(true);
  await new Output({ err: s }).wait('waiting for the rollout', later(450, 1), { afterMs: 100 });
  const t = text();
  expect(t.match(/\r\x1b\[K[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] waiting for the rollout \d+\.\ds/g)!.length).toBeGreaterThanOrEqual(2);
  expect(t.endsWith('\r\x1b[K')).toBe(true); // the spinner line is gone when the wait ends
});

test('lines printed during a wait clear the spinner first and redraw it after', async () => {
  const { s, text } = sink(true);
  const out = new Output({ err: s });
  await out.wait(
    'rollout',
    (async () => {
      await later(250, 0);
      out.info('Waiting for deployment "p" rollout to finish');
      await later(150, 0);
    })(),
    { afterMs: 100 },
  );
  expect(text()).toMatch(/\r\x1b\[KWaiting for deployment "p" rollout to finish\n\r\x1b\[K[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] rollout/);
});

test('without a terminal: one plain "waiting" line, then one per interval, no control characters', async () => {
  const { s, text } = sink(false);
  await new Output({ err: s }).wait('rollout', later(420, 0), { afterMs: 100, everyMs: 150 });
  expect(text()).toMatch(/^… rollout \(waiting \d\.\ds\)\n(… rollout \(still waiting, \d\.\ds\)\n)+$/);
  expect(text()).not.toContain('\x1b');
});

test('--json and --quiet never draw, and a failing wait still rejects and cleans up', async () => {
  for (const opts of [{ json: true }, { quiet: true }]) {
    const { s, text } = sink(true);
    await new Output({ ...opts, err: s }).wait('x', later(250, 0), { afterMs: 50 });
    expect(text()).toBe('');
  }
  const { s, text } = sink(true);
  await expect(
    new Output({ err: s }).wait(
      'x',
      later(250, 0).then(() => {
        throw new Error('boom');
      }),
      { afterMs: 50 },
    ),
  ).rejects.toThrow('boom');
  expect(text().endsWith('\r\x1b[K')).toBe(true);
});
