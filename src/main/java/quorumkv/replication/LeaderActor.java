package quorumkv.replication;

import akka.actor.Address;
import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.TimerScheduler;
import akka.actor.typed.receptionist.Receptionist;
import akka.cluster.ClusterEvent;
import akka.cluster.typed.Cluster;
import akka.cluster.typed.Subscribe;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Consumer;
import quorumkv.CborSerializable;
import quorumkv.config.Settings;
import quorumkv.metrics.Metrics;
import quorumkv.storage.KeyValue;
import quorumkv.storage.LogEntry;
import quorumkv.storage.ReplicaState;

/**
 * Orders every write. Runs as a Cluster Singleton, so at most one is meant to run; terms make a
 * second one (a deposed leader that wakes up) harmless.
 *
 * <p><b>Election.</b> A new LeaderActor takes a term above any it has seen and asks every replica
 * for a promise to refuse older terms. Once N − W replicas (its own among them) have promised, it
 * has heard from at least one of the W + 1 replicas that hold any acknowledged write. It adopts the
 * most complete log among them (highest last term, then highest index), stamps the entries that are
 * not known to be committed with its own term, and replicates that log; replicas replace any suffix
 * that differs. Until then it serves no writes and says why.
 *
 * <p><b>Replication.</b> Each write gets the next gap-free index in the leader's term and a
 * {@link QuorumAggregator} child that answers the client. Per replica the leader tracks what was
 * sent ({@code nextIndex}) and what matched its log durably ({@code matchIndex}); writes that arrive
 * while a Replicate is in flight go out together in the next one. An entry is committed (applied by
 * the replicas) once the leader's replica and W followers hold it.
 *
 * <p><b>Reads.</b> {@code leader} reads the leader's replica once it has applied the commit index;
 * {@code linearizable} first has W followers confirm that no newer term exists (so no other leader
 * can have committed anything), then reads at the commit index seen when the read arrived.
 */
public final class LeaderActor {

  public sealed interface Command extends CborSerializable {}

  /**
   * A client write; {@code value == null} deletes. {@code writeQuorum < 0} means the default W.
   * Nodes send their clients' writes as a {@link WriteBatch}; the simulations send single writes.
   */
  record Write(String key, String value, int writeQuorum, long timeoutMillis, ActorRef<WriteResult> replyTo)
      implements Command {}

  /** One write of a {@link WriteBatch}, with the id its forwarder will match the answer by. */
  public record ForwardedWrite(long id, String key, String value, int writeQuorum, long timeoutMillis) {}

  /** Writes grouped by a node's {@link WriteForwarder}; answered as grouped {@link WriteForwarder.Results}. */
  public record WriteBatch(List<ForwardedWrite> writes, ActorRef<WriteForwarder.Results> replyTo) implements Command {}

  public enum ReadLevel { LEADER, LINEARIZABLE }

  public record Read(String key, ReadLevel level, ActorRef<ReadResult> replyTo) implements Command {}

  public record GetLeaderInfo(ActorRef<LeaderInfo> replyTo) implements Command {}

  public record LeaderInfo(
      String node, String address, boolean active, String election, long term, long lastIndex, long committedIndex,
      int writeQuorum, int reachableFollowers, List<FollowerProgress> followers) implements CborSerializable {}

  public record FollowerProgress(
      String node, long matchIndex, long lag, long msSinceLastReply, boolean reachable, boolean stateTransfer)
      implements CborSerializable {}

  private record ReplicasChanged(Receptionist.Listing listing) implements Command {}

  private record ReplicaReplied(FollowerActor.ReplicateReply reply) implements Command {}

  private record PrepareAnswered(FollowerActor.PrepareReply reply) implements Command {}

  private record TermAnswered(FollowerActor.TermConfirmed reply) implements Command {}

  private record LocalPosition(FollowerActor.Position position, String failure) implements Command {}

  private record LogFetched(FollowerActor.LogSlice slice, String failure) implements Command {}

  private record ReachabilityChanged(ClusterEvent.ReachabilityEvent event) implements Command {}

  private record MemberRemoved(ClusterEvent.MemberRemoved event) implements Command {}

  private record StateForTransfer(String node, ReplicaState state) implements Command {}

  private record AggregatorStopped(long index) implements Command {}

  private record Tick() implements Command {}

  private record BatcherStopped(ActorRef<WriteForwarder.Results> origin) implements Command {}

  private record ReadRoundTimedOut(long round) implements Command {}

