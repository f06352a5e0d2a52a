// What route plugins are given: built once per app in app.ts, holding no
// user's key (keys live only in request-scoped vaults).
import type { Accounts } from '../accounts/accounts.ts';
import type { Config } from '../config.ts';
import type { OAuthSettings } from '../oauth/settings.ts';
import type { Store } from '../storage/store.ts';
import type { RateLimiter } from './rate-limit.ts';

export interface Services {
  config: Config;
  store: Store;
  accounts: Accounts;
  limiter: RateLimiter;
  oauth: OAuthSettings;
}
