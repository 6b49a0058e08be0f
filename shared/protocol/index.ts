/** LSP/1 codec library: pure encoders, decoders and validators. No sockets, timers or logging. */
export * from './errors.ts';
export * from './limits.ts';
export * from './codecs.ts';
export * from './frame.ts';
export * from './batch.ts';
export * from './record.ts';
export * from './syslog.ts';
