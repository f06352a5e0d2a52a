// src/server.ts under the V8 CPU profiler, for bench/profile.ts: started as
// the server script (`node --import tsx bench/lib/profiled-server.ts`, as
// --cpu-prof is not allowed in NODE_OPTIONS), it writes the profile to
// $ANAMNESIS_CPU_PROFILE when SIGTERM arrives, before the server's own
// handler shuts down and exits.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';

const target = process.env.ANAMNESIS_CPU_PROFILE;
if (!target) throw new Error('ANAMNESIS_CPU_PROFILE must name the file to write the profile to');

const session = new Session();
session.connect();
// A same-thread inspector session answers synchronously.
session.post('Profiler.enable');
session.post('Profiler.start');
process.once('SIGTERM', () => {
  session.post('Profiler.stop', (error, result) => {
    if (!error) writeFileSync(target, JSON.stringify(result.profile));
  });
});

await import('../../src/server.ts');
