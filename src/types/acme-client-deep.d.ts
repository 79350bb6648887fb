// acme-client's Client and its axios instance, loaded without its index (which also loads
// node-forge for helpers we do not use: ~160 ms). Typed from the package's own declarations.
declare module 'acme-client/src/client.js' {
  import type { Client } from 'acme-client';
  const client: typeof Client;
  export default client;
}
declare module 'acme-client/src/axios.js' {
  import type { axios } from 'acme-client';
  const instance: typeof axios;
  export default instance;
}
