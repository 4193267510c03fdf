/**
 * Checking a fault-injection run, Jepsen style: concurrent clients record every operation they
 * send, with its outcome, in a {@link quorumkv.jepsen.History} while nodes are killed, paused and
 * partitioned; afterwards {@link quorumkv.jepsen.LinearizabilityChecker} decides, key by key,
 * whether what the clients saw could have come from a single register per key, and
 * {@link quorumkv.jepsen.HistoryStats} sums the run up.
 *
 * <p>Design notes.
 * <ul>
 *   <li>Outcomes follow the HTTP API's promises: a 400, or a 503 that says nothing was written, is
 *       FAIL (certainly no effect); a 503 "quorum not reached" leaves the write in doubt (it is not
 *       rolled back and may become visible later), and so do connection errors and client
 *       timeouts: INFO. Treating an in-doubt write as failed would raise false alarms; treating
 *       a failed one as in doubt would hide real bugs.
 *   <li>Everything here is pure and deterministic apart from the clock the history reads, so the
 *       checker is tested on hand-made histories and a saved {@code history.jsonl} can be checked
 *       again later:
 *       {@code java -cp jepsen/target/quorumkv-jepsen.jar quorumkv.jepsen.LinearizabilityChecker history.jsonl}.
 *   <li>Only {@code consistency=linearizable} reads are held to linearizability by the design;
 *       a run that reads with {@code local} should expect stale reads to be reported.
 * </ul>
 */
package quorumkv.jepsen;
