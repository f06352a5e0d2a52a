// A small promise wrapper over IndexedDB, where this browser keeps its
// device state (session token and key) and the ciphertext cache.

function done<T>(request: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function committed(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error ?? new Error('the IndexedDB transaction was aborted'));
  });
}

export class Database {
  private constructor(private readonly db: IDBDatabase) {
    // Another tab deleting the database (logging out) must not wait for this one.
    db.onversionchange = () => db.close();
  }

  static async open(name: string, stores: readonly string[], version = 1): Promise<Database> {
    const request = indexedDB.open(name, version);
    request.onupgradeneeded = () => {
      for (const store of stores) if (!request.result.objectStoreNames.contains(store)) request.result.createObjectStore(store);
    };
    return new Database(await done(request));
  }

  async get<T>(store: string, key: IDBValidKey): Promise<T | undefined> {
    return (await done(this.db.transaction(store).objectStore(store).get(key))) as T | undefined;
  }

  /** Every value of each store, read in one transaction (one consistent state). */
  async snapshot(stores: readonly string[]): Promise<Map<string, unknown[]>> {
    const tx = this.db.transaction([...stores]);
    const values = await Promise.all(stores.map((store) => done(tx.objectStore(store).getAll())));
    return new Map(stores.map((store, i) => [store, values[i]!]));
  }

  /** Runs `work` on the stores in one read-write transaction: everything it does lands, or nothing. */
  async change(stores: readonly string[], work: (store: (name: string) => IDBObjectStore) => void): Promise<void> {
    const tx = this.db.transaction([...stores], 'readwrite');
    work((name) => tx.objectStore(name));
    await committed(tx);
  }

  close(): void {
    this.db.close();
  }

  static async remove(name: string): Promise<void> {
    await done(indexedDB.deleteDatabase(name) as IDBRequest<unknown>);
  }
}
