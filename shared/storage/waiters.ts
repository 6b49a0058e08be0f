// The sink's waiters (whenWritten, whenDurable): promises released once the sink's position passes a ticket.

export interface Waiter {
  ticket: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * Waiters stay sorted by ticket, so the ready ones are a prefix. Most arrive in order (at the end); a flush's
 * waiter for its round's older ticket does not, and pushed behind larger tickets it was never released
 * (a SIGTERM drain hung in close() until its deadline under load).
 */
export function enqueue(waiters: Waiter[], w: Waiter): void {
  let i = waiters.length;
  while (i > 0 && waiters[i - 1]!.ticket > w.ticket) i--;
  waiters.splice(i, 0, w);
}

export function settle(waiters: Waiter[], upTo: number): void {
  if (!waiters.length || waiters[0]!.ticket > upTo) return;
  let n = 0;
  while (n < waiters.length && waiters[n]!.ticket <= upTo) n++;
  for (const w of waiters.splice(0, n)) w.resolve();
}
