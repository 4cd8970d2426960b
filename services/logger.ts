/** One line per event on stderr: time, level, component, message, then structured fields. */
export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  child(component: string): Logger;
}

export function createLogger(component: string, write: (line: string) => void = (line) => process.stderr.write(`${line}\n`)): Logger {
  const emit = (level: string) => (message: string, fields?: Record<string, unknown>) => {
    write(`${new Date().toISOString()} ${level} [${component}] ${message}${fields && Object.keys(fields).length > 0 ? ` ${JSON.stringify(fields)}` : ''}`);
  };
  return { info: emit('INFO '), warn: emit('WARN '), error: emit('ERROR'), child: (name) => createLogger(`${component}/${name}`, write) };
}

/** For tests and embedded use: drops everything. */
export const silentLogger: Logger = { info() {}, warn() {}, error() {}, child: () => silentLogger };
