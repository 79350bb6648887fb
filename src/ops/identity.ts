// Who makes a change, as locks, annotations and markers name them: the user and where they came
// from (the SSH client's address, or this host).
import { hostname, userInfo } from 'node:os';

export function whoAmI(): string {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    /* no passwd entry */
  }
  const ssh = (process.env.SSH_CLIENT ?? process.env.SSH_CONNECTION ?? '').split(' ')[0];
  return `${user}@${ssh || hostname()}`;
}
