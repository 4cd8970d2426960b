import type { TopicSpec } from './port.js';

/** Topic names. Spans, control and audit are keyed by tree id; policies by policy id. */
export interface Topics {
  spans: string;
  control: string;
  audit: string;
  deadLetter: string;
  policies: string;
}

export function topicNames(prefix = 'fusebox'): Topics {
  return Object.freeze({
    spans: `${prefix}.spans`,
    control: `${prefix}.control`,
    audit: `${prefix}.audit`,
    deadLetter: `${prefix}.dead-letter`,
    policies: `${prefix}.policies`,
  });
}

/** Spans and control share a partition count and a key so a tree's control events sit in the
 *  partition matching its spans; processors scale out up to that count. */
export function topicSpecs(topics: Topics, partitions: number): TopicSpec[] {
  return [
    { topic: topics.spans, partitions },
    { topic: topics.control, partitions },
    { topic: topics.audit, partitions },
    { topic: topics.deadLetter, partitions: 1 },
    { topic: topics.policies, partitions: 1, compacted: true },
  ];
}
