/**
 * Small socket helpers every lesson needs, so backpressure is handled the same way everywhere.
 */
import type { Socket } from 'node:net';

/**
 * Waits until a socket that returned false from write() can take more ('drain'), or is gone ('close').
 * Resolves true when it drained, false when it closed. Removes its listeners either way.
 */
export function waitDrain(socket: Socket): Promise<boolean> {
  if (socket.destroyed) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onDrain = () => {
      socket.off('close', onClose);
      resolve(true);
    };
    const onClose = () => {
      socket.off('drain', onDrain);
      resolve(false);
    };
    socket.once('drain', onDrain);
    socket.once('close', onClose);
  });
}
