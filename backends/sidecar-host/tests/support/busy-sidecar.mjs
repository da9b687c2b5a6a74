// The real sidecar, plus one thing a test needs: on SIGUSR2 its JavaScript thread computes
// without yielding until it has spent `BUSY_CPU_MS` of CPU time, answering nothing meanwhile.
// That is a busy event loop (100 streams' bursts at once), not a stopped one (SIGSTOP): the
// supervisor must tell the two apart (docs/crash.md#hang-detection).

/** Above the 1.75 s in which a stopped sidecar is declared hung, so the rule is exercised. */
const BUSY_CPU_MS = 3_000;

process.on('SIGUSR2', () => {
  const start = process.cpuUsage();
  let spent = 0;
  while (spent < BUSY_CPU_MS * 1_000) {
    const now = process.cpuUsage(start);
    spent = now.user + now.system;
  }
});

await import('../../../sidecar/dist/server.mjs');
