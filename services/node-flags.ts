/**
 * V8 flags the services (processor, stages, sink, gateway, query API) run with; the Dockerfile
 * sets the same in NODE_OPTIONS, and the benchmark starts its service processes with them (the
 * graph scenario serves the API in the bench's own process, without them: BENCHMARKS.md,
 * finding 7, measured the difference).
 *
 * A young generation of 64 MiB semi-spaces instead of V8's 16: a processor batch (thousands of
 * spans, their decoded objects and the outputs built from them) lives for the length of the
 * batch, and with 16 MiB semi-spaces much of it survived two scavenges and was promoted, to be
 * collected by the far dearer old-generation GC. Measured on the processor drain (BENCHMARKS.md,
 * finding 1): 9.96-11.1 µs of CPU a span with the default, 8.27 µs with 64 MiB (8.73-9.28 with
 * 32), for ~90 MiB more resident memory. Agents are not services: the client leaves its host's
 * flags alone.
 */
export const SERVICE_NODE_FLAGS: readonly string[] = Object.freeze(['--max-semi-space-size=64']);
