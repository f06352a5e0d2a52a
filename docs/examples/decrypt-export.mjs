// Decrypt an Anamnesis encrypted export offline, with the API key alone.
//
// Usage:  ANAMNESIS_API_KEY=anm_... node decrypt-export.mjs anamnesis.encrypted.jsonl
// Prints one decrypted record (JSON) per line. Node 18+, no packages.
import { createDecipheriv, createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';

const apiKey = process.env.ANAMNESIS_API_KEY; // not an argument: others can read argv
const [headerLine, ...lines] = readFileSync(process.argv[2], 'utf8').split('\n').filter((line) => line.trim());
const header = JSON.parse(headerLine);
if (header.format !== 'anamnesis-encrypted-export' || header.version !== 'v1') throw new Error('not an Anamnesis v1 encrypted export');
// K = HKDF-SHA256(ikm = API key, salt = user id, info = "smtry-at-rest-v1"); Fernet signs with K[0:16], encrypts with K[16:32].
const k = Buffer.from(hkdfSync('sha256', apiKey, header.user_id, 'smtry-at-rest-v1', 32));

function fernetDecrypt(token) {
  const data = Buffer.from(token, 'base64url'); // version(1) | time(8) | iv(16) | ciphertext | hmac(32)
  const mac = createHmac('sha256', k.subarray(0, 16)).update(data.subarray(0, -32)).digest();
  if (data.length < 57 || data[0] !== 0x80 || !timingSafeEqual(mac, data.subarray(-32))) throw new Error('invalid token');
  const decipher = createDecipheriv('aes-128-cbc', k.subarray(16), data.subarray(9, 25));
  return Buffer.concat([decipher.update(data.subarray(25, -32)), decipher.final()]).toString('utf8');
}

for (const line of lines) console.log(JSON.stringify(JSON.parse(fernetDecrypt(JSON.parse(line).token))));
