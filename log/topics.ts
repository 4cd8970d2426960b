import type { TopicSpec } from './port.js';

/** Topic names. Spans, control and audit are keyed by tree id; policies by policy id. */
export interface Topics {
  spans: string;
  control: string;
  /** Trips sent the moment they are decided, outside the processor's transactions, keyed like
   *  control (services/processor/early-lane.ts): agents read both, once per event id. */
  controlEarly: string;
  audit: string;
  deadLetter: string;
  policies: string;
  /** The processor's state changelog: a compacted snapshot per spawn tree, keyed by tree id. */
  processorState: string;
  /** Run starts, ends and trips, re-keyed by tenant/agent for the agent stage. */
  agentSignals: string;
  /** The agent stage's state changelog: a compacted record per agent. */
  agentState: string;
  /** Per-batch spend summaries keyed by tenant, for the tenant stage. */
  tenantSpend: string;
  /** The tenant stage's state changelog: a compacted record per tenant. */
  tenantState: string;
  /** Tenant price overrides (compacted, key = tenant/provider/model/effective time): processor and sink price by them. */
  prices: string;
  /**
   * Standing agent- and tenant-scope breakers (compacted, key = scope:tenant:target, in the
   * partition of the tenant): the latest trip, kill or reset of each, so a client started any
   * time later reads its tenant's partition and knows what stands (services/control-messages.ts).
   */
  breakerState: string;
}

export function topicNames(prefix = 'fusebox'): Topics {
  return Object.freeze({
    spans: `${prefix}.spans`,
    control: `${prefix}.control`,
    controlEarly: `${prefix}.control-early`,
    audit: `${prefix}.audit`,
    deadLetter: `${prefix}.dead-letter`,
    policies: `${prefix}.policies`,
    processorState: `${prefix}.processor-state`,
    agentSignals: `${prefix}.agent-signals`,
    agentState: `${prefix}.agent-state`,
    tenantSpend: `${prefix}.tenant-spend`,
    tenantState: `${prefix}.tenant-state`,
    prices: `${prefix}.prices`,
    breakerState: `${prefix}.breaker-state`,
  });
}

/**
 * The topics whose ControlEvents make up a breaker board that reads every tenant's (the
 * gateway's): control and control-early (trips before their transaction commits) live, from
 * their end; breaker-state, where every trip, kill and reset stands, whole.
 */
export interface BreakerTopics {
  live: readonly string[];
  standing?: string;
}

export function breakerTopics(topics: Topics): BreakerTopics {
  return { live: [topics.control, topics.controlEarly], standing: topics.breakerState };
}

/** Spans, control, audit and processor state share a partition count and a key (tree id), so a
 *  tree's events sit in the same partition number everywhere; processors scale out up to that
 *  count. */
export function topicSpecs(topics: Topics, partitions: number): TopicSpec[] {
  return [
    { topic: topics.spans, partitions },
    { topic: topics.control, partitions },
    // A latency hint, never replayed from the beginning: the control topic is the record.
    { topic: topics.controlEarly, partitions, retentionMs: 3_600_000 },
    { topic: topics.audit, partitions },
    { topic: topics.deadLetter, partitions: 1 },
    { topic: topics.policies, partitions: 1, compacted: true },
    // Same count as spans: a tree's snapshot sits in the partition number of its spans.
    { topic: topics.processorState, partitions, compacted: true },
    { topic: topics.agentSignals, partitions },
    { topic: topics.agentState, partitions, compacted: true },
    { topic: topics.tenantSpend, partitions },
    { topic: topics.tenantState, partitions, compacted: true },
    { topic: topics.prices, partitions: 1, compacted: true },
    { topic: topics.breakerState, partitions, compacted: true },
  ];
}