  /** What the leader knows of one replica. */
  private static final class Replica {
    final String node;
    final ActorRef<FollowerActor.Command> ref;
    final boolean local;
    final ReplicationDelay.Link link;
    long nextIndex;
    long matchIndex;
    /** Replicate messages with entries (or a state transfer) sent and not yet answered. */
    int inFlight;
    /**
     * What each unanswered message carried (true: entries), in send order: a replica answers its
     * messages in the order it gets them, so a heartbeat's answer never frees an entries slot.
     */
    final java.util.ArrayDeque<Boolean> unanswered = new java.util.ArrayDeque<>();
    long lastSendNanos;
    long lastReplyNanos;
    boolean stateTransfer;
    /** The index of the state being transferred; acks below it are from before the transfer. */
    long transferIndex;

    Replica(String node, ActorRef<FollowerActor.Command> ref, boolean local, ReplicationDelay.Link link, long nextIndex) {
      this.node = node;
      this.ref = ref;
      this.local = local;
      this.link = link;
      this.nextIndex = nextIndex;
      this.lastReplyNanos = System.nanoTime();
    }
  }

  private enum Phase { ELECTING, ADOPTING, LEADING }

  private record PendingRead(String key, long readIndex, ActorRef<ReadResult> replyTo) {}

  private static final Duration ASK_TIMEOUT = Duration.ofSeconds(5);
  private static final Duration ELECTION_ROUND = Duration.ofSeconds(1);

  private final ActorContext<Command> context;
  private final TimerScheduler<Command> timers;
  private final Settings.Replication settings;
  private final String node;
  private final String address;
  private final ActorRef<FollowerActor.Command> localReplica;
  private final ReplicationDelay delay;
  private final Metrics metrics;
  private final ActorRef<FollowerActor.ReplicateReply> replyAdapter;
  private final ActorRef<FollowerActor.PrepareReply> prepareAdapter;
  private final ActorRef<FollowerActor.TermConfirmed> confirmAdapter;
  /** N − W: promises a new leader needs before it may serve writes. */
  private final int promisesNeeded;

  private final Map<String, Replica> replicas = new HashMap<>();
  private final Set<Address> unreachable = new HashSet<>();
  private final TreeMap<Long, ActorRef<QuorumAggregator.Command>> pending = new TreeMap<>();
  /** One per node whose forwarder sent writes: groups the answers going back to it. */
  private final Map<ActorRef<WriteForwarder.Results>, ActorRef<ReplyBatcher.Command>> batchers = new HashMap<>();

  private Phase phase = Phase.ELECTING;
  private long term;
  private long highestSeenTerm;
  /** A replica refused this term (it promised it, or a newer one, to someone else). */
  private boolean termRefused;
  private long electionStartedNanos;
  private FollowerActor.Position localPosition;
  private final Map<String, FollowerActor.Prepared> promises = new HashMap<>();
  private final List<LogEntry> adopted = new ArrayList<>();
  private FollowerActor.Prepared adoptFrom;
  private long adoptUpTo;
  private long adoptRestampFrom;
  private long adoptionStartedNanos;
  private boolean localStateTransfer;

  private long lastIndex;
  private long commitIndex;
  private RetainedLog log;

  private long readRound;
  private boolean readRoundInFlight;
  private final Set<String> readConfirmations = new HashSet<>();
  private List<PendingRead> readsInRound = new ArrayList<>();
  private List<PendingRead> readsWaiting = new ArrayList<>();

  public static Behavior<Command> create(
      Settings.Replication settings, String node, ActorRef<FollowerActor.Command> localReplica,
      ReplicationDelay delay, boolean watchCluster) {
    return Behaviors.setup(ctx -> Behaviors.withTimers(timers ->
        new LeaderActor(ctx, timers, settings, node, localReplica, delay, watchCluster).behavior()));
  }

  private LeaderActor(
      ActorContext<Command> context, TimerScheduler<Command> timers, Settings.Replication settings, String node,
      ActorRef<FollowerActor.Command> localReplica, ReplicationDelay delay, boolean watchCluster) {
    this.context = context;
    this.timers = timers;
    this.settings = settings;
    this.node = node;
    this.address = context.getSystem().address().toString();
    this.localReplica = localReplica;
    this.delay = delay;
    this.metrics = Metrics.get(context.getSystem());
    this.promisesNeeded = Quorum.promisesNeeded(settings.followers() + 1, settings.writeQuorum());
    this.replyAdapter = context.messageAdapter(FollowerActor.ReplicateReply.class, ReplicaReplied::new);
    this.prepareAdapter = context.messageAdapter(FollowerActor.PrepareReply.class, PrepareAnswered::new);
    this.confirmAdapter = context.messageAdapter(FollowerActor.TermConfirmed.class, TermAnswered::new);

    context.getSystem().receptionist().tell(Receptionist.subscribe(
        FollowerActor.SERVICE_KEY, context.messageAdapter(Receptionist.Listing.class, ReplicasChanged::new)));
    if (watchCluster) {
      Cluster cluster = Cluster.get(context.getSystem());
      cluster.subscriptions().tell(Subscribe.create(
          context.messageAdapter(ClusterEvent.ReachabilityEvent.class, ReachabilityChanged::new),
          ClusterEvent.ReachabilityEvent.class));
      cluster.subscriptions().tell(Subscribe.create(
          context.messageAdapter(ClusterEvent.MemberRemoved.class, MemberRemoved::new),
          ClusterEvent.MemberRemoved.class));
    }
    timers.startTimerWithFixedDelay(new Tick(), settings.resendAfter().dividedBy(2));
    startElectionRound();
  }

