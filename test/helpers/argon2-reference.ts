// A deliberately plain, slow Argon2id (RFC 9106, version 0x13) and BLAKE2b
// (RFC 7693) for TESTS ONLY: it exists so the RFC 9106 vector, which has
// associated data that @node-rs/argon2 cannot take, is checked on every
// machine, with or without a PyCA new enough to have Argon2id. It is itself
// checked against that vector, against node's blake2b512 and against
// @node-rs/argon2 (test/crypto/password.test.ts). Never use it for real.

const M64 = (1n << 64n) - 1n;
const M32 = (1n << 32n) - 1n;
const rotr = (x: bigint, n: bigint): bigint => ((x >> n) | (x << (64n - n))) & M64;

// ---- BLAKE2b (RFC 7693), unkeyed, any output length 1..64 ----

const BLAKE2B_IV = [
  0x6a09e667f3bcc908n, 0xbb67ae8584caa73bn, 0x3c6ef372fe94f82bn, 0xa54ff53a5f1d36f1n,
  0x510e527fade682d1n, 0x9b05688c2b3e6c1fn, 0x1f83d9abfb41bd6bn, 0x5be0cd19137e2179n,
];
const SIGMA = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
  [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
  [11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4],
  [7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8],
  [9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13],
  [2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9],
  [12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11],
  [13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10],
  [6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5],
  [10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0],
];

function blake2bCompress(h: bigint[], block: Buffer, counter: bigint, last: boolean): void {
  const m = Array.from({ length: 16 }, (_, i) => block.readBigUInt64LE(i * 8));
  const v = [...h, ...BLAKE2B_IV];
  v[12] = v[12]! ^ (counter & M64);
  v[13] = v[13]! ^ (counter >> 64n);
  if (last) v[14] = v[14]! ^ M64;
  const g = (a: number, b: number, c: number, d: number, x: bigint, y: bigint): void => {
    v[a] = (v[a]! + v[b]! + x) & M64;
    v[d] = rotr(v[d]! ^ v[a]!, 32n);
    v[c] = (v[c]! + v[d]!) & M64;
    v[b] = rotr(v[b]! ^ v[c]!, 24n);
    v[a] = (v[a]! + v[b]! + y) & M64;
    v[d] = rotr(v[d]! ^ v[a]!, 16n);
    v[c] = (v[c]! + v[d]!) & M64;
    v[b] = rotr(v[b]! ^ v[c]!, 63n);
  };
  for (let round = 0; round < 12; round++) {
    const s = SIGMA[round % 10]!;
    const x = (i: number): bigint => m[s[i]!]!;
    g(0, 4, 8, 12, x(0), x(1));
    g(1, 5, 9, 13, x(2), x(3));
    g(2, 6, 10, 14, x(4), x(5));
    g(3, 7, 11, 15, x(6), x(7));
    g(0, 5, 10, 15, x(8), x(9));
    g(1, 6, 11, 12, x(10), x(11));
    g(2, 7, 8, 13, x(12), x(13));
    g(3, 4, 9, 14, x(14), x(15));
  }
  for (let i = 0; i < 8; i++) h[i] = h[i]! ^ v[i]! ^ v[i + 8]!;
}

export function blake2b(input: Uint8Array, outLength = 64): Buffer {
  if (outLength < 1 || outLength > 64) throw new RangeError('BLAKE2b output is 1..64 bytes');
  const h = [...BLAKE2B_IV];
  h[0] = h[0]! ^ 0x01010000n ^ BigInt(outLength);
  const data = Buffer.from(input);
  const blocks = Math.max(1, Math.ceil(data.length / 128));
  for (let i = 0; i < blocks; i++) {
    const block = Buffer.alloc(128);
    data.copy(block, 0, i * 128, Math.min(data.length, (i + 1) * 128));
    const last = i === blocks - 1;
    blake2bCompress(h, block, BigInt(last ? data.length : (i + 1) * 128), last);
  }
  const out = Buffer.alloc(64);
  h.forEach((word, i) => out.writeBigUInt64LE(word, i * 8));
  return out.subarray(0, outLength);
}

// ---- Argon2id ----

const le32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};
const withLength = (bytes: Uint8Array): Buffer => Buffer.concat([le32(bytes.length), bytes]);

/** H' of RFC 9106 section 3.3: variable-length hash. */
function hPrime(x: Buffer, length: number): Buffer {
  const input = Buffer.concat([le32(length), x]);
  if (length <= 64) return blake2b(input, length);
  const r = Math.ceil(length / 32) - 2;
  const parts: Buffer[] = [];
  let v = blake2b(input, 64);
  parts.push(v.subarray(0, 32));
  for (let i = 2; i <= r; i++) {
    v = blake2b(v, 64);
    parts.push(v.subarray(0, 32));
  }
  parts.push(blake2b(v, length - 32 * r));
  return Buffer.concat(parts);
}

type Block = bigint[]; // 128 words

const blockFromBytes = (b: Buffer): Block => Array.from({ length: 128 }, (_, i) => b.readBigUInt64LE(i * 8));
const blamka = (x: bigint, y: bigint): bigint => (x + y + 2n * (x & M32) * (y & M32)) & M64;

