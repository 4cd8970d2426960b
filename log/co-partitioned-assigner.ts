/**
 * A kafkajs partition assigner that gives partition N of every subscribed topic to the same
 * member. The processor reads spans and control events, both keyed by tree id with the same
 * partition count, so one member sees a tree's spans and its kill/reset events together and
 * can commit both in one transaction with the tree's state. (kafkajs's round-robin assigner
 * would scatter them.)
 */
import { AssignerProtocol, type PartitionAssigner } from './kafkajs.js';

export const CoPartitionedAssigner: PartitionAssigner = ({ cluster }) => ({
  name: 'FuseboxCoPartitioned',
  version: 1,
  async assign({ members, topics }) {
    const sorted = members.map((m) => m.memberId).sort();
    const assignment = new Map<string, Record<string, number[]>>(sorted.map((id) => [id, {}]));
    for (const topic of topics) {
      for (const { partitionId } of cluster.findTopicPartitionMetadata(topic)) {
        const member = assignment.get(sorted[partitionId % sorted.length]!)!;
        (member[topic] ??= []).push(partitionId);
      }
    }
    return [...assignment].map(([memberId, topicsOfMember]) => ({
      memberId,
      memberAssignment: AssignerProtocol.MemberAssignment.encode({ version: 1, assignment: topicsOfMember, userData: Buffer.alloc(0) }),
    }));
  },
  protocol({ topics }) {
    return { name: 'FuseboxCoPartitioned', metadata: AssignerProtocol.MemberMetadata.encode({ version: 1, topics, userData: Buffer.alloc(0) }) };
  },
});