  private Behavior<Command> behavior() {
    return Behaviors.receive(Command.class)
        .onMessage(Write.class, this::onWrite)
        .onMessage(WriteBatch.class, this::onWriteBatch)
        .onMessage(BatcherStopped.class, b -> { batchers.remove(b.origin()); return Behaviors.same(); })
        .onMessage(Read.class, this::onRead)
        .onMessage(ReplicaReplied.class, this::onReplicaReplied)
        .onMessage(PrepareAnswered.class, this::onPrepareAnswered)
        .onMessage(TermAnswered.class, this::onTermAnswered)
        .onMessage(LocalPosition.class, this::onLocalPosition)
        .onMessage(LogFetched.class, this::onLogFetched)
        .onMessage(AggregatorStopped.class, this::onAggregatorStopped)
        .onMessage(ReplicasChanged.class, this::onReplicasChanged)
        .onMessage(ReachabilityChanged.class, this::onReachabilityChanged)
        .onMessage(MemberRemoved.class, this::onMemberRemoved)
        .onMessage(StateForTransfer.class, this::onStateForTransfer)
        .onMessage(Tick.class, this::onTick)
        .onMessage(ReadRoundTimedOut.class, this::onReadRoundTimedOut)
        .onMessage(GetLeaderInfo.class, g -> { g.replyTo().tell(info()); return Behaviors.same(); })
        .build();
  }

  // --- election ---

  /** A new term: forgets the promises of the last one and asks everyone again. */
  private void startElectionRound() {
    phase = Phase.ELECTING;
    electionStartedNanos = System.nanoTime();
    promises.clear();
    localPosition = null;
    termRefused = false;
    context.ask(FollowerActor.Position.class, localReplica, ASK_TIMEOUT, FollowerActor.GetPosition::new,
        (pos, failure) -> new LocalPosition(pos, failure == null ? null : failure.toString()));
  }

  private Behavior<Command> onLocalPosition(LocalPosition msg) {
    if (phase != Phase.ELECTING) {
      return Behaviors.same();
    }
    if (msg.position() == null) {
      context.getLog().warn("Leader candidate on {}: its replica did not answer ({}); retrying", node, msg.failure());
      return Behaviors.same(); // the tick starts another round
    }
    localPosition = msg.position();
    term = Math.max(highestSeenTerm, Math.max(localPosition.promisedTerm(), localPosition.lastTerm())) + 1;
    highestSeenTerm = term;
    askForPromises();
    return Behaviors.same();
  }

  /** Asks every replica that has not promised this term yet (again: a Prepare may be lost or slow). */
  private void askForPromises() {
    FollowerActor.Prepare prepare = new FollowerActor.Prepare(term, node, prepareAdapter);
    localReplica.tell(prepare);
    for (Replica r : replicas.values()) {
      if (!r.local && !promises.containsKey(r.node)) {
        r.link.send(r.ref, prepare);
      }
    }
  }

  private Behavior<Command> onPrepareAnswered(PrepareAnswered msg) {
    if (msg.reply() instanceof FollowerActor.PrepareRejected rejected) {
      highestSeenTerm = Math.max(highestSeenTerm, rejected.promisedTerm());
      termRefused |= phase == Phase.ELECTING && rejected.promisedTerm() >= term;
      return Behaviors.same();
    }
    FollowerActor.Prepared prepared = (FollowerActor.Prepared) msg.reply();
    if (phase != Phase.ELECTING || prepared.term() != term) {
      return Behaviors.same();
    }
    promises.put(prepared.node(), prepared);
    if (promises.size() >= promisesNeeded && promises.containsKey(node)) {
      startAdoption();
    }
    return Behaviors.same();
  }

