// Static CSS and JavaScript from src/web/assets/, read once at start-up and
// served under content-hashed names (/assets/app.1a2b3c4d.css), so they can be
// cached for a year: a changed file gets a new name.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsync } from 'fastify';

const ASSET_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'assets');
const CONTENT_TYPES: Record<string, string> = { '.css': 'text/css; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.svg': 'image/svg+xml' };

interface Asset {
  body: Buffer;
  type: string;
  url: string;
  /** Subresource Integrity: `sha384-` + base64 SHA-384 of the body. */
  integrity: string;
}

/** The served name of a file: its base name, the first 12 hex digits of its SHA-256, its extension. */
export function hashedName(file: string, body: Uint8Array): string {
  const ext = path.extname(file);
  const hash = createHash('sha256').update(body).digest('hex').slice(0, 12);
  return `${path.basename(file, ext)}.${hash}${ext}`;
}

export function integrityOf(body: Uint8Array): string {
  return `sha384-${createHash('sha384').update(body).digest('base64')}`;
}

export class Assets {
  readonly #byName = new Map<string, Asset>();
  readonly #byUrlName = new Map<string, Asset>();

  constructor(dir = ASSET_DIR) {
    for (const file of readdirSync(dir)) {
      if (CONTENT_TYPES[path.extname(file)]) this.add(file, readFileSync(path.join(dir, file)));
    }
  }

  /** Serves `body` as `file` (a file from disk, or one built at start-up such as the browser client's bundle). */
  add(file: string, body: Buffer): void {
    const type = CONTENT_TYPES[path.extname(file)];
    if (!type) throw new Error(`no content type for ${file}`);
    const urlName = hashedName(file, body);
    const asset = { body, type, url: `/assets/${urlName}`, integrity: integrityOf(body) };
    this.#byName.set(file, asset);
    this.#byUrlName.set(urlName, asset);
  }

  /** The versioned URL of an asset by its file name; a missing file is a programming error. */
  url(file: string): string {
    return this.#named(file).url;
  }

  /** The Subresource Integrity value to put on the tag that loads `file`. */
  integrity(file: string): string {
    return this.#named(file).integrity;
  }

  #named(file: string): Asset {
    const asset = this.#byName.get(file);
    if (!asset) throw new Error(`no asset named ${file}`);
    return asset;
  }

  find(urlName: string): Asset | undefined {
    return this.#byUrlName.get(urlName);
  }
}

export function assetRoutes(assets: Assets): FastifyPluginAsync {
  return async (app) => {
    app.get<{ Params: { name: string } }>('/assets/:name', { schema: { hide: true } }, async (request, reply) => {
      const asset = assets.find(request.params.name);
      if (!asset) return reply.code(404).type('text/plain; charset=utf-8').send('not found');
      return reply.header('cache-control', 'public, max-age=31536000, immutable').type(asset.type).send(asset.body);
    });
  };
}
