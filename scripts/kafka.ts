/**
 * `npm run kafka`: runs a real single-node Kafka broker on 127.0.0.1 until Ctrl-C, for local
 * work against real Kafka (`KAFKA_BROKERS=<printed address> npm start`).
 */
import { startKafkaBroker } from './kafka/broker.js';

const broker = await startKafkaBroker({ log: (line) => console.error(`[kafka] ${line}`), defaultPartitions: 6 });
console.log(`KAFKA_BROKERS=${broker.brokers}`);
console.error(`[kafka] broker log: ${broker.logFile}; Ctrl-C stops it and removes its data`);
const stop = async () => { await broker.stop(); process.exit(0); };
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
