// One proxy per cluster (kubeconfig + context) for the whole run, however many Kubectl objects
// (one per namespace) ask for it; started on the first request, and started again when it died
// (a transient fault of the transport, retried like a dropped connection: ops/retry.ts).
import { SocketApi, type Api, type ApiRequest, type WatchRequest } from './rest.js';
import { startProxy, type Proxy, type ProxyOptions } from './proxy.js';

interface Open {
  proxy: Proxy;
  api: SocketApi;
}

const connections = new Map<string, Promise<Open>>();

/**
 * Reads a run may answer twice from one request, per cluster: kept only while this process sends
 * the cluster nothing but GETs (a write, a review, anything else clears them). A daily renew that
 * changes nothing reads every secret once for its decisions and once more for --metrics-file.
 */
const reads = new Map<string, Map<string, Promise<unknown>>>();

/** The API of the cluster `o` names, through its proxy. */
export function clusterApi(o: ProxyOptions): Api {
  const key = JSON.stringify([o.bin, o.kubeconfig ?? '', o.context ?? '']);
  const open = async (): Promise<SocketApi> => {
    const current = connections.get(key);
    if (current) {
      const c = await current.catch(() => undefined);
      if (c?.proxy.alive()) return c.api;
      // Dead (or never started): the first caller to notice starts the next one.
      if (connections.get(key) === current) {
        connections.delete(key);
        c?.api.close();
        c?.proxy.close();
      }
      return open();
    }
    const next = startProxy(o).then((proxy) => ({ proxy, api: new SocketApi(proxy.socket) }));
    connections.set(key, next);
    return (await next).api;
  };
  const kept = reads.get(key) ?? new Map<string, Promise<unknown>>();
  reads.set(key, kept);
  return {
    request: async (r: ApiRequest) => {
      if (r.method !== 'GET') kept.clear();
      return (await open()).request(r);
    },
    watch: async (w: WatchRequest) => (await open()).watch(w),
    reuse<T>(k: string, read: () => Promise<T>): Promise<T> {
      const known = kept.get(k) as Promise<T> | undefined;
      if (known) return known;
      const p = read();
      kept.set(k, p);
      // A failed read is not kept: the next caller asks again.
      p.catch(() => {
        if (kept.get(k) === p) kept.delete(k);
      });
      return p;
    },
  };
}