  /** Fetches what the leader's replica lacks of the most complete promised log, then leads. */
  private void startAdoption() {
    phase = Phase.ADOPTING;
    adoptionStartedNanos = System.nanoTime();
    localStateTransfer = false;
    FollowerActor.Prepared local = promises.get(node);
    adoptFrom = promises.values().stream()
        .max(Comparator.comparingLong(FollowerActor.Prepared::lastTerm)
            .thenComparingLong(FollowerActor.Prepared::lastIndex)
            .thenComparing(p -> p.node().equals(node)))
        .orElseThrow();
    // Everything up to the highest applied index among the promisers is committed; the rest of the
    // adopted log is re-stamped with this term, so that a later election compares it as this
    // term's and cannot prefer a log that lacks it.
    adoptRestampFrom = promises.values().stream().mapToLong(FollowerActor.Prepared::appliedIndex).max().orElse(0) + 1;
    commitIndex = adoptRestampFrom - 1;
    adoptUpTo = adoptFrom.lastIndex();
    adopted.clear();
    // The leader's window starts with its own replica's retained log up to its applied index
    // (committed, same in every log), continued from the adopted log.
    long from = localPosition.baseIndex() + 1;
    if (from > local.appliedIndex() && from > adoptUpTo) {
      becomeLeader();
      return;
    }
    fetchLog(from);
  }

  private void fetchLog(long from) {
    long localApplied = promises.get(node).appliedIndex();
    ActorRef<FollowerActor.Command> source = from <= localApplied ? localReplica : replicas.get(adoptFrom.node()) == null
        ? null : replicas.get(adoptFrom.node()).ref;
    if (source == null) {
      context.getLog().warn("Replica {} with the most complete log left during the election; starting over",
          adoptFrom.node());
      startElectionRound();
      return;
    }
    long upTo = from <= localApplied ? localApplied : adoptUpTo;
    int max = (int) Math.min(settings.maxBatchEntries(), upTo - from + 1);
    context.ask(FollowerActor.LogSlice.class, source, ASK_TIMEOUT, replyTo -> new FollowerActor.GetLog(from, max, replyTo),
        (slice, failure) -> new LogFetched(slice, failure == null ? null : failure.toString()));
  }

  private Behavior<Command> onLogFetched(LogFetched msg) {
    if (phase != Phase.ADOPTING) {
      return Behaviors.same();
    }
    long next = adopted.isEmpty() ? localPosition.baseIndex() + 1 : adopted.get(adopted.size() - 1).index() + 1;
    boolean fromBest = next > promises.get(node).appliedIndex();
    if (msg.slice() != null && msg.slice().entries().isEmpty() && fromBest && !adoptFrom.node().equals(node)
        && replicas.containsKey(adoptFrom.node())) {
      // Our replica is further behind the most complete log than that replica retains: it gets
      // that replica's committed state first, then we elect again from there.
      context.getLog().info("Replica {} no longer holds index {}: it sends its state to ours first",
          adoptFrom.node(), next);
      localStateTransfer = true;
      replicas.get(adoptFrom.node()).ref.tell(
          new FollowerActor.SendStateTo(term, localReplica, settings.stateTransferChunk(), replyAdapter));
      return Behaviors.same();
    }
    if (msg.slice() == null || msg.slice().entries().isEmpty() || msg.slice().from() != next) {
      context.getLog().warn("Could not fetch log entries from {} at index {} ({}); starting the election over",
          msg.slice() == null ? "?" : msg.slice().node(), next,
          msg.failure() != null ? msg.failure() : "no longer in its log: it needs a state transfer first");
      startElectionRound();
      return Behaviors.same();
    }
    for (LogEntry e : msg.slice().entries()) {
      if (e.index() != next) {
        break;
      }
      adopted.add(e.index() >= adoptRestampFrom ? new LogEntry(e.index(), term, e.key(), e.value()) : e);
      next++;
    }
    long localApplied = promises.get(node).appliedIndex();
    if (next > Math.max(localApplied, adoptUpTo)) {
      becomeLeader();
    } else {
      fetchLog(next);
    }
    return Behaviors.same();
  }

  private void becomeLeader() {
    log = new RetainedLog(Math.max(settings.retainedEntries(), adopted.size() + 1),
        localPosition.baseIndex(), localPosition.baseTerm());
    adopted.forEach(log::append);
    lastIndex = log.lastIndex();
    for (Replica r : replicas.values()) {
      resetProgress(r);
    }
    phase = Phase.LEADING;
    metrics.elected(term);
    metrics.committed(commitIndex);
    long restamped = adopted.stream().filter(e -> e.index() >= adoptRestampFrom).count();
    context.getLog().info(
        "Leader on {} elected in term {} with promises from {} in {} ms: adopted the log of {} up to index {} "
            + "({} entries re-stamped), committed up to {}",
        node, term, promises.keySet(), (System.nanoTime() - electionStartedNanos) / 1_000_000, adoptFrom.node(),
        lastIndex, restamped, commitIndex);
    adopted.clear();
    replicas.values().forEach(this::heartbeat);
  }

  private void resetProgress(Replica r) {
    r.nextIndex = lastIndex + 1;
    r.matchIndex = 0;
    r.inFlight = 0;
    r.unanswered.clear();
    r.stateTransfer = false;
  }

