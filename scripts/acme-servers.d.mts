import type { ChildProcess } from 'node:child_process';
export declare const ZONE: string;
export interface BindStarted { port: number; server: string; keyFile: string; dir: string; child: ChildProcess }
export interface PebbleStarted { directory: string; tlsCa: string; httpPort: number; managementUrl: string; dir: string; child: ChildProcess }
export declare function startBind(dir: string): Promise<BindStarted>;
export declare function startPebble(dir: string, opts: { dnsPort: number; eab?: Record<string, string>; validityDays?: number; /** % of nonces pebble rejects (default 20). */ nonceReject?: number }): Promise<PebbleStarted>;
export declare function pebbleRoot(p: PebbleStarted): Promise<string>;
/** TLS files for localhost/127.0.0.1 and their CA (ca.pem), written into dir with openssl. */
export declare function loopbackTls(dir: string, caName: string): { key: string; cert: string; ca: string };
