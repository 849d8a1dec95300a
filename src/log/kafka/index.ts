/** The Kafka implementation of the Log interface; third-party Kafka clients stay in this folder. */
export { KafkaLog, type KafkaLogOptions } from './kafka-log.ts';