  private String electionStatus() {
    return switch (phase) {
      case LEADING -> "leading";
      case ADOPTING -> "adopting the log of " + (adoptFrom == null ? "?" : adoptFrom.node());
      case ELECTING -> String.format("electing in term %d: promises from %d of the %d nodes needed %s",
          term, promises.size(), promisesNeeded, promises.keySet());
    };
  }

  // --- writes ---

  private Behavior<Command> onWrite(Write w) {
    accept(w.key(), w.value(), w.writeQuorum(), w.timeoutMillis(), w.replyTo()::tell, reachableFollowers());
    sendToReplicas();
    return Behaviors.same();
  }

  private Behavior<Command> onWriteBatch(WriteBatch batch) {
    ActorRef<ReplyBatcher.Command> batcher = batchers.computeIfAbsent(batch.replyTo(), origin -> {
      ActorRef<ReplyBatcher.Command> child =
          context.spawnAnonymous(ReplyBatcher.create(origin, settings.maxBatchEntries()));
      context.watchWith(child, new BatcherStopped(origin));
      return child;
    });
    Set<String> followers = reachableFollowers();
    for (ForwardedWrite w : batch.writes()) {
      long id = w.id();
      accept(w.key(), w.value(), w.writeQuorum(), w.timeoutMillis(),
          result -> batcher.tell(new ReplyBatcher.Answer(id, result)), followers);
    }
    sendToReplicas();
    return Behaviors.same();
  }

  /**
   * Logs one write and gives it an aggregator awaiting {@code followers} (the reachable ones), or
   * answers at once why it cannot be taken.
   */
  private void accept(String key, String value, int writeQuorum, long timeoutMillis, Consumer<WriteResult> reply,
      Set<String> followers) {
    if (phase != Phase.LEADING) {
      reply.accept(new WriteResult.NoLeader(key, "no leader serving writes yet: the new leader on " + node
          + " is " + electionStatus() + "; it keeps trying", node));
      return;
    }
    int quorum = writeQuorum < 0 ? settings.writeQuorum() : writeQuorum;
    if (pending.size() >= settings.maxPendingWrites()) {
      reply.accept(new WriteResult.Overloaded(key, pending.size(), node));
      return;
    }
    if (!Quorum.reachable(followers.size(), quorum)) {
      reply.accept(new WriteResult.NotEnoughReplicas(key, followers.size(), quorum, node));
      return;
    }
    LogEntry entry = new LogEntry(++lastIndex, term, key, value);
    log.append(entry);
    ActorRef<QuorumAggregator.Command> aggregator = context.spawnAnonymous(QuorumAggregator.create(
        entry.index(), key, quorum, followers, Duration.ofMillis(timeoutMillis), reply, node));
    context.watchWith(aggregator, new AggregatorStopped(entry.index()));
    pending.put(entry.index(), aggregator);
    metrics.pendingWrites(pending.size());
  }

  private void sendToReplicas() {
    if (phase != Phase.LEADING) {
      return;
    }
    for (Replica r : replicas.values()) {
      sendNewEntries(r);
    }
  }

  private Behavior<Command> onMemberRemoved(MemberRemoved m) {
    Address gone = m.event().member().address();
    unreachable.remove(gone);
    batchers.entrySet().removeIf(e -> {
      if (gone.equals(e.getKey().path().address())) {
        context.stop(e.getValue());
        return true;
      }
      return false;
    });
    return Behaviors.same();
  }

  private Set<String> reachableFollowers() {
    Set<String> out = new HashSet<>();
    for (Replica r : replicas.values()) {
      if (!r.local && !unreachable.contains(r.ref.path().address())) {
        out.add(r.node);
      }
    }
    return out;
  }

  /** Sends what the replica lacks, up to the in-flight limit; a state transfer if it is too far behind. */
  private void sendNewEntries(Replica r) {
    while (!r.stateTransfer && r.inFlight < settings.maxInFlight() && r.nextIndex <= lastIndex) {
      long prev = r.nextIndex - 1;
      if (!log.holds(r.nextIndex) || log.termAt(prev) < 0) {
        startStateTransfer(r);
        return;
      }
      List<LogEntry> batch = log.slice(r.nextIndex, settings.maxBatchEntries(), settings.maxBatchBytes());
      metrics.batch(batch.size());
      send(r, new FollowerActor.Replicate(term, prev, log.termAt(prev), batch, commitIndex, replyAdapter), true);
      r.nextIndex += batch.size();
    }
  }

  /** An empty Replicate: carries the commit index, and the replica answers with where it stands. */
  private void heartbeat(Replica r) {
    long prev = r.nextIndex - 1;
    long prevTerm = log.termAt(prev);
    if (prevTerm < 0 && prev > 0) {
      prev = r.matchIndex;
      prevTerm = Math.max(0, log.termAt(prev));
    }
    send(r, new FollowerActor.Replicate(term, prev, prevTerm, List.of(), commitIndex, replyAdapter), false);
  }

