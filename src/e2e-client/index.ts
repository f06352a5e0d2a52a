// The client core of end-to-end mode (docs/e2e-protocol.md), shared by the
// local MCP server (src/local/) and the browser client (src/web/e2e/).
// Isomorphic: no `node:` imports, only WebCrypto (globalThis.crypto), fetch,
// TextEncoder/TextDecoder, zod and @serenity-kit/opaque, so the same files
// run in Node and in the browser. Nothing here logs; no error message holds a
// key, token, password or record plaintext.
//
// Public API (import from this file):
//
//   Keys and formats
//     generateDataKey(), DataKey              K: 32 random bytes
//     FernetKey.import(K) → .encrypt/.decrypt  Fernet on WebCrypto (InvalidFernetToken)
//     fernetEncrypt/fernetDecrypt(K, …)       one-shot forms
//     wrapWithPassword/unwrapWithPassword(exportKey, userId, …)
//     wrapWithRecoveryCode/unwrapWithRecoveryCode(codeBytes, userId, …)   WrongKey
//     recoveryAuth(codeBytes), recoveryVerifier(auth)
//     makeRecoveryCode(), parseRecoveryCode(typed), normaliseRecoveryCode(typed),
//       formatRecoveryCode(bytes)              InvalidRecoveryCode
//     manifestKey(K, userId) → D; entityId(D, name); relationId(D, from, to, type);
//       newMemoryId()
//     accountKeys(K, userId) → AccountKeys {signing, encryption, manifest}: K's working
//       keys as non-extractable CryptoKeys (usable, never exportable), which a device
//       may keep instead of K; FernetKey.from(signing, encryption)
//     ManifestDigest (incremental XOR-of-HMAC), MANIFEST_ID
//
//   Records
//     sealRecord(key, id, version, record | null) → token
//     openRecord(key, {id, version, token}) → {v, id, version, record}   TamperedRecord
//     RecordTooLarge (a sealed record over MAX_TOKEN_CHARS, 256 KiB: refused by put())
//
//   Server
//     new E2eApi({baseUrl, token?, apiKey?, fetch?}): every endpoint, typed;
//       E2eApiError {status, code, conflicts}, OfflineError
//
//   Accounts (OPAQUE, key stretching memory-constrained)
//     signUp(api, {email, password}) → {userId, dataKey, recoveryCode, token}
//     logIn(api, {email, password, label?}) → {userId, dataKey, token}   InvalidCredentials
//     recover(api, {email, recoveryCode, newPassword}) → {userId, dataKey, recoveryCode, token}
//     startConversion(api, {password}) → ConversionDraft;
//       finishConversion(api, draft, exportedRecords) → {userId, dataKey, recoveryCode, token, cursor}
//     logOut(api)
//
//   Sync
//     Replica.open({api: api.withToken(token), userId, dataKey, cache}) → Replica
//       (dataKey: K's bytes, or AccountKeys)
//       .get(id), .records(), .size, .pendingCount, .cursor
//       .put(...records) → ids (memory: its own id; entity/relation: keyed id)
//       .delete(...ids), .entityId(name), .relationId(from, to, type), .idOf(record)
//       .sync({full?}) → SyncReport {pulled, pushed, merged, conflictCopies, changed, resynced}
//     ReplicaCache {load(), apply(change)}: persist ONLY ciphertext (SQLite locally,
//       IndexedDB in the browser); MemoryReplicaCache is the reference implementation;
//       run replicaCacheConformance (test/e2e-client/cache-conformance.ts) on yours
//     resolveConflict(server, local, newId), CONFLICT_TAG ("conflict")
//     IntegrityError {failure: tampered | rolled-back | dropped | bad-feed |
//       manifest-missing | manifest-mismatch, recordId}: the server dropped, rolled
//       back or swapped something (show it; do not retry it away);
//       OfflineError: nothing reached the server, writes stay queued.
//     An incremental sync cannot see a row that silently vanished; sync({full: true})
//       now and then (e.g. daily, or at start-up) re-reads the whole feed and checks it.
export * from './api.ts';
export * from './encoding.ts';
export * from './envelope.ts';
export * from './fernet.ts';
export * from './keys.ts';
export * from './manifest.ts';
export * from './recovery-code.ts';
export * from './account.ts';
export * from './cache.ts';
export * from './conflicts.ts';
export * from './replica.ts';
