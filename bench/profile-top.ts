/**
 * Where the CPU went: the functions with the most self time in `.cpuprofile` files, as
 * `file:line`, so a hot path can be named without opening DevTools.
 *
 *   npm run bench -- processor --profile
 *   npx tsx bench/profile-top.ts bench/.profiles/*.cpuprofile [--top 25]
 *
 * Each file is one process; its share is of that process's sampled time (idle included, shown
 * as "(idle)"), so a service that was busy 70% of the time shows it.
 *
 * tsx hands V8 whitespace-minified code (one line per file), so profile line numbers of .ts
 * files are meaningless; for those the line is where the function's name is first declared in
 * the source, found by name (marked with ~).
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface Profile {
  nodes: ProfileNode[];
  samples?: number[];
  timeDeltas?: number[];
}

const sources = new Map<string, string[]>();
const args = process.argv.slice(2);
const topAt = args.indexOf('--top');
const top = topAt >= 0 ? Number(args[topAt + 1]) : 20;
const files = args.filter((a, i) => !a.startsWith('--') && (topAt < 0 || i !== topAt + 1));
if (files.length === 0) {
  process.stderr.write('usage: npx tsx bench/profile-top.ts <file.cpuprofile> ... [--top N]\n');
  process.exit(2);
}

for (const file of files) {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  // Self time per node from the sample stream (timeDeltas in µs), which is exact where hitCount is coarse.
  const selfUs = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) selfUs.set(samples[i]!, (selfUs.get(samples[i]!) ?? 0) + (deltas[i + 1] ?? 0));
  const byFrame = new Map<string, number>();
  for (const node of profile.nodes) {
    const us = selfUs.get(node.id) ?? 0;
    if (us === 0) continue;
    const key = describe(node.callFrame);
    byFrame.set(key, (byFrame.get(key) ?? 0) + us);
  }
  const total = [...byFrame.values()].reduce((a, b) => a + b, 0);
  process.stdout.write(`\n${file}: ${(total / 1e6).toFixed(1)} s sampled\n`);
  for (const [frame, us] of [...byFrame].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    process.stdout.write(`  ${((100 * us) / total).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(7)} ms  ${frame}\n`);
  }
}

function describe(frame: ProfileNode['callFrame']): string {
  const name = frame.functionName || '(anonymous)';
  if (!frame.url) return name;
  if (!frame.url.startsWith('file://')) return `${name}  ${frame.url}:${frame.lineNumber + 1}`;
  const file = fileURLToPath(frame.url);
  const path = relative(process.cwd(), file);
  if (!file.endsWith('.ts')) return `${name}  ${path}:${frame.lineNumber + 1}`;
  const line = frame.functionName ? declarationLine(file, frame.functionName) : null;
  return `${name}  ${path}${line ? `:~${line}` : ''}`;
}


function declarationLine(file: string, name: string): number | null {
  let lines = sources.get(file);
  if (!lines) {
    lines = readFileSync(file, 'utf8').split('\n');
    sources.set(file, lines);
  }
  const n = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  // Most specific first: a function declaration, a method or property definition, a binding;
  // only then any mention followed by a call or a colon.
  const patterns = [
    new RegExp(`function\\s*\\*?\\s*${n}\\b`),
    new RegExp(`^\\s*(async\\s+)?(get\\s+)?${n}\\s*(<[^>]*>)?\\(.*\\)\\s*(:[^=]*)?\\{\\s*$`),
    new RegExp(`^\\s*(async\\s+)?${n}\\s*\\(`),
    new RegExp(`\\b(const|let|var)\\s+${n}\\s*[=:]`),
    new RegExp(`\\b${n}\\s*[(:]`),
  ];
  const code = (l: string) => !l.trimStart().startsWith('*') && !l.trimStart().startsWith('//');
  let index = -1;
  for (const pattern of patterns) {
    index = lines.findIndex((l) => code(l) && pattern.test(l));
    if (index >= 0) break;
  }
  return index >= 0 ? index + 1 : null;
}
