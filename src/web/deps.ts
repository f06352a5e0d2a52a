// What every page route plugin is given: the app's services plus the assets.
import type { Services } from '../http/services.ts';
import type { Assets } from './assets.ts';

export interface WebDeps extends Services {
  assets: Assets;
}