  private void send(Replica r, FollowerActor.Command msg, boolean carriesEntries) {
    if (carriesEntries) {
      r.inFlight++;
    }
    r.unanswered.add(carriesEntries);
    r.lastSendNanos = System.nanoTime();
    r.link.send(r.ref, msg);
  }

  private Behavior<Command> onReplicaReplied(ReplicaReplied msg) {
    FollowerActor.ReplicateReply reply = msg.reply();
    Replica r = replicas.get(reply.node());
    if (reply instanceof FollowerActor.Rejected rejected && rejected.promisedTerm() > term) {
      // Another leader has taken a newer term: this one must not write any more.
      throw new IllegalStateException("leader of term " + term + " on " + node + " deposed: " + reply.node()
          + " promised term " + rejected.promisedTerm());
    }
    if (phase == Phase.ADOPTING && localStateTransfer && reply.node().equals(node) && reply.term() == term
        && reply instanceof FollowerActor.Acked) {
      context.getLog().info("Our replica received the committed state up to {}; electing again", 
          ((FollowerActor.Acked) reply).matchIndex());
      startElectionRound();
      return Behaviors.same();
    }
    if (r == null || phase != Phase.LEADING || reply.term() != term) {
      return Behaviors.same();
    }
    if (Boolean.TRUE.equals(r.unanswered.poll())) {
      r.inFlight = Math.max(0, r.inFlight - 1);
    }
    r.lastReplyNanos = System.nanoTime();
    if (reply instanceof FollowerActor.Acked acked) {
      if (r.stateTransfer && acked.matchIndex() < r.transferIndex) {
        return Behaviors.same(); // an answer to something sent before the transfer
      }
      r.stateTransfer = false;
      if (acked.matchIndex() > r.matchIndex) {
        long before = r.matchIndex;
        r.matchIndex = acked.matchIndex();
        // The commit index goes to our own replica before the clients hear of their writes, so
        // that a read on this node after the answer finds them applied.
        advanceCommitIndex();
        notifyAggregators(r, before, acked.matchIndex());
      }
      if (r.nextIndex <= r.matchIndex) {
        r.nextIndex = r.matchIndex + 1;
      }
    } else if (reply instanceof FollowerActor.Gap gap && gap.hintIndex() + 1 < r.nextIndex) {
      r.nextIndex = Math.max(gap.hintIndex() + 1, 1);
      if (r.inFlight == 0 && r.nextIndex > lastIndex) {
        heartbeat(r); // the log matches nothing we can send: check the entry before our end
      }
    }
    sendNewEntries(r);
    if (!r.local) {
      metrics.follower(r.node, Math.max(0, lastIndex - r.matchIndex), 0, r.inFlight);
    }
    return Behaviors.same();
  }

  private Behavior<Command> onAggregatorStopped(AggregatorStopped msg) {
    pending.remove(msg.index());
    metrics.pendingWrites(pending.size());
    return Behaviors.same();
  }

  private void notifyAggregators(Replica r, long fromExclusive, long toInclusive) {
    QuorumAggregator.Command ack = r.local ? new QuorumAggregator.LeaderDurable() : new QuorumAggregator.FollowerAcked(r.node);
    for (ActorRef<QuorumAggregator.Command> aggregator : pending.subMap(fromExclusive, false, toInclusive, true).values()) {
      aggregator.tell(ack);
    }
  }

  private void advanceCommitIndex() {
    long leaderMatch = 0;
    List<Long> matches = new ArrayList<>();
    for (Replica r : replicas.values()) {
      if (r.local) {
        leaderMatch = r.matchIndex;
      } else {
        matches.add(r.matchIndex);
      }
    }
    long committed = Quorum.committedIndex(
        leaderMatch, matches.stream().mapToLong(Long::longValue).toArray(), settings.writeQuorum());
    if (committed > commitIndex) {
      commitIndex = committed;
      metrics.committed(commitIndex);
      for (Replica r : replicas.values()) {
        if (r.inFlight == 0 && !r.stateTransfer && r.matchIndex >= r.nextIndex - 1 && r.nextIndex > lastIndex) {
          heartbeat(r); // idle replicas learn the commit index now; busy ones with their next batch
        }
      }
    }
  }

