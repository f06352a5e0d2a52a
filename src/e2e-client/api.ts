// The E2E HTTP API (docs/e2e-protocol.md §3) as typed calls: the one place
// that knows the JSON shapes. A non-2xx answer becomes an E2eApiError with
// the server's code and status; a request that never got an answer becomes
// an OfflineError, so the sync engine can keep local writes queued.

// ---- wire shapes ------------------------------------------------------------

export interface RegistrationStarted {
  registration_id: string;
  user_id: string;
  registration_response: string;
}

export interface KeyWraps {
  password_wrap: string;
  recovery_wrap: string;
  recovery_verifier: string;
}

export interface AccountCreated {
  user_id: string;
  token: string;
}

export interface LoginStarted {
  login_id: string;
  login_response: string;
}

export interface LoginFinished {
  user_id: string;
  token: string;
  password_wrap: string;
}

export interface RecoveryStarted {
  reset_id: string;
  user_id: string;
  recovery_wrap: string;
  registration_response: string;
}

export interface AccountInfo {
  user_id: string;
  email: string;
  cursor: number;
  records: number;
}

/** One row of the changes feed: the id's latest version and token. */
export interface Change {
  id: string;
  seq: number;
  version: number;
  token: string;
  /** The writer's clear-text claim that the token is a tombstone; the token itself is what this client believes. */
  deleted: boolean;
}

export interface ChangesPage {
  changes: Change[];
  cursor: number;
  more: boolean;
}

/** A write: `version` = `base_version` + 1, `base_version` 0 for a new id. */
export interface Write {
  id: string;
  base_version: number;
  version: number;
  token: string;
  /** Says in the clear that the token is a tombstone, so the server can purge it and count live records. */
  deleted?: boolean;
}

export interface WriteResult {
  cursor: number;
  applied: Array<{ id: string; version: number; seq: number }>;
}

/** The server's current row for a conflicting id: `seq` 0, `version` 0 and `token` null when it has none. */
export interface ConflictRow {
  id: string;
  version: number;
  seq: number;
  token: string | null;
  deleted: boolean;
}

export interface ConversionFinished {
  user_id: string;
  token: string;
  cursor: number;
}

// ---- errors -----------------------------------------------------------------

/** An answer from the server that is not a success: its code (e.g. `conflict`, `cursor_expired`) and status. */
export class E2eApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** The rest of the error body, e.g. `conflicts` on a 409. */
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'E2eApiError';
  }

  /** The server's rows for a 409 `conflict`; empty for every other error. */
  get conflicts(): ConflictRow[] {
    return this.code === 'conflict' && Array.isArray(this.details.conflicts) ? (this.details.conflicts as ConflictRow[]) : [];
  }
}

/** The request got no answer (offline, DNS, connection refused): nothing is known to have changed. */
export class OfflineError extends Error {
  constructor() {
    super('the server could not be reached');
    this.name = 'OfflineError';
  }
}

// ---- client -----------------------------------------------------------------

export interface ApiOptions {
  /** The server's origin, e.g. `https://anamnesis.example`; '' for same-origin relative paths in the browser. */
  baseUrl: string;
  /** An E2E session token (`ane_…`) for the authenticated calls. */
  token?: string;
  /**
   * Credentials of a server-key account for the conversion calls: an API key
   * (`anm_…`, sent as a bearer). Omitted in the browser, whose same-origin
   * session cookie is sent by fetch itself.
   */
  apiKey?: string;
  /** Defaults to globalThis.fetch. */
  fetch?: typeof fetch;
}

type Method = 'GET' | 'POST' | 'DELETE';

/** A session's label (e.g. "laptop, Claude Code"), sent only when given. */
const labelled = (label: string | undefined) => (label === undefined ? {} : { label });

export class E2eApi {
  readonly baseUrl: string;
  readonly #token: string | undefined;
  readonly #apiKey: string | undefined;
  readonly #fetch: typeof fetch;

  constructor(options: ApiOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.#token = options.token;
    this.#apiKey = options.apiKey;
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  }

