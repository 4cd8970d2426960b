import { describe, expect, it } from 'vitest';
import { apiRoutes } from './app.js';
import { openApiDocument } from './openapi.js';

const document = openApiDocument(apiRoutes, { title: 't', version: '1' }) as {
  openapi: string;
  paths: Record<string, Record<string, { parameters: { name: string; in: string; required: boolean }[]; responses: Record<string, unknown>; requestBody?: unknown }>>;
  components: { schemas: Record<string, unknown> };
};

describe('OpenAPI document', () => {
  it('is OpenAPI 3.1 with one operation per route', () => {
    expect(document.openapi).toBe('3.1.0');
    const operations = Object.entries(document.paths).flatMap(([path, ops]) => Object.keys(ops).map((method) => `${method.toUpperCase()} ${path}`));
    expect(operations.sort()).toEqual(apiRoutes.map((r) => `${r.method} ${r.url.replace(/:([A-Za-z]+)/g, '{$1}')}`).sort());
  });

  it('describes path and query parameters from the zod schemas', () => {
    const runs = document.paths['/v1/runs']!.get!;
    expect(runs.parameters.map((p) => p.name)).toEqual(['agent', 'status', 'from', 'to', 'tripped', 'limit', 'cursor']);
    const report = document.paths['/v1/reports/cost']!.get!;
    expect(report.parameters.filter((p) => p.required).map((p) => p.name)).toEqual(['from', 'to']);
    expect(document.paths['/v1/runs/{runId}/spans']!.get!.parameters[0]).toMatchObject({ name: 'runId', in: 'path', required: true });
    expect(document.paths['/v1/keys']!.post!.requestBody).toBeDefined();
  });

  it('has every $ref point at a component it defines', () => {
    const refs = [...JSON.stringify(document).matchAll(/"\$ref":"([^"]+)"/g)].map((m) => m[1]!);
    expect(refs.length).toBeGreaterThan(10);
    for (const ref of refs) {
      expect(ref).toMatch(/^#\/components\/schemas\//);
      expect(document.components.schemas).toHaveProperty(ref.slice('#/components/schemas/'.length));
    }
  });

  it('answers CSV where a route can', () => {
    expect(document.paths['/v1/reports/cost']!.get!.responses['200']).toMatchObject({ content: { 'text/csv': {} } });
  });
});
