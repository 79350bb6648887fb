// An accepted policy lint: an admin whose clients are known may accept a policy check by its id
// (a 5-year certificate from an internal CA that no Apple client will see: --accept lint.lifetime).
// Only policy lints can be accepted; a chain, key, name or TLS failure never can: those break
// every client. The check stays in the report, marked as accepted, so it is printed and audited.
import type { Check } from './types.js';

/** The policy lints an admin may accept, and why each is policy rather than breakage. */
export const ACCEPTABLE_LINTS: Record<string, string> = {
  'lint.lifetime': "Apple's 825-day limit: harmless where no Apple client connects",
  'lint.root-in-chain': 'a root served in the chain costs bytes, not trust',
  'lint.expiry-soon': 'a certificate that will be renewed before it expires',
  'lint.server-auth': 'an EKU without serverAuth, for clients that do not check it',
};

/** The ids that are not acceptable, for a usage error naming them. */
export const unacceptable = (ids: readonly string[]): string[] => ids.filter((id) => !(id in ACCEPTABLE_LINTS));

/** Checks with each accepted failure turned into a warning that says it was accepted. Pure. */
export function acceptChecks(checks: readonly Check[], accepted: readonly string[]): Check[] {
  const ok = new Set(accepted.filter((id) => id in ACCEPTABLE_LINTS));
  return checks.map((c) =>
    c.status === 'fail' && ok.has(c.id)
      ? { ...c, status: 'warn', message: `accepted (--accept ${c.id}): ${c.message}` }
      : c,
  );
}
