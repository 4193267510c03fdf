/**
 * The write path: {@link quorumkv.replication.LeaderActor} (one per node; the elected one leads) orders writes into
 * a gap-free log, replicates it to every {@link quorumkv.replication.FollowerActor} (one per node,
 * the leader's own included) and spawns a {@link quorumkv.replication.QuorumAggregator} per write
 * that answers the client once the leader's replica and W followers hold the write. Each node's
 * {@link quorumkv.replication.WriteForwarder} sends its clients' writes to the leader in groups.
 * How these actors are spawned and found is {@code quorumkv.node.NodeWiring}'s business.
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
 *   <li>Terms and failover: a new leader takes a higher term and needs promises from N − W
 *       replicas (its own included) before it serves; it adopts the most complete of their logs
 *       (highest last term, then index) with the terms its entries were written in, and replicas
 *       replace whatever differs after the last entry that matches (the entry before each batch
 *       is checked, as in Raft). When part of that log is not known to be committed, the leader
 *       first logs an entry of its own term that changes nothing: earlier terms' entries commit
 *       only together with one of the leader's term (Raft §5.4.2). Entries are applied only once
 *       committed, so dropping an unadopted suffix never undoes anything.
 *   <li>Linearizable reads confirm the term with W followers (then no newer leader can have
 *       collected its N − W promises) and read at the commit index seen when the read arrived.
 *   <li>{@link quorumkv.replication.Quorum} holds the quorum arithmetic, free of actors.
 *   <li>{@link quorumkv.replication.ReplicationDelay} delays the leader's messages to each
 *       follower (MIN_DELAY..MAX_DELAY), keeping them in order; the ActorTestKit simulations
 *       drive the leader through the same links.
 * </ul>
 */
package quorumkv.replication;