  private Behavior<Command> onTick(Tick tick) {
    long now = System.nanoTime();
    if (phase == Phase.ELECTING && now - electionStartedNanos > ELECTION_ROUND.toNanos()) {
      electionStartedNanos = now;
      if (localPosition == null || termRefused || highestSeenTerm > term) {
        // Our replica did not answer, or someone has promised a newer term: take a newer one.
        context.getLog().info("Leader candidate on {}: {}; trying a newer term", node, electionStatus());
        startElectionRound();
      } else {
        context.getLog().info("Leader candidate on {}: {}; asking again", node, electionStatus());
        askForPromises();
      }
      return Behaviors.same();
    }
    if (phase == Phase.ADOPTING && now - adoptionStartedNanos > Duration.ofSeconds(60).toNanos()) {
      context.getLog().warn("Leader candidate on {}: adopting the log of {} took over 60 s; electing again",
          node, adoptFrom.node());
      startElectionRound();
      return Behaviors.same();
    }
    if (phase != Phase.LEADING) {
      return Behaviors.same();
    }
    long resendAfter = settings.resendAfter().toNanos();
    for (Replica r : replicas.values()) {
      if (!r.local) {
        metrics.follower(r.node, Math.max(0, lastIndex - r.matchIndex), (now - r.lastReplyNanos) / 1_000_000, r.inFlight);
      }
      // A state transfer may take a while to persist; give it much longer before starting over.
      boolean quiet = now - r.lastSendNanos > (r.stateTransfer ? 30 * resendAfter : resendAfter);
      if (r.inFlight > 0 && quiet && now - r.lastReplyNanos > resendAfter) {
        // No answer to anything for a while: assume the messages were lost and start over from
        // what is known to match.
        r.inFlight = 0;
        r.unanswered.clear();
        r.stateTransfer = false;
        r.nextIndex = r.matchIndex > 0 ? r.matchIndex + 1 : lastIndex + 1;
        heartbeat(r);
      } else if (r.unanswered.isEmpty() && quiet) {
        heartbeat(r); // keeps idle replicas' commit index and position fresh, and finds restarted ones
      }
    }
    return Behaviors.same();
  }

  // --- reads ---

  private Behavior<Command> onRead(Read read) {
    if (phase != Phase.LEADING) {
      read.replyTo().tell(new ReadResult.Unavailable("no leader serving yet: the new leader on " + node + " is "
          + electionStatus()));
      return Behaviors.same();
    }
    if (read.level() == ReadLevel.LEADER || settings.writeQuorum() == 0) {
      // With W = 0 a new leader needs every node's promise, this one's included: no newer
      // leader can exist while this replica has not promised one.
      localReplica.tell(new FollowerActor.ReadAt(read.key(), commitIndex, read.replyTo()));
      return Behaviors.same();
    }
    readsWaiting.add(new PendingRead(read.key(), commitIndex, read.replyTo()));
    if (!readRoundInFlight) {
      startReadRound();
    }
    return Behaviors.same();
  }

  /** Asks every follower whether a newer term exists; W confirmations prove this leader still leads. */
  private void startReadRound() {
    readRound++;
    readRoundInFlight = true;
    readConfirmations.clear();
    readsInRound = readsWaiting;
    readsWaiting = new ArrayList<>();
    FollowerActor.ConfirmTerm confirm = new FollowerActor.ConfirmTerm(term, readRound, confirmAdapter);
    for (Replica r : replicas.values()) {
      if (!r.local) {
        r.link.send(r.ref, confirm);
      }
    }
    timers.startSingleTimer("read-round", new ReadRoundTimedOut(readRound), settings.timeout());
  }

  private Behavior<Command> onTermAnswered(TermAnswered msg) {
    FollowerActor.TermConfirmed reply = msg.reply();
    if (!reply.confirmed() && reply.term() == term) {
      throw new IllegalStateException("leader of term " + term + " on " + node + " deposed: " + reply.node()
          + " has promised a newer term");
    }
    if (!readRoundInFlight || reply.round() != readRound || reply.term() != term) {
      return Behaviors.same();
    }
    readConfirmations.add(reply.node());
    if (readConfirmations.size() >= settings.writeQuorum()) {
      timers.cancel("read-round");
      for (PendingRead r : readsInRound) {
        localReplica.tell(new FollowerActor.ReadAt(r.key(), r.readIndex(), r.replyTo()));
      }
      finishReadRound();
    }
    return Behaviors.same();
  }

  private Behavior<Command> onReadRoundTimedOut(ReadRoundTimedOut msg) {
    if (readRoundInFlight && msg.round() == readRound) {
      ReadResult.Unavailable unavailable = new ReadResult.Unavailable(String.format(
          "could not confirm leadership for a linearizable read: %d of the %d followers needed answered within %d ms",
          readConfirmations.size(), settings.writeQuorum(), settings.timeout().toMillis()));
      readsInRound.forEach(r -> r.replyTo().tell(unavailable));
      finishReadRound();
    }
    return Behaviors.same();
  }

  private void finishReadRound() {
    readRoundInFlight = false;
    readsInRound = new ArrayList<>();
    if (!readsWaiting.isEmpty()) {
      startReadRound();
    }
  }

