/** LSP/1 codec library: pure encoders, decoders and validators. No sockets, timers or logging. */
export * from './errors.ts';
export * from './limits.ts';
export * from './codecs.ts';
export * from './frame.ts';
export * from './batch.ts';
export * from './record.ts';
export * from './syslog/errors.ts';
export * from './syslog/names.ts';
export * from './syslog/scan.ts';
export * from './syslog/writer.ts';
export * from './syslog/encode.ts';
