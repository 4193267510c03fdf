/**
 * Watch streams: the changes this node's replica applied ({@link quorumkv.watch.WatchHistory}),
 * kept in memory and in a SQLite file of their own (watch-NODE.db) within WATCH_HISTORY changes
 * and WATCH_HISTORY_BYTES, and the watchers they are delivered to. Changes are captured where the
 * replica's key map changes ({@code ReplicaState.Applying.put/delete}), so every kind of log entry
 * yields them; the replica's event handler records them before the state is published or a
 * snapshot of it taken, and at recovery again for every replayed event. The HTTP side (SSE, 410,
 * the bounded per-stream queue) is {@code quorumkv.http.WatchRoutes}. Nothing here imports Akka.
 */
package quorumkv.watch;
