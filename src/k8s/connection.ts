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
  return {
    request: async (r: ApiRequest) => (await open()).request(r),
    watch: async (w: WatchRequest) => (await open()).watch(w),
  };
}
