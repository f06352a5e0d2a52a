// DNS-rebinding defence for /mcp. A page on an attacker's domain that
// re-points its name at this server reaches it with the attacker's name in
// Host (and Origin), so both must name a host this server answers to:
// loopback by default, plus ANAMNESIS_ALLOWED_HOSTS and the bound address.

const LOOPBACK = ['localhost', '127.0.0.1', '[::1]'];
const WILDCARD_ADDRESSES = new Set(['0.0.0.0', '::', '[::]']);

/** `name` or `name:port` entries; a name without a port matches any port. */
export function allowedHostsFor(config: { host: string; allowedHosts: string[] }): string[] {
  const bound = config.host.includes(':') && !config.host.startsWith('[') ? `[${config.host}]` : config.host;
  const own = WILDCARD_ADDRESSES.has(bound) ? [] : [bound.toLowerCase()];
  return [...new Set([...LOOPBACK, ...own, ...config.allowedHosts])];
}

/** Splits `name:port` (IPv6 in brackets) into its parts; the port may be absent. */
function splitHost(host: string): { name: string; port: string | null } {
  const match = /^(\[[^\]]*\]|[^:]*)(?::(\d+))?$/.exec(host.toLowerCase());
  if (!match) return { name: '', port: null };
  return { name: match[1]!, port: match[2] ?? null };
}

export function isAllowedHost(host: string | undefined, allowed: readonly string[]): boolean {
  if (!host) return false;
  const { name, port } = splitHost(host);
  if (!name) return false;
  return allowed.some((entry) => {
    const wanted = splitHost(entry);
    return wanted.name === name && (wanted.port === null || wanted.port === port);
  });
}

/** An Origin header, when present, must be this server's own origin or on an allowed host. */
export function isAllowedOrigin(origin: string | undefined, ownOrigin: string, allowed: readonly string[]): boolean {
  if (origin === undefined) return true;
  if (origin === ownOrigin) return true;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
  return isAllowedHost(url.host, allowed);
}
