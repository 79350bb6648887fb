// Marks every process this test run starts (the CLI and, through its child environment, each
// kubectl proxy it runs) so that the teardown can find any that outlived its test.
import { randomBytes } from 'node:crypto';

export default function setup() {
  process.env.XCT_SUITE = randomBytes(6).toString('hex');
}
