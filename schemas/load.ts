import { readFileSync } from 'node:fs';

/** Reads `schemas/avro/<file>`: the .avsc files are the language-neutral contract. */
export function loadAvsc(file: string): object {
  return JSON.parse(readFileSync(new URL(`./avro/${file}`, import.meta.url), 'utf8')) as object;
}
