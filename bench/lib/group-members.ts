/**
 * Who owns what in a consumer group, as its coordinator says (DescribeGroups), read from outside
 * the members: per member (by Kafka client id), the partitions of a topic assigned to it in the
 * current generation. Only a group in the Stable state has assignments worth trusting: while it
 * rebalances they are empty or about to change, and a member killed without leaving stays listed,
 * with its partitions, until its session times out.
 */
import { AssignerProtocol } from '../../log/kafkajs.js';
import { rawKafka } from './kafka.js';

export interface GroupMembers {
  /** Date.now() when the answer arrived. */
  atMs: number;
  state: string;
  /** Per member client id, the partitions of the topic it owns (several members may share an id). */
  owners: Map<string, number[]>;
}

/** Decodes a member's assignment (the standard consumer protocol) down to one topic's partitions. */
export function partitionsOf(memberAssignment: Buffer, topic: string): number[] {
  const decoded = memberAssignment.length > 0 ? AssignerProtocol.MemberAssignment.decode(memberAssignment) : null;
  return [...(decoded?.assignment[topic] ?? [])].sort((a, b) => a - b);
}

/**
 * True when the group is Stable with exactly `members` (client ids) in it and each of them owns
 * partitions of the topic: no rebalance pending, no dead member still listed, nobody idle.
 */
export function settledWith(group: GroupMembers, members: readonly string[]): boolean {
  const ids = [...group.owners.keys()];
  return group.state === 'Stable' && ids.length === members.length && members.every((id) => (group.owners.get(id)?.length ?? 0) > 0);
}

export async function groupMembers(brokers: string[], groupId: string, topic: string) {
  const admin = rawKafka(brokers, 'bench-members').admin();
  await admin.connect();
  return {
    async describe(): Promise<GroupMembers> {
      const { groups } = await admin.describeGroups([groupId]);
      const group = groups[0];
      const owners = new Map<string, number[]>();
      for (const member of group?.members ?? []) owners.set(member.clientId, [...(owners.get(member.clientId) ?? []), ...partitionsOf(member.memberAssignment, topic)]);
      return { atMs: Date.now(), state: group?.state ?? 'Dead', owners };
    },
    close: () => admin.disconnect(),
  };
}