  // --- full state transfer ---

  private void startStateTransfer(Replica r) {
    if (unreachable.contains(r.ref.path().address())) {
      return; // the tick tries again once it is back
    }
    context.getLog().info("Replica {} needs index {} but the retained log starts at {}: full state transfer",
        r.node, r.nextIndex, log.firstIndex());
    r.stateTransfer = true;
    r.inFlight++;
    r.lastSendNanos = System.nanoTime();
    context.ask(ReplicaState.class, localReplica, ASK_TIMEOUT, FollowerActor.GetState::new,
        (state, failure) -> new StateForTransfer(r.node, state));
  }

  private Behavior<Command> onStateForTransfer(StateForTransfer msg) {
    Replica r = replicas.get(msg.node());
    if (r == null || !r.stateTransfer) {
      return Behaviors.same();
    }
    ReplicaState state = msg.state();
    if (state == null || !log.holds(state.appliedIndex() + 1) && state.appliedIndex() < lastIndex) {
      // Our own replica has not applied far enough for the log to continue from its state yet.
      r.stateTransfer = false;
      r.inFlight = 0;
      r.unanswered.clear();
      return Behaviors.same();
    }
    r.unanswered.add(true); // the last chunk is answered, and frees the slot startStateTransfer took
    List<List<KeyValue>> chunks = new ArrayList<>();
    state.forEachChunk(settings.stateTransferChunk(), chunks::add);
    for (int i = 0; i < chunks.size(); i++) {
      boolean last = i == chunks.size() - 1;
      r.link.send(r.ref, new FollowerActor.InstallState(
          term, state.appliedIndex(), state.appliedTerm(), i, last, chunks.get(i), replyAdapter));
    }
    r.lastSendNanos = System.nanoTime();
    r.transferIndex = state.appliedIndex();
    r.nextIndex = state.appliedIndex() + 1;
    context.getLog().info("Sent {} keys at index {} to {} in {} chunks",
        state.keyCount(), state.appliedIndex(), r.node, chunks.size());
    return Behaviors.same();
  }

  // --- membership ---

  private Behavior<Command> onReplicasChanged(ReplicasChanged msg) {
    Set<ActorRef<FollowerActor.Command>> current = msg.listing().getServiceInstances(FollowerActor.SERVICE_KEY);
    Set<String> present = new HashSet<>();
    for (ActorRef<FollowerActor.Command> ref : current) {
      String replicaNode = FollowerActor.nodeOf(ref);
      present.add(replicaNode);
      Replica known = replicas.get(replicaNode);
      if (known == null || !known.ref.equals(ref)) {
        boolean local = ref.equals(localReplica);
        Replica r = new Replica(replicaNode, ref, local,
            local ? ReplicationDelay.none().newLink(replicaNode) : delay.newLink(replicaNode), lastIndex + 1);
        replicas.put(replicaNode, r);
        context.getLog().info("Replica {} joined ({})", replicaNode, ref.path());
        if (phase == Phase.LEADING) {
          heartbeat(r);
        } else if (phase == Phase.ELECTING && localPosition != null && !local) {
          r.link.send(r.ref, new FollowerActor.Prepare(term, node, prepareAdapter));
        }
      }
    }
    List<String> gone = new ArrayList<>();
    for (String known : replicas.keySet()) {
      if (!present.contains(known)) {
        gone.add(known);
      }
    }
    for (String g : gone) {
      replicas.remove(g);
      context.getLog().info("Replica {} left", g);
      QuorumAggregator.FollowerLost lost = new QuorumAggregator.FollowerLost(g);
      pending.values().forEach(a -> a.tell(lost));
    }
    return Behaviors.same();
  }

  private Behavior<Command> onReachabilityChanged(ReachabilityChanged msg) {
    Address member = msg.event().member().address();
    if (msg.event() instanceof ClusterEvent.UnreachableMember) {
      unreachable.add(member);
    } else {
      unreachable.remove(member);
    }
    return Behaviors.same();
  }

  private LeaderInfo info() {
    long now = System.nanoTime();
    List<FollowerProgress> progress = new ArrayList<>();
    for (Replica r : replicas.values()) {
      boolean reachable = !unreachable.contains(r.ref.path().address());
      progress.add(new FollowerProgress(r.node, r.matchIndex, Math.max(0, lastIndex - r.matchIndex),
          (now - r.lastReplyNanos) / 1_000_000, reachable, r.stateTransfer));
    }
    progress.sort(Comparator.comparing(FollowerProgress::node));
    return new LeaderInfo(node, address, phase == Phase.LEADING, electionStatus(), term, lastIndex, commitIndex,
        settings.writeQuorum(), reachableFollowers().size(), progress);
  }
}
