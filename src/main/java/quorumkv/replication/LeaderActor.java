package quorumkv.replication;

import akka.actor.Address;
import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.StashBuffer;
import akka.actor.typed.javadsl.TimerScheduler;
import akka.actor.typed.receptionist.Receptionist;
import akka.cluster.ClusterEvent;
import akka.cluster.typed.Cluster;
import akka.cluster.typed.Subscribe;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import quorumkv.CborSerializable;
import quorumkv.cluster.Settings;
import quorumkv.storage.LogEntry;
import quorumkv.storage.ReplicaState;

/**
 * Orders every write. Runs as a Cluster Singleton: it gives each write the next gap-free log
 * index in its term, replicates the log to every replica (its own node's first among equals) with
 * batching and pipelining, and spawns one {@link QuorumAggregator} per write to answer the client.
 *
 * <p>Per replica it tracks what was sent ({@code nextIndex}) and what is durable there
 * ({@code matchIndex}). Writes that arrive while a round is in flight go out together in the next
 * Replicate. A replica that reports a gap is resent from where it stands, from the in-memory
 * {@link RetainedLog}, or with a full state transfer if it is further behind than that.
 */
public final class LeaderActor {

  public sealed interface Command extends CborSerializable {}

  /** A client write; {@code value == null} deletes. {@code writeQuorum < 0} means the default W. */
  public record Write(String key, String value, int writeQuorum, long timeoutMillis, ActorRef<WriteResult> replyTo)
      implements Command {}

  public record GetLeaderInfo(ActorRef<LeaderInfo> replyTo) implements Command {}

  /** Reads a key from the leader's own replica. */
  public record ReadOnLeader(String key, ActorRef<FollowerActor.Value> replyTo) implements Command {}

  public record LeaderInfo(
      String node, boolean active, long term, long lastIndex, long committedIndex, int writeQuorum,
      int reachableFollowers, List<FollowerProgress> followers) implements CborSerializable {}

  public record FollowerProgress(
      String node, long matchIndex, long lag, long msSinceLastReply, boolean reachable, boolean stateTransfer)
      implements CborSerializable {}

  private record ReplicasChanged(Receptionist.Listing listing) implements Command {}

  private record ReplicaReplied(FollowerActor.ReplicateReply reply) implements Command {}

  private record LocalPosition(FollowerActor.Position position) implements Command {}

  private record Promised(FollowerActor.Position position) implements Command {}

  private record StartFailed(String reason) implements Command {}

  private record ReachabilityChanged(ClusterEvent.ReachabilityEvent event) implements Command {}

  private record MemberRemoved(ClusterEvent.MemberRemoved event) implements Command {}

  private record StateForTransfer(String node, ReplicaState state) implements Command {}

  private record AggregatorStopped(long index) implements Command {}

  private record Tick() implements Command {}

  private record Retry() implements Command {}

  /** What the leader knows of one replica. */
  private static final class Replica {
    final String node;
    final ActorRef<FollowerActor.Command> ref;
    final boolean local;
    final ReplicationDelay.Link link;
    long nextIndex;
    long matchIndex;
    int inFlight;
    long lastSendNanos;
    long lastReplyNanos;
    boolean stateTransfer;

    Replica(String node, ActorRef<FollowerActor.Command> ref, boolean local, ReplicationDelay.Link link, long nextIndex) {
      this.node = node;
      this.ref = ref;
      this.local = local;
      this.link = link;
      this.nextIndex = nextIndex;
      this.lastReplyNanos = System.nanoTime();
    }
  }

  private static final Duration ASK_TIMEOUT = Duration.ofSeconds(5);

  private final ActorContext<Command> context;
  private final StashBuffer<Command> stash;
  private final TimerScheduler<Command> timers;
  private final Settings.Replication settings;
  private final String node;
  private final ActorRef<FollowerActor.Command> localReplica;
  private final ReplicationDelay delay;
  private final ActorRef<FollowerActor.ReplicateReply> replyAdapter;

  private final Map<String, Replica> replicas = new HashMap<>();
  private final Set<Address> unreachable = new HashSet<>();
  private final TreeMap<Long, ActorRef<QuorumAggregator.Command>> pending = new TreeMap<>();
  private long term;
  private long lastIndex;
  private RetainedLog log;

