// Issue 19: no kubectl proxy outlives the run that started it. After every test file has finished,
// any kubectl process still carrying this suite's mark (see global-setup.mjs) is a leak: it is
// named, killed, and the suite fails (.ci/run turns a failing teardown into "1 failed").
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';

const mark = () => `XCT_SUITE=${process.env.XCT_SUITE}`;

function leftovers() {
  const found = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const env = readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0');
      if (!env.includes(mark())) continue;
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').join(' ');
      const state = readFileSync(`/proc/${pid}/stat`, 'latin1').split(') ')[1]?.[0];
      if (/kubectl/.test(cmd) && state !== 'Z') found.push({ pid: Number(pid), cmd: cmd.trim() });
    } catch {
      /* gone, or not ours to read */
    }
  }
  return found;
}

export default async function teardown() {
  if (!process.env.XCT_SUITE) return;
  let left = leftovers();
  // A run that ended in the last moment: its exit hook has killed the proxy, give it time to go.
  for (let i = 0; i < 20 && left.length; i++) {
    await new Promise((r) => setTimeout(r, 100));
    left = leftovers();
  }
  if (!left.length) return;
  for (const p of left) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  const text = `kubectl processes left running by the tests:\n${left.map((p) => `  ${p.pid} ${p.cmd}`).join('\n')}\n`;
  if (process.env.XCT_LEFTOVERS_FILE) writeFileSync(process.env.XCT_LEFTOVERS_FILE, text);
  throw new Error(text);
}
