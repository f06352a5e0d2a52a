#!/usr/bin/env node
// Launcher for `anamnesis-local` (npx-style): runs the TypeScript sources
// through tsx, so it works from a checkout and from the installed package alike.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/local/cli.ts');
process.exitCode = await main(process.argv.slice(2));
