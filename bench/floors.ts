// Two floors under any encrypted search or read, so a report shows where the
// time goes:
//  - bytes: one AES-128-CBC decryption plus one HMAC-SHA256 pass (node:crypto)
//    over all the records' plaintext concatenated in one buffer: the least
//    any design that decrypts everything could spend;
//  - tokens: Fernet-decrypting every record's token once, one token per
//    record as we store them (src/crypto/fernet.ts): the per-token overhead
//    (base64, HMAC set-up, decipher set-up) on top of the bytes.
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import { fernetDecrypt } from '../src/crypto/fernet.ts';
import { RecordCodec } from '../src/vault/codec.ts';
import type { Dataset } from './lib/data.ts';
import { summarize } from './lib/stats.ts';

export interface Floor {
  records: number;
  plaintextBytes: number;
  /** Median milliseconds. */
  bytesMs: number;
  tokensMs: number;
}

export interface Floors {
  /** The entities and relations, as search_nodes and read_graph would have to read them. */
  graph: Floor;
  /** The memories, as recall and list_memories would. */
  memories: Floor;
}

/** The plaintext of each record as our codec seals it (JSON of the record, kind included). */
function graphRecords(dataset: Dataset): unknown[] {
  return [
    ...dataset.entities.map((e) => ({ kind: 'entity', name: e.name, entityType: e.entityType, observations: e.observations })),
    ...dataset.relations.map((r) => ({ kind: 'relation', from: r.from, to: r.to, relationType: r.relationType })),
  ];
}

function memoryRecords(dataset: Dataset): unknown[] {
  const at = new Date().toISOString();
  return dataset.memories.map((m, i) => ({ kind: 'memory', id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, content: m.content, tags: m.tags, created_at: at, updated_at: at }));
}

const MIN_SECONDS = 2;

/** Median of at least `repeats` runs spread over at least MIN_SECONDS, so a short burst of load elsewhere does not set the floor. */
function medianOf(repeats: number, run: () => void): number {
  run(); // warm-up
  const samples: number[] = [];
  const since = performance.now();
  while (samples.length < repeats || performance.now() - since < MIN_SECONDS * 1000) {
    const started = performance.now();
    run();
    samples.push(performance.now() - started);
  }
  return summarize(samples).medianMs;
}

function measureFloor(records: unknown[], repeats: number): Floor {
  const key = randomBytes(32);
  const [signingKey, encryptionKey] = [key.subarray(0, 16), key.subarray(16)];
  const codec = new RecordCodec(key);
  const tokens = records.map((r) => codec.seal(r));
  const plaintext = Buffer.from(records.map((r) => JSON.stringify(r)).join(''), 'utf8');
  const iv = randomBytes(16);
  const cipher = createCipheriv('aes-128-cbc', encryptionKey, iv);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);

  let sink = 0;
  const bytesMs = medianOf(repeats, () => {
    const decipher = createDecipheriv('aes-128-cbc', encryptionKey, iv);
    const clear = Buffer.concat([decipher.update(ciphertext), decipher.final()]);
    sink ^= createHmac('sha256', signingKey).update(ciphertext).digest()[0]! ^ clear[0]!;
  });
  const tokensMs = medianOf(repeats, () => {
    for (const token of tokens) sink ^= fernetDecrypt(key, token)[0]!;
  });
  if (sink === -1) console.log(sink); // keeps the work observable
  return { records: records.length, plaintextBytes: plaintext.length, bytesMs, tokensMs };
}

export function measureFloors(dataset: Dataset, repeats = 15): Floors {
  return { graph: measureFloor(graphRecords(dataset), repeats), memories: measureFloor(memoryRecords(dataset), repeats) };
}
