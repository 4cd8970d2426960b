// Entry of the producer thread, plain JavaScript so that Node can start it however the client
// itself was loaded (tsx, vitest, or compiled JavaScript): a TypeScript body is loaded through
// tsx's own API, scoped to this import, since a worker does not inherit vitest's transform.
import { workerData } from 'node:worker_threads';

const body = workerData.body;
if (body.endsWith('.ts')) {
  const { tsImport } = await import('tsx/esm/api');
  await tsImport(body, import.meta.url);
} else {
  await import(body);
}
