// The server half of OPAQUE (RFC 9807) through @serenity-kit/opaque
// (opaque-ke in WebAssembly). The server never sees a password: it answers
// registration and log-in messages with its setup, and keeps the client's
// registration record. Key stretching (Argon2id) runs on the client only.
import * as opaque from '@serenity-kit/opaque';
import { badRequest } from '../errors.ts';
import type { Store } from '../storage/store.ts';

export class OpaqueServer {
  private constructor(private readonly setup: string) {}

  /**
   * The setup from ANAMNESIS_OPAQUE_SERVER_SETUP when given; otherwise the one
   * kept in the database, made by the first process that needed it.
   */
  static async open(store: Store, configured: string | null): Promise<OpaqueServer> {
    await opaque.ready;
    const setup = configured ?? (await store.ensureOpaqueServerSetup(opaque.server.createSetup(), Date.now()));
    try {
      opaque.server.getPublicKey(setup);
    } catch {
      throw new Error('ANAMNESIS_OPAQUE_SERVER_SETUP is not a valid OPAQUE server setup');
    }
    return new OpaqueServer(setup);
  }

  /** The answer to a client's registration request, for the account whose OPAQUE identifier is `userId`. */
  registrationResponse(userId: string, registrationRequest: string): string {
    try {
      return opaque.server.createRegistrationResponse({ serverSetup: this.setup, userIdentifier: userId, registrationRequest }).registrationResponse;
    } catch {
      throw badRequest('registration_request is not a valid OPAQUE registration request');
    }
  }

  /**
   * The first log-in answer and the state to finish with. Without a record
   * (an unknown email) the package answers with a fake record of the same
   * shape, derived from `identifier`, so the answer does not tell.
   */
  startLogin(identifier: string, registrationRecord: string | null, startLoginRequest: string): { state: string; response: string } {
    try {
      const started = opaque.server.startLogin({ serverSetup: this.setup, userIdentifier: identifier, registrationRecord, startLoginRequest });
      return { state: started.serverLoginState, response: started.loginResponse };
    } catch {
      throw badRequest('start_login_request is not a valid OPAQUE log-in request');
    }
  }

  /** True when the client proved it knows the password the record was made with. */
  finishLogin(state: string, finishLoginRequest: string): boolean {
    try {
      opaque.server.finishLogin({ serverLoginState: state, finishLoginRequest });
      return true;
    } catch {
      return false;
    }
  }
}
