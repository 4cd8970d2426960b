/**
 * The SRE dashboard's panels as named, parameterised ClickHouse queries: the same SQL whether
 * a panel is drawn by the dashboard service (issue 4) or pasted into `npm run sql` / Grafana.
 * Every panel is scoped to one tenant and an event-time range.
 */
export interface Panel {
  id: string;
  title: string;
  /** Parameters: {tenant:String}, {from:DateTime64(3)}, {to:DateTime64(3)} */
  sql: string;
}

export const srePanels: readonly Panel[] = Object.freeze([
  {
    id: 'trips-by-detector',
    title: 'Breaker trips by detector',
    sql: `SELECT detector, count() AS trips, uniqExact(agent_id) AS agents, sum(run_cost_micros) AS run_cost_micros
          FROM breaker_events FINAL
          WHERE tenant_id = {tenant:String} AND time >= {from:DateTime64(3)} AND time < {to:DateTime64(3)}
          GROUP BY detector ORDER BY trips DESC`,
  },
  {
    id: 'recent-trips',
    title: 'Recent trips',
    sql: `SELECT time, agent_id, run_id, detector, threshold, observed, last_action, steps_elapsed, run_cost_micros
          FROM breaker_events FINAL
          WHERE tenant_id = {tenant:String} AND time >= {from:DateTime64(3)} AND time < {to:DateTime64(3)}
          ORDER BY time DESC LIMIT 50`,
  },
  {
    id: 'spend-by-agent',
    title: 'Spend by agent (micro-USD)',
    sql: `SELECT agent_id, count() AS spans, countIf(status = 'error') AS errors, sum(ifNull(cost_micros, 0)) AS spend_micros, countIf(cost_micros IS NULL AND kind = 'llm_call') AS unpriced_llm_calls
          FROM spans FINAL
          WHERE tenant_id = {tenant:String} AND start_time >= {from:DateTime64(3)} AND start_time < {to:DateTime64(3)}
          GROUP BY agent_id ORDER BY spend_micros DESC`,
  },
]);