  /** The same server, authenticated by an E2E session token. */
  withToken(token: string): E2eApi {
    return new E2eApi({ baseUrl: this.baseUrl, token, fetch: this.#fetch });
  }

  get hasToken(): boolean {
    return this.#token !== undefined;
  }

  async #call<T>(method: Method, path: string, body: unknown, auth: 'none' | 'token' | 'server-key'): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (auth === 'token') {
      if (!this.#token) throw new E2eApiError(401, 'unauthorized', 'log in first: this call needs an end-to-end session');
      headers.authorization = `Bearer ${this.#token}`;
    } else if (auth === 'server-key' && this.#apiKey) {
      headers.authorization = `Bearer ${this.#apiKey}`;
    }
    let response: Response;
    try {
      response = await this.#fetch(`${this.baseUrl}${path}`, {
        method,
        headers,
        credentials: 'same-origin',
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
    } catch {
      throw new OfflineError();
    }
    if (response.status === 204) return undefined as T;
    let parsed: unknown;
    try {
      parsed = await response.json();
    } catch {
      parsed = undefined;
    }
    if (!response.ok) {
      const error = (parsed as { error?: Record<string, unknown> } | undefined)?.error;
      const code = typeof error?.code === 'string' ? error.code : 'http_error';
      const message = typeof error?.message === 'string' ? error.message : `the server answered ${response.status}`;
      const { code: _c, message: _m, ...details } = error ?? {};
      throw new E2eApiError(response.status, code, message, details);
    }
    if (parsed === undefined) throw new E2eApiError(response.status, 'bad_response', 'the server answered with something that is not JSON');
    return parsed as T;
  }

  startRegistration(email: string, registrationRequest: string): Promise<RegistrationStarted> {
    return this.#call('POST', '/api/v1/e2e/registrations', { email, registration_request: registrationRequest }, 'none');
  }

  createAccount(registrationId: string, registrationRecord: string, wraps: KeyWraps, label?: string): Promise<AccountCreated> {
    return this.#call('POST', '/api/v1/e2e/accounts', { registration_id: registrationId, registration_record: registrationRecord, ...wraps, ...labelled(label) }, 'none');
  }

  startLogin(email: string, startLoginRequest: string): Promise<LoginStarted> {
    return this.#call('POST', '/api/v1/e2e/sessions/start', { email, start_login_request: startLoginRequest }, 'none');
  }

  finishLogin(loginId: string, finishLoginRequest: string, label?: string): Promise<LoginFinished> {
    return this.#call('POST', '/api/v1/e2e/sessions/finish', { login_id: loginId, finish_login_request: finishLoginRequest, ...labelled(label) }, 'none');
  }

  /** Ends this token's session. */
  logOut(): Promise<void> {
    return this.#call('DELETE', '/api/v1/e2e/sessions/current', undefined, 'token');
  }

  startRecovery(email: string, recoveryAuth: string, registrationRequest: string): Promise<RecoveryStarted> {
    return this.#call('POST', '/api/v1/e2e/recovery/start', { email, recovery_auth: recoveryAuth, registration_request: registrationRequest }, 'none');
  }

  finishRecovery(resetId: string, registrationRecord: string, wraps: KeyWraps, label?: string): Promise<AccountCreated> {
    return this.#call('POST', '/api/v1/e2e/recovery/finish', { reset_id: resetId, registration_record: registrationRecord, ...wraps, ...labelled(label) }, 'none');
  }

  startConversion(registrationRequest: string): Promise<RegistrationStarted> {
    return this.#call('POST', '/api/v1/e2e/conversions/start', { registration_request: registrationRequest }, 'server-key');
  }

  finishConversion(registrationId: string, registrationRecord: string, wraps: KeyWraps, writes: Write[], label?: string): Promise<ConversionFinished> {
    return this.#call('POST', '/api/v1/e2e/conversions/finish', { registration_id: registrationId, registration_record: registrationRecord, ...wraps, writes, ...labelled(label) }, 'server-key');
  }

  account(): Promise<AccountInfo> {
    return this.#call('GET', '/api/v1/e2e/account', undefined, 'token');
  }

  deleteAccount(): Promise<void> {
    return this.#call('DELETE', '/api/v1/e2e/account', undefined, 'token');
  }

  /** One page of the changes feed after `cursor` (0 for everything); 410 `cursor_expired` when it is too old (or beyond the server's last seq). */
  changes(cursor: number, limit = 500): Promise<ChangesPage> {
    return this.#call('GET', `/api/v1/e2e/changes?cursor=${cursor}&limit=${limit}`, undefined, 'token');
  }

  /** All or nothing; 409 `conflict` (see E2eApiError.conflicts) and nothing written when a base version is stale. */
  write(writes: Write[]): Promise<WriteResult> {
    return this.#call('POST', '/api/v1/e2e/changes', { writes }, 'token');
  }
}
