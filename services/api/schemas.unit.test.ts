import { describe, expect, it } from 'vitest';
import { ApiError } from './errors.js';
import { parseInput } from './route.js';
import { costReportQuery, parseTime, runListQuery } from './schemas.js';

describe('times in requests', () => {
  it.each([
    ['1700000000000', 1_700_000_000_000],
    ['2026-03-01', Date.UTC(2026, 2, 1)],
    ['2026-03-01T00:00:00Z', Date.UTC(2026, 2, 1)],
    ['2026-03-01T01:30:00.250+01:00', Date.UTC(2026, 2, 1, 0, 30, 0, 250)],
    ['2026-03-01T00:00Z', Date.UTC(2026, 2, 1)],
  ])('reads %j', (text, ms) => {
    expect(parseTime(text)).toBe(ms);
  });

  it.each(['2026-03-01T00:00:00', '2026-02-30', '2026-13-01', 'yesterday', '', '-5', '1.5'])('refuses %j', (text) => {
    expect(parseTime(text)).toBeNull();
  });
});

describe('request validation answers 400 naming the field', () => {
  const fails = (schema: Parameters<typeof parseInput>[0], input: unknown) => {
    try {
      parseInput(schema, input, 'query');
    } catch (error) {
      expect(error).toBeInstanceOf(ApiError);
      expect((error as ApiError).status).toBe(400);
      return { field: (error as ApiError).field, message: (error as ApiError).message };
    }
    throw new Error('expected a 400');
  };

  it.each([
    [{ to: '1' }, 'query.from', /required/],
    [{ from: 'soon', to: '1' }, 'query.from', /expected epoch milliseconds, an ISO 8601 time/],
    [{ from: '2', to: '1' }, 'query.to', /must be after from/],
    [{ from: '1', to: '2', by: 'agent,colour' }, 'query.by', /unknown dimension 'colour'; choose from agent, model/],
    [{ from: '1', to: '2', by: 'agent,agent' }, 'query.by', /named twice/],
    [{ from: '1', to: '2', format: 'xml' }, 'query.format', /json|csv/],
    [{ from: '1', to: '2', tenantish: 'x' }, 'query.tenantish', /unknown parameter \(expected one of: from, to, by, tree, agent, format\)/],
  ])('cost report %j -> %s', (input, field, message) => {
    const error = fails(costReportQuery, input);
    expect(error.field).toBe(field);
    expect(error.message).toMatch(message);
    expect(error.message.startsWith(`${field}: `)).toBe(true);
  });

  it('reads a valid cost report request, with defaults', () => {
    expect(parseInput(costReportQuery, { from: '2026-03-01', to: '2026-04-01', by: 'agent, model' }, 'query')).toEqual({
      from: Date.UTC(2026, 2, 1), to: Date.UTC(2026, 3, 1), by: ['agent', 'model'], format: 'json',
    });
  });

  it.each([
    [{ limit: '0' }, 'query.limit'],
    [{ limit: '1001' }, 'query.limit'],
    [{ status: 'done' }, 'query.status'],
    [{ tripped: 'yes' }, 'query.tripped'],
  ])('runs listing %j -> %s', (input, field) => {
    expect(fails(runListQuery, input).field).toBe(field);
  });

  it('reads a runs listing with its filters', () => {
    expect(parseInput(runListQuery, { agent: 'a', status: 'error', tripped: 'true', limit: '5' }, 'query')).toEqual({ agent: 'a', status: 'error', tripped: true, limit: 5 });
  });
});
