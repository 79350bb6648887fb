// Who makes a change, as locks, annotations and markers name them: the user and where they came
// from (the SSH client's address, or this host).
import { hostname, userInfo } from 'node:os';

// The user's name is looked up once: os.userInfo() reads /etc/passwd on every call, and a fleet's
// plan names the installer on every tenant's secret.
let user: string | undefined;

export function whoAmI(): string {
  try {
    user ??= userInfo().username;
  } catch {
    /* no passwd entry */
  }
  const ssh = (process.env.SSH_CLIENT ?? process.env.SSH_CONNECTION ?? '').split(' ')[0];
  return `${user ?? 'unknown'}@${ssh || hostname()}`;
}
