/**
 * kafkajs, as the rest of Fusebox imports it: with its read_committed filter fixed first
 * (see kafkajs-read-committed.ts). Import kafkajs from here, never from 'kafkajs' directly.
 */
import './kafkajs-read-committed.js';

export * from 'kafkajs';