function permute(v: bigint[], idx: number[]): void {
  const gb = (a: number, b: number, c: number, d: number): void => {
    const [ia, ib, ic, id] = [idx[a]!, idx[b]!, idx[c]!, idx[d]!];
    v[ia] = blamka(v[ia]!, v[ib]!);
    v[id] = rotr(v[id]! ^ v[ia]!, 32n);
    v[ic] = blamka(v[ic]!, v[id]!);
    v[ib] = rotr(v[ib]! ^ v[ic]!, 24n);
    v[ia] = blamka(v[ia]!, v[ib]!);
    v[id] = rotr(v[id]! ^ v[ia]!, 16n);
    v[ic] = blamka(v[ic]!, v[id]!);
    v[ib] = rotr(v[ib]! ^ v[ic]!, 63n);
  };
  gb(0, 4, 8, 12);
  gb(1, 5, 9, 13);
  gb(2, 6, 10, 14);
  gb(3, 7, 11, 15);
  gb(0, 5, 10, 15);
  gb(1, 6, 11, 12);
  gb(2, 7, 8, 13);
  gb(3, 4, 9, 14);
}

/** The compression function G(X, Y) of RFC 9106 section 3.5. */
function compress(x: Block, y: Block): Block {
  const r = x.map((w, i) => w ^ y[i]!);
  const q = [...r];
  for (let row = 0; row < 8; row++) permute(q, Array.from({ length: 16 }, (_, i) => row * 16 + i));
  for (let col = 0; col < 8; col++) permute(q, Array.from({ length: 16 }, (_, i) => Math.floor(i / 2) * 16 + col * 2 + (i % 2)));
  return q.map((w, i) => w ^ r[i]!);
}

export interface Argon2idInput {
  password: Uint8Array;
  salt: Uint8Array;
  secret?: Uint8Array;
  ad?: Uint8Array;
  /** Passes. */
  t: number;
  /** Memory in KiB (1 KiB blocks). */
  m: number;
  /** Lanes. */
  p: number;
  tagLength: number;
}

const ARGON2ID = 2;
const VERSION = 0x13;

export function argon2idPrehash(a: Argon2idInput): Buffer {
  return blake2b(
    Buffer.concat([
      le32(a.p), le32(a.tagLength), le32(a.m), le32(a.t), le32(VERSION), le32(ARGON2ID),
      withLength(a.password), withLength(a.salt), withLength(a.secret ?? Buffer.alloc(0)), withLength(a.ad ?? Buffer.alloc(0)),
    ]),
    64,
  );
}

export function argon2id(a: Argon2idInput): Buffer {
  const h0 = argon2idPrehash(a);
  const { p, t } = a;
  const memoryBlocks = 4 * p * Math.floor(a.m / (4 * p));
  const q = memoryBlocks / p;
  const segment = q / 4;
  const zero: Block = new Array<bigint>(128).fill(0n);
  const B: Block[][] = Array.from({ length: p }, (_, lane) => [
    blockFromBytes(hPrime(Buffer.concat([h0, le32(0), le32(lane)]), 1024)),
    blockFromBytes(hPrime(Buffer.concat([h0, le32(1), le32(lane)]), 1024)),
  ]);

  for (let pass = 0; pass < t; pass++) {
    for (let slice = 0; slice < 4; slice++) {
      for (let lane = 0; lane < p; lane++) {
        const independent = pass === 0 && slice < 2;
        const input: Block = [...zero];
        let addresses: Block = zero;
        const nextAddresses = (): void => {
          input[6] = input[6]! + 1n;
          addresses = compress(zero, compress(zero, input));
        };
        if (independent) {
          [input[0], input[1], input[2], input[3], input[4], input[5]] = [pass, lane, slice, memoryBlocks, t, ARGON2ID].map(BigInt) as [bigint, bigint, bigint, bigint, bigint, bigint];
        }
        let start = 0;
        if (pass === 0 && slice === 0) {
          start = 2;
          if (independent) nextAddresses();
        }
        for (let index = start; index < segment; index++) {
          const column = slice * segment + index;
          const prev = B[lane]![column === 0 ? q - 1 : column - 1]!;
          let random: bigint;
          if (independent) {
            if (index % 128 === 0) nextAddresses();
            random = addresses[index % 128]!;
          } else {
            random = prev[0]!;
          }
          const j1 = random & M32;
          const j2 = random >> 32n;
          const refLane = pass === 0 && slice === 0 ? lane : Number(j2 % BigInt(p));
          const sameLane = refLane === lane;
          let areaSize: number;
          if (pass === 0) {
            if (slice === 0) areaSize = index - 1;
            else if (sameLane) areaSize = slice * segment + index - 1;
            else areaSize = slice * segment + (index === 0 ? -1 : 0);
          } else if (sameLane) areaSize = q - segment + index - 1;
          else areaSize = q - segment + (index === 0 ? -1 : 0);
          let relative = (j1 * j1) >> 32n;
          relative = BigInt(areaSize) - 1n - ((BigInt(areaSize) * relative) >> 32n);
          const startPosition = pass === 0 || slice === 3 ? 0 : (slice + 1) * segment;
          const refColumn = Number((BigInt(startPosition) + relative) % BigInt(q));
          const next = compress(prev, B[refLane]![refColumn]!);
          const current = B[lane]![column];
          B[lane]![column] = pass === 0 || !current ? next : next.map((w, i) => w ^ current[i]!);
        }
      }
    }
  }

  const final = [...B[0]![q - 1]!];
  for (let lane = 1; lane < p; lane++) B[lane]![q - 1]!.forEach((w, i) => (final[i] = final[i]! ^ w));
  const bytes = Buffer.alloc(1024);
  final.forEach((w, i) => bytes.writeBigUInt64LE(w, i * 8));
  return hPrime(bytes, a.tagLength);
}