  public static Behavior<Command> create(
      Settings.Replication settings, String node, ActorRef<FollowerActor.Command> localReplica,
      ReplicationDelay delay, boolean watchCluster) {
    return Behaviors.setup(ctx -> Behaviors.withStash(settings.maxPendingWrites(), stash ->
        Behaviors.withTimers(timers ->
            new LeaderActor(ctx, stash, timers, settings, node, localReplica, delay, watchCluster).starting())));
  }

  private LeaderActor(
      ActorContext<Command> context, StashBuffer<Command> stash, TimerScheduler<Command> timers,
      Settings.Replication settings, String node, ActorRef<FollowerActor.Command> localReplica,
      ReplicationDelay delay, boolean watchCluster) {
    this.context = context;
    this.stash = stash;
    this.timers = timers;
    this.settings = settings;
    this.node = node;
    this.localReplica = localReplica;
    this.delay = delay;
    this.replyAdapter = context.messageAdapter(FollowerActor.ReplicateReply.class, ReplicaReplied::new);

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
    askLocalPosition();
  }

  // --- starting: learn the local replica's position, take a new term ---

  private Behavior<Command> starting() {
    return Behaviors.receive(Command.class)
        .onMessage(LocalPosition.class, this::onLocalPosition)
        .onMessage(Promised.class, this::onPromised)
        .onMessage(StartFailed.class, this::onStartFailed)
        .onMessage(Retry.class, r -> { askLocalPosition(); return Behaviors.same(); })
        .onMessage(ReplicasChanged.class, this::onReplicasChanged)
        .onMessage(ReachabilityChanged.class, this::onReachabilityChanged)
        .onMessage(MemberRemoved.class, this::onMemberRemoved)
        .onMessage(GetLeaderInfo.class, g -> { g.replyTo().tell(info(false)); return Behaviors.same(); })
        .onAnyMessage(this::stashUntilActive)
        .build();
  }

  private void askLocalPosition() {
    context.ask(FollowerActor.Position.class, localReplica, ASK_TIMEOUT, FollowerActor.GetPosition::new,
        (pos, failure) -> pos != null ? new LocalPosition(pos) : new StartFailed(String.valueOf(failure)));
  }

  private Behavior<Command> onLocalPosition(LocalPosition msg) {
    long newTerm = Math.max(msg.position().promisedTerm(), msg.position().lastTerm()) + 1;
    context.ask(FollowerActor.Position.class, localReplica, ASK_TIMEOUT,
        replyTo -> new FollowerActor.Promise(newTerm, replyTo),
        (pos, failure) -> pos != null ? new Promised(pos) : new StartFailed(String.valueOf(failure)));
    return Behaviors.same();
  }

  private Behavior<Command> onPromised(Promised msg) {
    FollowerActor.Position pos = msg.position();
    term = pos.promisedTerm();
    lastIndex = pos.lastIndex();
    log = new RetainedLog(settings.retainedEntries(), lastIndex);
    for (Replica r : replicas.values()) {
      r.nextIndex = lastIndex + 1;
    }
    context.getLog().info("Leader on {} active: term {}, log at index {}, {} replicas known",
        node, term, lastIndex, replicas.size());
    timers.startTimerWithFixedDelay(new Tick(), settings.resendAfter().dividedBy(2));
    replicas.values().forEach(this::probe);
    return stash.unstashAll(leading());
  }

  private Behavior<Command> onStartFailed(StartFailed msg) {
    context.getLog().warn("Leader could not read its local replica ({}); retrying", msg.reason());
    timers.startSingleTimer(new Retry(), Duration.ofSeconds(1));
    return Behaviors.same();
  }

  private Behavior<Command> stashUntilActive(Command msg) {
    if (stash.isFull()) {
      if (msg instanceof Write w) {
        w.replyTo().tell(new WriteResult.Overloaded(w.key(), stash.size(), node));
      }
      return Behaviors.same();
    }
    stash.stash(msg);
    return Behaviors.same();
  }

  // --- leading ---

