/**
 * The bench's processes run as plain JavaScript: before the scenarios start, every TypeScript
 * module the workers can reach is transpiled file by file (esbuild, no bundling) into
 * `.cache/bench-js/`, in the same layout, next to copies of the files modules read beside
 * themselves (Avro schemas, migrations, the price table, the OTLP .proto, the producer
 * thread's .mjs entry). Why: a process started with `--import tsx` resolves and loads every
 * import through loader hooks on a separate thread; measured on this box, importing the
 * processor, the sink and the client took 1.8-2.5 s of CPU that way against 0.9-1.0 s as plain
 * JavaScript (under load; about half that on a quiet box), and a short bench starts some 35
 * processes. What a worker measures (folding, fetching, inserting) runs the same code either
 * way; only its start-up differs.
 *
 * `--profile` keeps tsx, so that the CPU profiles name the TypeScript sources and their lines.
 */
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

/** The source folders the bench's processes import from. */
const SOURCE_DIRS = ['bench', 'client', 'log', 'schemas', 'services', 'storage', 'streams', 'scripts', 'test'];
const SKIPPED = new Set(['node_modules', '.profiles', '__fixtures__']);

/** Where the tree goes, under the project root. */
export const jsTreeOf = (root: string): string => join(root, '.cache', 'bench-js');

/** The transpiled path of a TypeScript module (`bench/workers/drain.ts` -> `<tree>/bench/workers/drain.js`). */
export const jsPathOf = (tree: string, relativeTs: string): string => join(tree, relativeTs.replace(/\.ts$/, '.js'));

function walk(dir: string, out: { ts: string[]; assets: string[] }): void {
  for (const name of readdirSync(dir)) {
    if (SKIPPED.has(name)) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, out);
    else if (/\.test\.ts$/.test(name)) continue;
    else if (name.endsWith('.ts')) out.ts.push(path);
    else out.assets.push(path);
  }
}

/** Rebuilds the tree from scratch (nothing stale from a deleted source survives). */
export async function buildJsTree(root: string): Promise<{ tree: string; modules: number; assets: number; ms: number }> {
  const started = performance.now();
  const tree = jsTreeOf(root);
  rmSync(tree, { recursive: true, force: true });
  const found = { ts: [] as string[], assets: [] as string[] };
  for (const dir of SOURCE_DIRS) walk(join(root, dir), found);
  await build({ entryPoints: found.ts, outdir: tree, outbase: root, format: 'esm', platform: 'node', target: 'node20', logLevel: 'warning' });
  for (const asset of found.assets) {
    const to = join(tree, relative(root, asset));
    mkdirSync(dirname(to), { recursive: true });
    copyFileSync(asset, to);
  }
  return { tree, modules: found.ts.length, assets: found.assets.length, ms: performance.now() - started };
}
