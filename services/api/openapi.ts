/**
 * The OpenAPI 3.1 document, generated from the same route declarations and zod schemas that
 * validate requests, so it cannot describe an API other than the one served.
 */
import { z } from 'zod';
import { API_ERRORS } from './errors.js';
import type { RouteSpec } from './route.js';
import { errorBody } from './schemas.js';

type JsonSchema = Record<string, unknown>;

/** Schemas tagged with `.meta({ id })` become shared components. */
const registry = z.globalRegistry;

/** A schema as JSON Schema; shared schemas it uses are left in `$defs`, referenced as components. */
function schemaOf(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const json = z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12', metadata: registry }) as JsonSchema;
  delete json.$schema;
  return JSON.parse(JSON.stringify(json).replaceAll('"#/$defs/', '"#/components/schemas/')) as JsonSchema;
}

/** Query and path parameters: one entry per property of the object schema. */
function parametersOf(schema: z.ZodType | undefined, location: 'query' | 'path'): JsonSchema[] {
  if (schema === undefined) return [];
  const json = schemaOf(schema, 'input');
  const properties = (json.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((json.required ?? []) as string[]);
  return Object.entries(properties).map(([name, property]) => {
    const { description, ...rest } = property;
    return { name, in: location, required: location === 'path' || required.has(name), ...(description ? { description } : {}), schema: rest };
  });
}

const errorResponses = (statuses: number[]) =>
  Object.fromEntries(statuses.map((status) => [String(status), {
    description: Object.entries(API_ERRORS).filter(([, e]) => e.status === status).map(([code]) => code).join(', '),
    content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
  }]));

export function openApiDocument(routes: readonly RouteSpec[], info: { title: string; version: string }): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  const components: Record<string, JsonSchema> = { Error: schemaOf(errorBody, 'output') };
  for (const route of routes) {
    const path = route.url.replace(/:([A-Za-z]+)/g, '{$1}');
    const response = schemaOf(route.response, 'output');
    for (const [name, definition] of Object.entries((response.$defs ?? {}) as Record<string, JsonSchema>)) components[name] = definition;
    delete response.$defs;
    const content: JsonSchema = { 'application/json': { schema: response } };
    if (route.csv) content['text/csv'] = { schema: { type: 'string' } };
    const operation: JsonSchema = {
      operationId: `${route.method.toLowerCase()}${path.replace(/[{}]/g, '').split(/[/-]/).map((part) => part.charAt(0).toUpperCase() + part.slice(1)).join('')}`,
      summary: route.summary,
      tags: [route.tag],
      description: `Needs the '${route.permission}' permission.`,
      parameters: [...parametersOf(route.params, 'path'), ...parametersOf(route.query, 'query')],
      responses: {
        [String(route.status ?? 200)]: { description: 'OK', content },
        ...errorResponses([400, 401, 403, ...(route.params || route.query ? [404] : []), 503]),
      },
    };
    if (route.body) operation.requestBody = { required: true, content: { 'application/json': { schema: schemaOf(route.body, 'input') } } };
    (paths[path] ??= {})[route.method.toLowerCase()] = operation;
  }
  // Shared components referenced from inside request schemas too.
  return {
    openapi: '3.1.0',
    info: { ...info, description: 'The Fusebox query API. Every route needs an API key (Authorization: Bearer fbx_...); the tenant is the key\'s.' },
    components: { schemas: components, securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'fbx_<key id>_<secret>' } } },
    security: [{ apiKey: [] }],
    paths,
  };
}