  private Behavior<Command> leading() {
    return Behaviors.receive(Command.class)
        .onMessage(Write.class, this::onWrite)
        .onMessage(ReplicaReplied.class, this::onReplicaReplied)
        .onMessage(AggregatorStopped.class, this::onAggregatorStopped)
        .onMessage(ReplicasChanged.class, this::onReplicasChanged)
        .onMessage(ReachabilityChanged.class, this::onReachabilityChanged)
        .onMessage(MemberRemoved.class, this::onMemberRemoved)
        .onMessage(StateForTransfer.class, this::onStateForTransfer)
        .onMessage(Tick.class, this::onTick)
        .onMessage(GetLeaderInfo.class, g -> { g.replyTo().tell(info(true)); return Behaviors.same(); })
        .onMessage(ReadOnLeader.class, this::onReadOnLeader)
        .onMessage(LocalPosition.class, m -> Behaviors.same())
        .onMessage(Promised.class, m -> Behaviors.same())
        .onMessage(StartFailed.class, m -> Behaviors.same())
        .onMessage(Retry.class, m -> Behaviors.same())
        .build();
  }

  private Behavior<Command> onWrite(Write w) {
    int quorum = w.writeQuorum() < 0 ? settings.writeQuorum() : w.writeQuorum();
    if (pending.size() >= settings.maxPendingWrites()) {
      w.replyTo().tell(new WriteResult.Overloaded(w.key(), pending.size(), node));
      return Behaviors.same();
    }
    Set<String> followers = reachableFollowers();
    if (!Quorum.reachable(followers.size(), quorum)) {
      w.replyTo().tell(new WriteResult.NotEnoughReplicas(w.key(), followers.size(), quorum, node));
      return Behaviors.same();
    }
    LogEntry entry = new LogEntry(++lastIndex, term, w.key(), w.value());
    log.append(entry);
    ActorRef<QuorumAggregator.Command> aggregator = context.spawnAnonymous(QuorumAggregator.create(
        entry.index(), w.key(), quorum, followers, Duration.ofMillis(w.timeoutMillis()), w.replyTo(), node));
    context.watchWith(aggregator, new AggregatorStopped(entry.index()));
    pending.put(entry.index(), aggregator);
    for (Replica r : replicas.values()) {
      sendNewEntries(r);
    }
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
      if (!log.holds(r.nextIndex)) {
        startStateTransfer(r);
        return;
      }
      List<LogEntry> batch = log.slice(r.nextIndex, settings.maxBatchEntries(), settings.maxBatchBytes());
      send(r, new FollowerActor.Replicate(term, batch, replyAdapter));
      r.nextIndex += batch.size();
    }
  }

  /** An empty Replicate: the replica answers with its position, and we resend from there. */
  private void probe(Replica r) {
    send(r, new FollowerActor.Replicate(term, List.of(), replyAdapter));
  }

  private void send(Replica r, FollowerActor.Command msg) {
    r.inFlight++;
    r.lastSendNanos = System.nanoTime();
    r.link.send(r.ref, msg);
  }

  private Behavior<Command> onReplicaReplied(ReplicaReplied msg) {
    FollowerActor.ReplicateReply reply = msg.reply();
    Replica r = replicas.get(reply.node());
    if (r == null) {
      return Behaviors.same();
    }
    r.inFlight = Math.max(0, r.inFlight - 1);
    r.lastReplyNanos = System.nanoTime();
    if (reply instanceof FollowerActor.Rejected rejected) {
      if (rejected.promisedTerm() > term) {
        // Another leader has taken a newer term: this one must not write any more.
        throw new IllegalStateException("leader of term " + term + " deposed: " + r.node
            + " promised term " + rejected.promisedTerm());
      }
      return Behaviors.same();
    }
    if (reply instanceof FollowerActor.Acked && r.stateTransfer) {
      r.stateTransfer = false;
    }
    long durable = reply.lastIndex();
    if (durable > r.matchIndex) {
      notifyAggregators(r, r.matchIndex, durable);
      r.matchIndex = durable;
    } else if (reply instanceof FollowerActor.Gap) {
      r.matchIndex = durable; // the replica lost entries (e.g. its data was wiped): start over
    }
    if (reply instanceof FollowerActor.Gap && durable + 1 < r.nextIndex) {
      r.nextIndex = durable + 1;
    }
    if (r.inFlight == 0 && r.nextIndex > r.matchIndex + 1) {
      r.nextIndex = r.matchIndex + 1; // a Replicate was lost: resend from what is durable
    }
    sendNewEntries(r);
    return Behaviors.same();
  }

  private void notifyAggregators(Replica r, long fromExclusive, long toInclusive) {
    QuorumAggregator.Command ack = r.local ? new QuorumAggregator.LeaderDurable() : new QuorumAggregator.FollowerAcked(r.node);
    for (ActorRef<QuorumAggregator.Command> aggregator : pending.subMap(fromExclusive, false, toInclusive, true).values()) {
      aggregator.tell(ack);
    }
  }

  private Behavior<Command> onAggregatorStopped(AggregatorStopped msg) {
    pending.remove(msg.index());
    return Behaviors.same();
  }

  private Behavior<Command> onTick(Tick tick) {
    long now = System.nanoTime();
    long resendAfter = settings.resendAfter().toNanos();
    for (Replica r : replicas.values()) {
      boolean quiet = now - r.lastSendNanos > resendAfter;
      if (r.inFlight > 0 && quiet && now - r.lastReplyNanos > resendAfter) {
        // No answer to anything for a while: assume the messages were lost and start over.
        r.inFlight = 0;
        r.stateTransfer = false;
        r.nextIndex = r.matchIndex + 1;
        probe(r);
      } else if (r.inFlight == 0 && quiet) {
        probe(r); // keeps the position of idle replicas fresh, and finds restarted ones
      }
    }
    return Behaviors.same();
  }

  // --- full state transfer ---

  private void startStateTransfer(Replica r) {
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
    if (msg.state() == null) {
      r.stateTransfer = false;
      r.inFlight = 0;
      return Behaviors.same();
    }
    ReplicaState state = msg.state();
    List<List<quorumkv.storage.KeyValue>> chunks = new ArrayList<>();
    state.forEachChunk(settings.stateTransferChunk(), chunks::add);
    for (int i = 0; i < chunks.size(); i++) {
      boolean last = i == chunks.size() - 1;
      r.link.send(r.ref, new FollowerActor.InstallState(
          term, state.lastIndex(), state.lastTerm(), i, last, chunks.get(i), replyAdapter));
    }
    r.lastSendNanos = System.nanoTime();
    r.nextIndex = state.lastIndex() + 1;
    context.getLog().info("Sent {} keys at index {} to {} in {} chunks",
        state.keyCount(), state.lastIndex(), r.node, chunks.size());
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
        if (log != null) {
          probe(r);
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
    Address address = msg.event().member().address();
    if (msg.event() instanceof ClusterEvent.UnreachableMember) {
      unreachable.add(address);
    } else {
      unreachable.remove(address);
    }
    return Behaviors.same();
  }

  private Behavior<Command> onMemberRemoved(MemberRemoved msg) {
    unreachable.remove(msg.event().member().address());
    return Behaviors.same();
  }

  private Behavior<Command> onReadOnLeader(ReadOnLeader msg) {
    localReplica.tell(new FollowerActor.Get(msg.key(), msg.replyTo()));
    return Behaviors.same();
  }

  private LeaderInfo info(boolean active) {
    long now = System.nanoTime();
    List<FollowerProgress> progress = new ArrayList<>();
    long leaderIndex = 0;
    List<Long> matches = new ArrayList<>();
    for (Replica r : replicas.values()) {
      boolean reachable = !unreachable.contains(r.ref.path().address());
      if (r.local) {
        leaderIndex = r.matchIndex;
      } else {
        matches.add(r.matchIndex);
      }
      progress.add(new FollowerProgress(r.node, r.matchIndex, Math.max(0, lastIndex - r.matchIndex),
          (now - r.lastReplyNanos) / 1_000_000, reachable, r.stateTransfer));
    }
    progress.sort((a, b) -> a.node().compareTo(b.node()));
    long committed = Quorum.committedIndex(
        leaderIndex, matches.stream().mapToLong(Long::longValue).toArray(), settings.writeQuorum());
    return new LeaderInfo(node, active, term, lastIndex, committed, settings.writeQuorum(),
        reachableFollowers().size(), progress);
  }
}
