// Settles reads answered in place without starving the event loop. Such a read needs no I/O, so a
// loop that only awaits reads would never let timers, ports or sockets run (ports carry the
// shards' replies and the cluster's membership work). It never delays a read past the next turn.

/** Reads settled at once per event-loop turn; the rest settle after the loop has turned. */
export const READS_PER_TURN = 256;

/** Counts the reads settled in place in the current turn (one per thread and cache). */
export class TurnBudget {
  #n = 0;
  readonly #reset = (): void => {
    this.#n = 0;
  };

  /** `value` as a settled read: at once within the turn's budget, else in the next turn's check phase. */
  resolve<T>(value: T): Promise<T> {
    if (this.#n++ === 0) setImmediate(this.#reset);
    if (this.#n <= READS_PER_TURN) return Promise.resolve(value);
    return new Promise((resolve) => setImmediate(resolve, value));
  }
}
