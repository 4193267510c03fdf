/**
 * The write path: {@link quorumkv.replication.LeaderActor} (a Cluster Singleton) orders writes into
 * a gap-free log, replicates it to every {@link quorumkv.replication.FollowerActor} (one per node,
 * the leader's own included) and spawns a {@link quorumkv.replication.QuorumAggregator} per write
 * that answers the client once the leader's replica and W followers hold the write.
 *
 * <p>Design notes.
 * <ul>
 *   <li>Group commit falls out of pipelining: each follower has at most {@code max-in-flight}
 *       Replicate messages outstanding; writes that arrive meanwhile go out together in the next
 *       one, and the follower persists a batch as one journal event and answers with one
 *       cumulative ack (its last durable index).
 *   <li>The leader keeps {@code nextIndex} (sent) and {@code matchIndex} (durable) per replica.
 *       A follower answers a hole with {@code Gap(lastIndex)}; the leader rewinds to it. A
 *       follower silent for {@code resend-after} is probed again from its match index, which also
 *       covers messages lost to a restart.
 *   <li>The in-memory {@link quorumkv.replication.RetainedLog} bounds what can be resent; a replica
 *       further behind gets the leader's whole state in chunks. The first chunk resets the
 *       replica to index 0, so an interrupted transfer is simply started again.
 *   <li>Terms: the leader takes a term above any its local replica has promised or seen; replicas
 *       refuse Replicate from an older term. Failover with log adoption from N − W replicas is not
 *       done yet.
 *   <li>{@link quorumkv.replication.Quorum} holds the quorum arithmetic, free of actors.
 * </ul>
 */
package quorumkv.replication;
