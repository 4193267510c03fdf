package quorumkv.replication;

import akka.actor.Address;
import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorRefResolver;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.TimerScheduler;
import akka.actor.typed.receptionist.Receptionist;
import akka.actor.typed.receptionist.ServiceKey;
import akka.cluster.Member;
import akka.cluster.ClusterEvent;
import akka.cluster.typed.Cluster;
import akka.cluster.typed.Subscribe;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Consumer;
import quorumkv.CborSerializable;
import quorumkv.config.Settings;
import quorumkv.core.Campaign;
import quorumkv.core.Election;
import quorumkv.core.LeaderLease;
import quorumkv.core.Quorum;
import quorumkv.core.ReadRounds;
import quorumkv.core.Replication;
import quorumkv.core.WriteAcks;
import quorumkv.metrics.Metrics;
import quorumkv.storage.KeyValue;
import quorumkv.storage.LogEntry;
import quorumkv.storage.ReplicaState;
import quorumkv.storage.WriteCommand;

/**
 * Orders every write. One runs on every node; the replicas elect which one leads ({@link Election}:
 * randomized election timeouts, pre-votes, terms unique to their candidate), and the others pass
 * the writes and reads they get on to it.
 *
 * <p><b>Election.</b> A LeaderActor that has heard from no leader for its election timeout (its
 * replica tells it of every leader contact through the {@link ReplicaView}) asks every replica for
 * a pre-vote on the next term it may campaign in, then, with N − W pre-votes, for a durable promise
 * to refuse older terms. Once N − W replicas (its own among them) have promised, it
 * has heard from at least one of the W + 1 replicas that hold any acknowledged write. It adopts the
 * most complete log among them (highest last term, then highest index), stamps the entries that are
 * not known to be committed with its own term, and replicates that log; replicas replace any suffix
 * that differs. Until then it serves no writes and says why.
 *
 * <p><b>Replication.</b> Each write gets the next gap-free index in the leader's term and a
 * {@link QuorumAggregator} child that answers the client. What each replica holds and is sent, and
 * the commit index, are the pure {@link Replication} core's: this actor sends what it asks for and
 * passes it the replicas' answers and the ticks. An entry is committed (applied by the replicas)
 * once the leader's replica and W followers hold it.
 *
 * <p><b>Reads.</b> {@code leader} reads the leader's replica once it has applied the commit index;
 * {@code linearizable} first has W followers confirm that no newer term exists (so no other leader
 * can have committed anything), then reads at the commit index seen when the read arrived
 * ({@link ReadRounds}).
 */
public final class LeaderActor {

  public sealed interface Command extends CborSerializable {}

  /**
   * A client write; {@code value == null} deletes. {@code writeQuorum < 0} means the default W.
   * Nodes send their clients' writes as a {@link WriteBatch}; the simulations send single writes.
   */
  record Write(String key, String value, WriteCommand command, int writeQuorum, long timeoutMillis,
      ActorRef<WriteResult> replyTo) implements Command {
    Write(String key, String value, int writeQuorum, long timeoutMillis, ActorRef<WriteResult> replyTo) {
      this(key, value, null, writeQuorum, timeoutMillis, replyTo);
    }
  }

  /**
   * One write of a {@link WriteBatch}, with the id its forwarder will match the answer by: a plain
   * put ({@code value}) or delete ({@code value == null}) of {@code key}, or a {@code command}.
   */
  public record ForwardedWrite(long id, String key, String value, WriteCommand command, int writeQuorum,
      long timeoutMillis) {
    public ForwardedWrite(long id, String key, String value, int writeQuorum, long timeoutMillis) {
      this(id, key, value, null, writeQuorum, timeoutMillis);
    }
  }

  /**
   * Writes grouped by a node's {@link WriteForwarder}; answered as grouped {@link WriteForwarder.Results}.
   * {@code passedOn}: sent on by a LeaderActor that does not lead, which is done once only.
   */
  public record WriteBatch(List<ForwardedWrite> writes, ActorRef<WriteForwarder.Results> replyTo, boolean passedOn)
      implements Command {}

  public enum ReadLevel { LEADER, LINEARIZABLE }

  public record Read(String key, ReadLevel level, ActorRef<ReadResult> replyTo, boolean passedOn) implements Command {}

  /**
   * A read index, for reads that another node serves from its own replica (range pages, backups: too
   * big to send from the leader). Served as a {@link Read} of the empty key, which no write can
   * create: the answer's {@code appliedIndex} is what the leader's replica had applied once it held
   * everything committed when the read arrived (for LINEARIZABLE, after W followers confirmed the
   * term). A replica that has applied that index answers as the leader would have.
   */
  public record ReadIndex(ReadLevel level, ActorRef<ReadResult> replyTo) implements Command {}

  public record GetLeaderInfo(ActorRef<LeaderInfo> replyTo) implements Command {}

  /**
   * This node's view: whether it leads ({@code active}), its election state, the term, the leader
   * it knows of and how long ago its replica last heard from it, and the committed index (its own
   * when leading, else the one the leader last sent); on the leader, each follower's progress.
   */
  public record LeaderInfo(
      String node, String address, boolean active, String role, String election, long term, String leader,
      long leaderTerm, String leaderAddress, long msSinceLeaderContact, long lastIndex, long committedIndex,
      int writeQuorum, int reachableFollowers, List<FollowerProgress> followers) implements CborSerializable {}

  public record FollowerProgress(
      String node, long matchIndex, long lag, long msSinceLastReply, boolean reachable, boolean stateTransfer)
      implements CborSerializable {}

  private record ReplicasChanged(Receptionist.Listing listing) implements Command {}

  private record ReplicaReplied(FollowerActor.ReplicateReply reply) implements Command {}

  private record PrepareAnswered(FollowerActor.PrepareReply reply) implements Command {}

  private record PreVoteAnswered(FollowerActor.PreVoteReply reply) implements Command {}

  private record PeersChanged(Receptionist.Listing listing) implements Command {}

  private record TermAnswered(FollowerActor.TermConfirmed reply) implements Command {}

  private record LocalPosition(FollowerActor.Position position, String failure) implements Command {}

  private record LogFetched(FollowerActor.LogSlice slice, String failure) implements Command {}

  /**
   * Akka's membership sees {@code member} as reachable or not. Its view is the whole cluster's: a
   * node another node cannot see (one just resumed after a pause sees everyone as silent for a
   * moment) is unreachable here too, so it is a hint only (see {@link #reachable}).
   */
  record ReachabilityChanged(Address member, boolean reachable) implements Command {}

  private record MemberRemoved(ClusterEvent.MemberRemoved event) implements Command {}

  private record StateForTransfer(String node, ReplicaState state) implements Command {}

  /** A write's aggregator timed out: the leader decides the write as timed out, if it is still waiting, and tells it the counts. */
  record WriteTimedOut(long index, ActorRef<QuorumAggregator.Command> aggregator) implements Command {}

  /**
   * A write not decided yet: its acks so far, counted here, and the aggregator that answers. It
   * leaves {@link #pending} when the leader decides it and tells the aggregator so; the aggregator
   * stops once it has answered, unwatched (a death watch per write cost two system messages).
   */
  private record PendingWrite(WriteAcks acks, ActorRef<QuorumAggregator.Command> aggregator) {}

  private record Tick() implements Command {}

  private record BatcherStopped(ActorRef<WriteForwarder.Results> origin) implements Command {}

  private record ReadRoundTimedOut(long round) implements Command {}

  /** A replica this node can send to: its node, where it lives and the (delayed) link to it. */
  private record Replica(String node, ActorRef<FollowerActor.Command> ref, boolean local, ReplicationDelay.Link link) {}

  /** The LeaderActors of all nodes, for pre-vote-free routing of writes to the one that leads. */
  public static final ServiceKey<Command> SERVICE_KEY = ServiceKey.create(Command.class, "quorumkv-leader");

  /**
   * How a leader steps down: thrown from a handler, so that supervision restarts the actor as a
   * follower (its writes in flight stay in doubt). A normal event of elections, logged by the actor
   * at INFO with its reason, so it carries no stack trace and its supervisor does not log it again.
   */
  public static final class Deposed extends RuntimeException {
    private static final long serialVersionUID = 1L;

    Deposed(String message) {
      super(message, null, false, false);
    }
  }

  /** A linearizable read waiting for its round: answered from the local replica once confirmed. */
  private record LinearizableRead(String key, ActorRef<ReadResult> replyTo) {}

  /** A batch this node passed on to {@code leader}, remembered until its writes have surely been answered. */
  private record PassedOn(long atNanos, String leader, WriteBatch batch) {}

  private static final Duration ASK_TIMEOUT = Duration.ofSeconds(5);
  /** Keys per expiry entry, at most: one entry stays well inside a Replicate batch. */
  static final int MAX_EXPIRED_PER_ENTRY = 500;
  /** Keys in expiry entries not yet applied, at most: a bound while entries cannot commit. */
  static final int MAX_EXPIRED_IN_FLIGHT = 5_000;
  private static final Duration ADOPTION_LIMIT = Duration.ofSeconds(60);

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
  private final ActorRef<FollowerActor.PreVoteReply> preVoteAdapter;
  private final ReplicaView view;
  private final Election election;
  private final long heartbeatNanos;
  /** A follower that answered within this (the election timeout) counts for writes whatever membership says. */
  private final long answeredLatelyNanos;
  /** Every node's LeaderActor: where writes go when another node leads. */
  private Set<ActorRef<Command>> peers = Set.of();
  private final ReplicationStatus status;
  private final long startedNanos = System.nanoTime();
  /** Whether this runs in a cluster (else in one test JVM, where nothing is passed on). */
  private final boolean clustered;
  /** Batches passed on to a leader, oldest first: answered as in doubt at once should that leader be lost. */
  private final java.util.ArrayDeque<PassedOn> passedOn = new java.util.ArrayDeque<>();
  /** The LeaderActor of the leader this node follows, once found among the peers. */
  private String peerLeader;
  private ActorRef<Command> peerLeaderRef;
  /** The count of the last leader contact of our replica that the election has been told of. */
  private long contactsSeen = -1;
  private final ActorRef<FollowerActor.TermConfirmed> confirmAdapter;
  /** N − W: promises a new leader needs before it may serve writes. */
  private final int promisesNeeded;

  private final Map<String, Replica> replicas = new HashMap<>();
  private final Set<Address> unreachable = new HashSet<>();
  private final TreeMap<Long, PendingWrite> pending = new TreeMap<>();
  /** One per node whose forwarder sent writes: groups the answers going back to it. */
  private final Map<ActorRef<WriteForwarder.Results>, ActorRef<ReplyBatcher.Command>> batchers = new HashMap<>();

  /** The term this node campaigns in or leads. */
  private long term;
  private long electionStartedNanos;
  private FollowerActor.Position localPosition;
  private final List<LogEntry> adopted = new ArrayList<>();
  private Campaign.Promise adoptFrom;
  private long adoptUpTo;
  private long adoptionStartedNanos;
  private boolean localStateTransfer;

  /** While adopting: everything up to here is known to be committed. */
  private long adoptedCommitIndex;

  /**
   * The keys (with their version) of the expiry entries this leader logged that its replica has
   * not applied yet, by entry index: a key due is logged once, not on every tick while its entry
   * commits, and keys that fall due meanwhile go into the next entry without waiting for it.
   */
  private final TreeMap<Long, List<WriteCommand.ExpiredKey>> expiriesInFlight = new TreeMap<>();
  private final Set<WriteCommand.ExpiredKey> expiringKeys = new HashSet<>();

  // While leading (null otherwise): the log, its replication and the linearizable read rounds.
  private RetainedLog log;
  private Replication replication;
  private ReadRounds<LinearizableRead> readRounds;
  /** While it holds, {@code leader} reads are served without a round (see {@link LeaderLease}). */
  private LeaderLease lease;
  /**
   * The entry that starts this leader's term (a TermStarted), or the last index it adopted when all
   * of that was known to be committed. Its commit index may lag behind entries acknowledged under
   * an earlier leader until this entry commits, so no read is served below it (Raft's rule that a
   * leader commits an entry of its own term before it answers reads).
   */
  private long termStartIndex;

  public static Behavior<Command> create(
      Settings.Replication settings, String node, int nodeIndex, ActorRef<FollowerActor.Command> localReplica,
      ReplicaView view, ReplicationDelay delay, boolean watchCluster) {
    return Behaviors.setup(ctx -> Behaviors.withTimers(timers ->
        new LeaderActor(ctx, timers, settings, node, nodeIndex, localReplica, view, delay, watchCluster).behavior()));
  }

  private LeaderActor(
      ActorContext<Command> context, TimerScheduler<Command> timers, Settings.Replication settings, String node,
      int nodeIndex, ActorRef<FollowerActor.Command> localReplica, ReplicaView view, ReplicationDelay delay,
      boolean watchCluster) {
    this.context = context;
    this.view = view;
    this.clustered = watchCluster;
    this.status = ReplicationStatus.get(context.getSystem());
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
    this.preVoteAdapter = context.messageAdapter(FollowerActor.PreVoteReply.class, PreVoteAnswered::new);
    Settings.Election e = settings.election();
    this.heartbeatNanos = e.heartbeatInterval().toNanos();
    this.answeredLatelyNanos = e.timeoutMin().toNanos();
    this.election = new Election(node, nodeIndex, settings.followers() + 1, promisesNeeded,
        new Election.Timing(e.ticks(e.timeoutMin()), e.ticks(e.timeoutMax())), new SplittableRandom());

    // One adapter per message class: both listings come through it, told apart by their key.
    ActorRef<Receptionist.Listing> listings = context.messageAdapter(Receptionist.Listing.class,
        listing -> listing.isForKey(SERVICE_KEY) ? new PeersChanged(listing) : new ReplicasChanged(listing));
    context.getSystem().receptionist().tell(Receptionist.subscribe(FollowerActor.SERVICE_KEY, listings));
    context.getSystem().receptionist().tell(Receptionist.register(SERVICE_KEY, context.getSelf()));
    context.getSystem().receptionist().tell(Receptionist.subscribe(SERVICE_KEY, listings));
    if (watchCluster) {
      Cluster cluster = Cluster.get(context.getSystem());
      cluster.subscriptions().tell(Subscribe.create(
          context.messageAdapter(ClusterEvent.ReachabilityEvent.class, event -> new ReachabilityChanged(
              event.member().address(), !(event instanceof ClusterEvent.UnreachableMember))),
          ClusterEvent.ReachabilityEvent.class));
      cluster.subscriptions().tell(Subscribe.create(
          context.messageAdapter(ClusterEvent.MemberRemoved.class, MemberRemoved::new),
          ClusterEvent.MemberRemoved.class));
    }
    timers.startTimerWithFixedDelay(new Tick(), e.tick());
  }

  private Behavior<Command> behavior() {
    return Behaviors.receive(Command.class)
        .onMessage(Write.class, this::onWrite)
        .onMessage(WriteBatch.class, this::onWriteBatch)
        .onMessage(BatcherStopped.class, b -> { batchers.remove(b.origin()); return Behaviors.same(); })
        .onMessage(Read.class, this::onRead)
        .onMessage(ReadIndex.class, r -> onRead(new Read("", r.level(), r.replyTo(), false)))
        .onMessage(ReplicaReplied.class, this::onReplicaReplied)
        .onMessage(PrepareAnswered.class, this::onPrepareAnswered)
        .onMessage(PreVoteAnswered.class, this::onPreVoteAnswered)
        .onMessage(PeersChanged.class, this::onPeersChanged)
        .onMessage(TermAnswered.class, this::onTermAnswered)
        .onMessage(LocalPosition.class, this::onLocalPosition)
        .onMessage(LogFetched.class, this::onLogFetched)
        .onMessage(WriteTimedOut.class, this::onWriteTimedOut)
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

  /**
   * Tells the election what this node's replica knows: the last leader contact, the terms it has
   * seen. On every tick, and before a read or a write batch is passed on to the leader: KvRoutes
   * sends a read again once the replica has heard from a new leader, and between ticks (50 ms, far
   * more on a loaded machine) the election still named the old one, so the read went back to the
   * paused or dead leader and its client got a 503 after 5 s, seconds after the new leader's
   * election (found by an adversarial run: 16 of 350 leader reads in bursts around leader pauses).
   */
  private void observeLocalReplica() {
    view.contact().ifPresent(c -> {
      if (c.count() != contactsSeen) {
        contactsSeen = c.count();
        act(election.heardFromLeader(c.term(), c.leader()));
      }
    });
    view.state().ifPresent(s -> act(election.observeTerm(Math.max(s.promisedTerm(), s.lastTerm()))));
  }

  /** Carries out what the election asks for. */
  private void act(Election.Action action) {
    if (action instanceof Election.AskPreVotes ask) {
      electionStartedNanos = System.nanoTime();
      FollowerActor.PreVote preVote = new FollowerActor.PreVote(ask.term(), node, preVoteAdapter);
      localReplica.tell(preVote);
      for (Replica r : replicas.values()) {
        if (!r.local()) {
          r.link().send(r.ref(), preVote);
        }
      }
    } else if (action instanceof Election.AskPreVotesAgain again) {
      FollowerActor.PreVote preVote = new FollowerActor.PreVote(again.term(), node, preVoteAdapter);
      for (String replicaNode : again.replicas()) {
        Replica r = replicas.get(replicaNode);
        if (replicaNode.equals(node)) {
          localReplica.tell(preVote);
        } else if (r != null) {
          r.link().send(r.ref(), preVote);
        }
      }
    } else if (action instanceof Election.StartCampaign start) {
      startCampaign(start.term());
    } else if (action instanceof Election.StepDown down) {
      throw deposed("term " + down.newerTerm() + " exists");
    }
  }

  /**
   * The exception that makes this leader step down. Reads waiting for a round are answered first:
   * the restart would drop them, and their clients would wait out their whole timeout (seen in
   * AvailabilityIT: a leader read through a leader resumed from SIGSTOP, whose node had already
   * heard from the new leader, got a 503 after 5 s). Answered as "no leader known", they are sent
   * again, to whichever leader this node hears from next (KvRoutes).
   */
  private Deposed deposed(String why) {
    String message = "leader of term " + term + " on " + node + " deposed: " + why;
    context.getLog().info("{}; restarting as a follower", message);
    if (readRounds != null) {
      ReadResult.Unavailable unavailable = new ReadResult.Unavailable(message, true);
      readRounds.abandon().forEach(r -> r.read().replyTo().tell(unavailable));
    }
    return new Deposed(message);
  }

  private boolean leading() {
    return election.role() == Election.Role.LEADER;
  }

  private Behavior<Command> onPreVoteAnswered(PreVoteAnswered msg) {
    FollowerActor.PreVoteReply reply = msg.reply();
    act(election.preVoteAnswered(reply.node(), reply.term(), reply.granted(), reply.promisedTerm()));
    return Behaviors.same();
  }

  /** N − W replicas would promise {@code campaignTerm}: ask them to, durably. */
  private void startCampaign(long campaignTerm) {
    term = campaignTerm;
    localPosition = null;
    context.ask(FollowerActor.Position.class, localReplica, ASK_TIMEOUT, FollowerActor.GetPosition::new,
        (pos, failure) -> new LocalPosition(pos, failure == null ? null : failure.toString()));
  }

  private Behavior<Command> onLocalPosition(LocalPosition msg) {
    if (election.role() != Election.Role.CANDIDATE) {
      return Behaviors.same();
    }
    if (msg.position() == null) {
      context.getLog().warn("Leader candidate on {}: its replica did not answer ({}); the election timeout retries",
          node, msg.failure());
      return Behaviors.same();
    }
    localPosition = msg.position();
    askForPromises();
    return Behaviors.same();
  }

  /** Asks every replica that has not promised this term yet. */
  private void askForPromises() {
    FollowerActor.Prepare prepare = new FollowerActor.Prepare(term, node, prepareAdapter);
    localReplica.tell(prepare);
    for (Replica r : replicas.values()) {
      if (!r.local() && !election.campaign().promised(r.node())) {
        r.link().send(r.ref(), prepare);
      }
    }
  }

  private Behavior<Command> onPrepareAnswered(PrepareAnswered msg) {
    if (msg.reply() instanceof FollowerActor.PrepareRejected rejected) {
      act(election.observeTerm(rejected.promisedTerm()));
      return Behaviors.same();
    }
    FollowerActor.Prepared p = (FollowerActor.Prepared) msg.reply();
    if (p.term() == term && election.promised(p.term(),
        new Campaign.Promise(p.node(), p.lastIndex(), p.lastTerm(), p.appliedIndex()))) {
      startAdoption();
    }
    return Behaviors.same();
  }

  /** Adopting failed: campaign again, in a newer term. */
  private void electAgain() {
    act(election.adoptionFailed());
  }

  /** Fetches what the leader's replica lacks of the most complete promised log, then leads. */
  private void startAdoption() {
    adoptionStartedNanos = System.nanoTime();
    localStateTransfer = false;
    Campaign campaign = election.campaign();
    Campaign.Promise local = campaign.promiseOf(node);
    adoptFrom = campaign.mostComplete();
    // Everything up to the highest applied index among the promisers is committed. The rest keeps
    // the terms it was written in, as in Raft: a re-stamped copy differs in term from the one that
    // other replicas hold, and replacing that copy dropped it, with every entry after it, from a
    // replica whose acknowledgement an older leader could still count (ElectionSimulationTest).
    adoptedCommitIndex = campaign.committedUpTo();
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
    long localApplied = election.campaign().promiseOf(node).appliedIndex();
    ActorRef<FollowerActor.Command> source = from <= localApplied ? localReplica : replicas.get(adoptFrom.node()) == null
        ? null : replicas.get(adoptFrom.node()).ref();
    if (source == null) {
      context.getLog().warn("Replica {} with the most complete log left during the election; starting over",
          adoptFrom.node());
      electAgain();
      return;
    }
    long upTo = from <= localApplied ? localApplied : adoptUpTo;
    int max = (int) Math.min(settings.maxBatchEntries(), upTo - from + 1);
    context.ask(FollowerActor.LogSlice.class, source, ASK_TIMEOUT, replyTo -> new FollowerActor.GetLog(from, max, replyTo),
        (slice, failure) -> new LogFetched(slice, failure == null ? null : failure.toString()));
  }

  private Behavior<Command> onLogFetched(LogFetched msg) {
    if (election.role() != Election.Role.ADOPTING) {
      return Behaviors.same();
    }
    long next = adopted.isEmpty() ? localPosition.baseIndex() + 1 : adopted.get(adopted.size() - 1).index() + 1;
    boolean fromBest = next > election.campaign().promiseOf(node).appliedIndex();
    if (msg.slice() != null && msg.slice().entries().isEmpty() && fromBest && !adoptFrom.node().equals(node)
        && replicas.containsKey(adoptFrom.node())) {
      // Our replica is further behind the most complete log than that replica retains: it gets
      // that replica's committed state first, then we elect again from there.
      context.getLog().info("Replica {} no longer holds index {}: it sends its state to ours first",
          adoptFrom.node(), next);
      localStateTransfer = true;
      replicas.get(adoptFrom.node()).ref().tell(
          new FollowerActor.SendStateTo(term, localReplica, settings.stateTransferChunk(), replyAdapter));
      return Behaviors.same();
    }
    if (msg.slice() == null || msg.slice().entries().isEmpty() || msg.slice().from() != next) {
      context.getLog().warn("Could not fetch log entries from {} at index {} ({}); starting the election over",
          msg.slice() == null ? "?" : msg.slice().node(), next,
          msg.failure() != null ? msg.failure() : "no longer in its log: it needs a state transfer first");
      electAgain();
      return Behaviors.same();
    }
    for (LogEntry e : msg.slice().entries()) {
      if (e.index() != next) {
        break;
      }
      adopted.add(e);
      next++;
    }
    long localApplied = election.campaign().promiseOf(node).appliedIndex();
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
    long firstIndexOfTerm = log.lastIndex() + 1;
    boolean uncommitted = log.lastIndex() > adoptedCommitIndex;
    if (uncommitted) {
      // Earlier leaders' entries commit only with one of this term (Raft §5.4.2): log one that
      // changes nothing, so that they commit now rather than with the next client write.
      log.append(LogEntry.of(firstIndexOfTerm, term, new WriteCommand.TermStarted()));
    }
    termStartIndex = log.lastIndex();
    expiriesInFlight.clear();
    expiringKeys.clear();
    election.becameLeader();
    Settings.Election e = settings.election();
    replication = new Replication(adoptedCommitIndex, firstIndexOfTerm, log, new Replication.Limits(settings.writeQuorum(),
        settings.maxInFlight(), e.heartbeatInterval().toNanos(), settings.resendAfter().toNanos()), new Outbox());
    readRounds = new ReadRounds<>(settings.writeQuorum(), new ReadOutbox());
    lease = new LeaderLease(node, settings.writeQuorum(), LeaderLease.leaseFor(e.timeoutMin().toNanos()));
    metrics.elected(term);
    metrics.committed(adoptedCommitIndex);
    context.getLog().info(
        "Leader on {} elected in term {} with promises from {} in {} ms: adopted the log of {} up to index {}, "
            + "committed up to {}{}",
        node, term, election.campaign().promisers(), (System.nanoTime() - electionStartedNanos) / 1_000_000,
        adoptFrom.node(), firstIndexOfTerm - 1, adoptedCommitIndex,
        uncommitted ? "; the entry that starts this term is " + termStartIndex : "");
    adopted.clear();
    long now = System.nanoTime();
    for (Replica r : replicas.values()) {
      replication.addReplica(r.node(), r.local(), now); // each hears from the new leader at once
      replication.reachable(r.node(), reachable(r));
    }
  }

  private String electionStatus() {
    return switch (election.role()) {
      case FOLLOWER -> election.leader() != null
          ? "following " + election.leader() + " (term " + election.leaderTerm() + ")"
          : view.contact().map(this::waitingForANewLeader).orElse(
              "following, and has heard from no leader since it started (the others may have one: a node that"
              + " was restarted hears from it once it is let into the cluster again; another node may take the write)");
      case PRE_CANDIDATE -> String.format("asking for pre-votes for term %d: %d of the %d needed",
          election.proposedTerm(), election.preVotes(), promisesNeeded);
      case LEADER -> "leading";
      case ADOPTING -> "adopting the log of " + (adoptFrom == null ? "?" : adoptFrom.node());
      case CANDIDATE -> String.format("electing in term %d: promises from %d of the %d nodes needed %s",
          term, election.campaign().promisers().size(), promisesNeeded, election.campaign().promisers());
    };
  }

  /** Why a follower that heard from a leader before knows none now; {@code last}: that last contact. */
  private String waitingForANewLeader(ReplicaView.Contact last) {
    long ms = (System.nanoTime() - last.atNanos()) / 1_000_000;
    return "following, and knows no leader at the moment: "
        + (last.leader().equals(node) ? "it led term " + last.term() + " until " + ms + " ms ago"
            : "it last heard from " + last.leader() + " (term " + last.term() + ") " + ms + " ms ago")
        + "; it waits to hear from the leader of a newer term (another node may know it already)";
  }

  // --- writes ---

  private Behavior<Command> onWrite(Write w) {
    accept(w.key(), w.value(), w.command(), w.writeQuorum(), w.timeoutMillis(), w.replyTo()::tell,
        reachableFollowers());
    sendToReplicas();
    return Behaviors.same();
  }

  private Behavior<Command> onWriteBatch(WriteBatch batch) {
    if (!leading() && !batch.passedOn()) {
      observeLocalReplica();
      Optional<ActorRef<Command>> leader = knownLeader();
      if (leader.isPresent()) {
        leader.get().tell(new WriteBatch(batch.writes(), batch.replyTo(), true));
        passedOn.add(new PassedOn(System.nanoTime(), peerLeader, batch));
        return Behaviors.same();
      }
    }
    ActorRef<ReplyBatcher.Command> batcher = batchers.computeIfAbsent(batch.replyTo(), origin -> {
      ActorRef<ReplyBatcher.Command> child =
          context.spawnAnonymous(ReplyBatcher.create(origin, settings.maxBatchEntries()));
      context.watchWith(child, new BatcherStopped(origin));
      return child;
    });
    Set<String> followers = reachableFollowers();
    for (ForwardedWrite w : batch.writes()) {
      long id = w.id();
      accept(w.key(), w.value(), w.command(), w.writeQuorum(), w.timeoutMillis(),
          result -> batcher.tell(new ReplyBatcher.Answer(id, result)), followers);
    }
    sendToReplicas();
    return Behaviors.same();
  }

  /**
   * Logs one write and gives it an aggregator awaiting {@code followers} (the reachable ones), or
   * answers at once why it cannot be taken.
   */
  private void accept(String key, String value, WriteCommand command, int writeQuorum, long timeoutMillis,
      Consumer<WriteResult> reply, Set<String> followers) {
    if (!leading()) {
      boolean leaderOutOfReach =
          election.leader() != null && !election.leader().equals(node) && knownLeader().isEmpty();
      String why = leaderOutOfReach
          ? ": " + node + " is " + electionStatus() + " but its cluster membership does not list that node "
              + "yet, so it cannot pass writes on to it"
          : " (electing one needs " + promisesNeeded + " of the " + (settings.followers() + 1) + " nodes): "
              + node + " is " + electionStatus() + "; it keeps trying";
      reply.accept(new WriteResult.NoLeader(key, "no leader serving writes yet" + why, node));
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
    LogEntry entry = command == null ? new LogEntry(log.lastIndex() + 1, term, key, value)
        : LogEntry.of(log.lastIndex() + 1, term, command.stampedAt(System.currentTimeMillis()));
    log.append(entry);
    // A command's outcome, and whether a delete found its key, is known once applied: its aggregator
    // also waits for the leader's replica. A plain put is answered on its acks alone.
    ActorRef<QuorumAggregator.Command> aggregator = context.spawnAnonymous(command == null && value != null
        ? QuorumAggregator.create(entry.index(), key, quorum, Duration.ofMillis(timeoutMillis), reply, node,
            context.getSelf())
        : QuorumAggregator.awaitingOutcome(entry.index(), term, key, quorum, Duration.ofMillis(timeoutMillis),
            reply, node, context.getSelf(), localReplica));
    PendingWrite replaced = pending.put(entry.index(), new PendingWrite(new WriteAcks(quorum, followers), aggregator));
    if (replaced != null) {
      // An undecided write of an earlier term of this node at the same index: that entry is gone
      // from the log, so it can no longer be decided by acks; it is in doubt.
      replaced.aggregator().tell(new QuorumAggregator.TimedOut(replaced.acks().acks(), replaced.acks().isLeaderDurable()));
    }
    metrics.pendingWrites(pending.size());
  }

  /**
   * TTL expiry, decided here and only here: the keys whose expiry time (stamped by the leader that
   * logged their write) has passed on this leader's clock, read from its own replica's applied
   * state (a new leader thus expires what an old one left due), are logged as one expiry entry.
   * Each replica deletes such a key when it applies that entry, if the key still has the version
   * whose TTL passed, so every replica drops it at the same log position.
   */
  private void expireDueKeys() {
    Optional<ReplicaState> published = view.state();
    if (published.isEmpty()) {
      return;
    }
    ReplicaState state = published.get();
    while (!expiriesInFlight.isEmpty() && expiriesInFlight.firstKey() <= state.appliedIndex()) {
      expiringKeys.removeAll(expiriesInFlight.pollFirstEntry().getValue());
    }
    if (expiringKeys.size() >= MAX_EXPIRED_IN_FLIGHT) {
      return; // entries are not committing (no quorum?): wait rather than pile up more
    }
    // The keys logged already are still in the state, and due before the others: skip them.
    List<WriteCommand.ExpiredKey> due = new ArrayList<>();
    for (WriteCommand.ExpiredKey k : state.dueExpiries(System.currentTimeMillis(),
        MAX_EXPIRED_PER_ENTRY + expiringKeys.size())) {
      if (due.size() < MAX_EXPIRED_PER_ENTRY && !expiringKeys.contains(k)) {
        due.add(k);
      }
    }
    if (due.isEmpty()) {
      return;
    }
    LogEntry entry = LogEntry.of(log.lastIndex() + 1, term, new WriteCommand.Expire(due));
    log.append(entry);
    expiriesInFlight.put(entry.index(), due);
    expiringKeys.addAll(due);
    metrics.expired(due.size());
    sendToReplicas();
  }

  private void sendToReplicas() {
    if (leading()) {
      replication.appended(System.nanoTime());
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

  /**
   * Whether writes count on this replica: membership sees its node, or it answered this leader
   * within the election timeout. Membership alone is not enough: after a paused node resumed, the
   * cluster saw every other node as unreachable for a moment and the leader refused every write
   * ("not enough replicas") while all five followers were answering it; the followers' answers
   * decide, membership only speeds up giving up on a silent one.
   */
  private boolean reachable(Replica r) {
    return !unreachable.contains(r.ref().path().address()) || answeredLately(r);
  }

  private boolean answeredLately(Replica r) {
    return leading() && replication.answeredWithin(r.node(), System.nanoTime(), answeredLatelyNanos);
  }

  private Set<String> reachableFollowers() {
    Set<String> out = new HashSet<>();
    for (Replica r : replicas.values()) {
      if (!r.local() && reachable(r)) {
        out.add(r.node());
      }
    }
    return out;
  }

  /** Carries out what the replication core asks for. */
  private final class Outbox implements Replication.Outbox {
    @Override
    public long sendEntries(String replica, long prevIndex, long prevTerm, long from, long commitIndex) {
      List<LogEntry> batch = log.slice(from, settings.maxBatchEntries(), settings.maxBatchBytes());
      metrics.batch(batch.size());
      send(replica, new FollowerActor.Replicate(term, node, prevIndex, prevTerm, batch, commitIndex, System.nanoTime(),
          replyAdapter));
      return from + batch.size() - 1;
    }

    @Override
    public void sendHeartbeat(String replica, long prevIndex, long prevTerm, long commitIndex) {
      send(replica, new FollowerActor.Replicate(term, node, prevIndex, prevTerm, List.of(), commitIndex,
          System.nanoTime(), replyAdapter));
    }

    @Override
    public void fetchStateFor(String replica) {
      context.getLog().info("Replica {} needs entries from before the retained log (it starts at {}): "
          + "full state transfer", replica, log.firstIndex());
      context.ask(ReplicaState.class, localReplica, ASK_TIMEOUT, FollowerActor.GetState::new,
          (state, failure) -> new StateForTransfer(replica, state));
    }

    @Override
    public void acknowledged(String replica, boolean local, long fromExclusive, long toInclusive) {
      Iterator<PendingWrite> it = pending.subMap(fromExclusive, false, toInclusive, true).values().iterator();
      while (it.hasNext()) {
        PendingWrite w = it.next();
        if ((local ? w.acks().leaderDurable() : w.acks().followerAcked(replica)) == WriteAcks.Outcome.REACHED) {
          w.aggregator().tell(new QuorumAggregator.QuorumReached(w.acks().acks()));
          it.remove();
        }
      }
      metrics.pendingWrites(pending.size());
    }

    @Override
    public void committed(long commitIndex) {
      metrics.committed(commitIndex);
      log.trimCommitted(commitIndex, ReplicaState.MAX_RETAINED_BYTES);
    }

    private void send(String replica, FollowerActor.Command msg) {
      Replica r = replicas.get(replica);
      r.link().send(r.ref(), msg);
    }
  }

  private Behavior<Command> onReplicaReplied(ReplicaReplied msg) {
    FollowerActor.ReplicateReply reply = msg.reply();
    if (reply instanceof FollowerActor.Rejected rejected) {
      // Leading: another candidate has taken a newer term, and this leader must not write any more.
      act(election.observeTerm(rejected.promisedTerm()));
      return Behaviors.same();
    }
    if (election.role() == Election.Role.ADOPTING && localStateTransfer && reply.node().equals(node)
        && reply.term() == term && reply instanceof FollowerActor.Acked acked) {
      context.getLog().info("Our replica received the committed state up to {}; electing again", acked.matchIndex());
      electAgain();
      return Behaviors.same();
    }
    if (!leading() || reply.term() != term) {
      return Behaviors.same();
    }
    long now = System.nanoTime();
    if (reply instanceof FollowerActor.Acked acked) {
      if (acked.sentAtNanos() != FollowerActor.Acked.UNTIMED) {
        lease.answered(reply.node(), acked.sentAtNanos());
      }
      replication.acked(reply.node(), acked.matchIndex(), now);
    } else if (reply instanceof FollowerActor.Gap gap) {
      replication.gap(reply.node(), gap.hintIndex(), now);
    }
    return Behaviors.same();
  }

  /** Writes waiting for {@code follower} give up on it now, not at their timeout. */
  private void followerLost(String follower) {
    Iterator<PendingWrite> it = pending.values().iterator();
    while (it.hasNext()) {
      PendingWrite w = it.next();
      if (w.acks().followerLost(follower) == WriteAcks.Outcome.OUT_OF_REACH) {
        w.aggregator().tell(new QuorumAggregator.OutOfReach(w.acks().acks(), w.acks().awaitedLeft()));
        it.remove();
      }
    }
    metrics.pendingWrites(pending.size());
  }

  /**
   * A write's aggregator timed out. Still waiting here: decided now as timed out. Not here any
   * more: it was decided (quorum reached, out of reach, or replaced at its index), and that answer
   * is already on its way to the aggregator.
   */
  private Behavior<Command> onWriteTimedOut(WriteTimedOut msg) {
    PendingWrite w = pending.get(msg.index());
    if (w != null && w.aggregator().equals(msg.aggregator()) && w.acks().timedOut()) {
      w.aggregator().tell(new QuorumAggregator.TimedOut(w.acks().acks(), w.acks().isLeaderDurable()));
      pending.remove(msg.index());
      metrics.pendingWrites(pending.size());
    }
    return Behaviors.same();
  }

  private Behavior<Command> onTick(Tick tick) {
    long now = System.nanoTime();
    observeLocalReplica();
    if (clustered && !joined()) {
      election.notReachableYet();
    } else {
      status.joined(now);
    }
    if (view.state().isEmpty()) {
      // The local replica is still recovering (a 1,000,000-key snapshot took 30-50 s at load 35):
      // a campaign now cannot get its promise, and only raises this node's term above that of the
      // leader the others elect meanwhile, which it then no longer follows (seen after a restore).
      election.notReachableYet();
    }
    act(election.tick());
    boolean leading = leading();
    status.update(leading, leading ? now : view.contact().map(ReplicaView.Contact::atNanos).orElse(startedNanos));
    answerWritesPassedOnToALostLeader(now);
    if (election.role() == Election.Role.ADOPTING && now - adoptionStartedNanos > ADOPTION_LIMIT.toNanos()) {
      context.getLog().warn("Leader candidate on {}: adopting the log of {} took over {} s; electing again",
          node, adoptFrom.node(), ADOPTION_LIMIT.toSeconds());
      electAgain();
    }
    if (!leading) {
      return Behaviors.same();
    }
    replication.tick(now);
    expireDueKeys();
    for (Replication.ProgressView p : replication.progress()) {
      if (!p.local()) {
        metrics.follower(p.replica(), Math.max(0, log.lastIndex() - p.match()), (now - p.lastReplyNanos()) / 1_000_000,
            p.inFlight());
      }
    }
    return Behaviors.same();
  }

  // --- reads ---

  private Behavior<Command> onRead(Read read) {
    if (!leading()) {
      observeLocalReplica();
      Optional<ActorRef<Command>> leader = read.passedOn() ? Optional.empty() : knownLeader();
      if (leader.isPresent()) {
        leader.get().tell(new Read(read.key(), read.level(), read.replyTo(), true));
      } else {
        read.replyTo().tell(new ReadResult.Unavailable("no leader serving yet: " + node + " is " + electionStatus(),
            true));
      }
      return Behaviors.same();
    }
    long readIndex = Math.max(replication.commitIndex(), termStartIndex);
    boolean underLease = read.level() == ReadLevel.LEADER && lease.holds(System.nanoTime());
    if (read.level() == ReadLevel.LEADER) {
      metrics.leaderRead(underLease);
    }
    if (underLease) {
      localReplica.tell(new FollowerActor.ReadAt(read.key(), readIndex, read.replyTo()));
    } else {
      // Linearizable, or a leader read without a lease (this leader was paused or cut off, or has
      // just been elected): W followers confirm first that no newer term exists.
      readRounds.read(new LinearizableRead(read.key(), read.replyTo()), readIndex);
    }
    return Behaviors.same();
  }

  /** Carries out what the read rounds ask for. */
  private final class ReadOutbox implements ReadRounds.Outbox<LinearizableRead> {
    @Override
    public void askConfirmations(long round) {
      FollowerActor.ConfirmTerm confirm = new FollowerActor.ConfirmTerm(term, round, confirmAdapter);
      for (Replica r : replicas.values()) {
        if (!r.local()) {
          r.link().send(r.ref(), confirm);
        }
      }
      timers.startSingleTimer("read-round", new ReadRoundTimedOut(round), settings.timeout());
    }

    @Override
    public void serve(List<ReadRounds.PendingRead<LinearizableRead>> reads) {
      for (ReadRounds.PendingRead<LinearizableRead> r : reads) {
        localReplica.tell(new FollowerActor.ReadAt(r.read().key(), r.readIndex(), r.read().replyTo()));
      }
    }

    @Override
    public void fail(List<ReadRounds.PendingRead<LinearizableRead>> reads, int got, int needed) {
      ReadResult.Unavailable unavailable = new ReadResult.Unavailable(String.format(
          "could not confirm leadership for the read: %d of the %d followers needed answered within %d ms",
          got, needed, settings.timeout().toMillis()));
      reads.forEach(r -> r.read().replyTo().tell(unavailable));
    }
  }

  private Behavior<Command> onTermAnswered(TermAnswered msg) {
    FollowerActor.TermConfirmed reply = msg.reply();
    if (!reply.confirmed() && reply.term() == term) {
      throw deposed(reply.node() + " has promised a newer term");
    }
    if (leading() && reply.term() == term) {
      readRounds.confirmed(reply.node(), reply.round());
    }
    return Behaviors.same();
  }

  private Behavior<Command> onReadRoundTimedOut(ReadRoundTimedOut msg) {
    if (leading()) {
      readRounds.timedOut(msg.round());
    }
    return Behaviors.same();
  }

  // --- full state transfer ---

  private Behavior<Command> onStateForTransfer(StateForTransfer msg) {
    Replica r = replicas.get(msg.node());
    ReplicaState state = msg.state();
    if (!leading() || r == null) {
      return Behaviors.same();
    }
    if (state == null) {
      replication.stateUnavailable(msg.node());
      return Behaviors.same();
    }
    if (!replication.stateReady(msg.node(), state.appliedIndex(), System.nanoTime())) {
      return Behaviors.same();
    }
    List<List<KeyValue>> chunks = new ArrayList<>();
    state.forEachChunk(settings.stateTransferChunk(), chunks::add);
    for (int i = 0; i < chunks.size(); i++) {
      boolean last = i == chunks.size() - 1;
      r.link().send(r.ref(), new FollowerActor.InstallState(
          term, state.appliedIndex(), state.appliedTerm(), i, last, chunks.get(i), replyAdapter));
    }
    context.getLog().info("Sent {} keys at index {} to {} in {} chunks",
        state.keyCount(), state.appliedIndex(), r.node(), chunks.size());
    return Behaviors.same();
  }

  // --- membership ---

  private Behavior<Command> onReplicasChanged(ReplicasChanged msg) {
    // Unreachable replicas included: the leader keeps sending to them (a partitioned node that was
    // downed meanwhile learns so from the answer to its first message once it is back), and
    // reachability only decides whom a new write waits for.
    Set<ActorRef<FollowerActor.Command>> current = msg.listing().getAllServiceInstances(FollowerActor.SERVICE_KEY);
    Set<String> present = new HashSet<>();
    for (ActorRef<FollowerActor.Command> ref : current) {
      String replicaNode = FollowerActor.nodeOf(ref);
      present.add(replicaNode);
      Replica known = replicas.get(replicaNode);
      if (known == null || !known.ref().equals(ref)) {
        boolean local = ref.equals(localReplica);
        Replica r = new Replica(replicaNode, ref, local,
            local ? ReplicationDelay.none().newLink(replicaNode) : delay.newLink(replicaNode));
        replicas.put(replicaNode, r);
        context.getLog().info("Replica {} joined ({})", replicaNode, ref.path());
        Election.Role role = election.role();
        if (role == Election.Role.LEADER) {
          replication.addReplica(replicaNode, local, System.nanoTime());
          replication.reachable(replicaNode, reachable(r));
        } else if (role == Election.Role.CANDIDATE && localPosition != null && !local) {
          r.link().send(r.ref(), new FollowerActor.Prepare(term, node, prepareAdapter));
        } else if (role == Election.Role.PRE_CANDIDATE && !local) {
          r.link().send(r.ref(), new FollowerActor.PreVote(election.proposedTerm(), node, preVoteAdapter));
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
      if (leading()) {
        replication.removeReplica(g);
      }
      context.getLog().info("Replica {} left", g);
      followerLost(g);
    }
    return Behaviors.same();
  }

  private Behavior<Command> onReachabilityChanged(ReachabilityChanged msg) {
    Address member = msg.member();
    if (!msg.reachable()) {
      unreachable.add(member);
      // Writes waiting for a replica on that node give up on it now, not at their timeout,
      // unless it has answered this leader lately.
      for (Replica r : replicas.values()) {
        if (!r.local() && member.equals(r.ref().path().address()) && !answeredLately(r)) {
          followerLost(r.node());
        }
      }
    } else {
      unreachable.remove(member);
    }
    if (leading()) {
      for (Replica r : replicas.values()) {
        replication.reachable(r.node(), reachable(r));
      }
    }
    return Behaviors.same();
  }

  private Behavior<Command> onPeersChanged(PeersChanged msg) {
    peers = msg.listing().getAllServiceInstances(SERVICE_KEY);
    peerLeader = null;
    peerLeaderRef = null;
    return Behaviors.same();
  }

  /** Whether this node is a member of the cluster (it can hear a leader, and be heard). */
  private boolean joined() {
    akka.cluster.MemberStatus s = Cluster.get(context.getSystem()).selfMember().status();
    return s == akka.cluster.MemberStatus.up() || s == akka.cluster.MemberStatus.weaklyUp();
  }

  /**
   * Writes this node passed on to a leader that it no longer follows (another node leads now) may
   * never be answered: their clients hear at once that they are in
   * doubt, rather than wait out their timeout, and can retry with the new leader. Batches old enough
   * to have been answered are forgotten.
   */
  private void answerWritesPassedOnToALostLeader(long now) {
    long forgetAfter = settings.timeout().toNanos() + heartbeatNanos * 10;
    String following = election.leader();
    while (!passedOn.isEmpty() && now - passedOn.peekFirst().atNanos() > forgetAfter
        && (following == null || passedOn.peekFirst().leader().equals(following))) {
      passedOn.pollFirst();
    }
    // Only once another leader is known: while this node campaigns, the old one may yet answer.
    while (following != null && !passedOn.isEmpty() && !passedOn.peekFirst().leader().equals(following)) {
      PassedOn lost = passedOn.pollFirst();
      if (now - lost.atNanos() > forgetAfter) {
        continue;
      }
      List<WriteForwarder.Result> inDoubt = new ArrayList<>();
      for (ForwardedWrite w : lost.batch().writes()) {
        inDoubt.add(new WriteForwarder.Result(w.id(), new WriteResult.QuorumNotReached(w.key(), 0, 0,
            w.writeQuorum() < 0 ? settings.writeQuorum() : w.writeQuorum(), node,
            "the leader " + lost.leader() + " was lost before it answered: the write is in doubt (it may or may not "
                + "have been applied), not rolled back; retry it")));
      }
      lost.batch().replyTo().tell(new WriteForwarder.Results(inDoubt));
    }
  }

  /**
   * The LeaderActor of the node this one follows, if known and not this one: the peer at the
   * address of the cluster member whose role is the leader's node id (looked up when the leader
   * changes, since a peer may register before its node is a member).
   */
  private Optional<ActorRef<Command>> knownLeader() {
    String leader = election.leader();
    if (leader == null || leader.equals(node) || !clustered) {
      return Optional.empty();
    }
    if (!leader.equals(peerLeader)) {
      peerLeaderRef = null;
      for (Member m : Cluster.get(context.getSystem()).state().getMembers()) {
        if (m.getRoles().contains(leader)) {
          for (ActorRef<Command> ref : peers) {
            if (m.address().equals(ref.path().address())) {
              peerLeaderRef = ref;
            }
          }
          if (peerLeaderRef == null) {
            // The receptionist's listing spreads by gossip and was seen to reach a node more than
            // 6 s after the membership did, while that node refused every write with 503. Every
            // node runs its LeaderActor at the same path: address it there.
            peerLeaderRef = ActorRefResolver.get(context.getSystem())
                .resolveActorRef(m.address() + context.getSelf().path().toStringWithoutAddress());
          }
        }
      }
      peerLeader = peerLeaderRef == null ? null : leader;
    }
    return Optional.ofNullable(peerLeaderRef);
  }

  private LeaderInfo info() {
    long now = System.nanoTime();
    boolean leading = leading();
    List<FollowerProgress> progress = new ArrayList<>();
    if (leading) {
      for (Replication.ProgressView p : replication.progress()) {
        Replica r = replicas.get(p.replica());
        progress.add(new FollowerProgress(p.replica(), p.match(), Math.max(0, log.lastIndex() - p.match()),
            (now - p.lastReplyNanos()) / 1_000_000, r != null && reachable(r),
            p.mode() == Replication.Mode.STATE_TRANSFER));
      }
      progress.sort(Comparator.comparing(FollowerProgress::node));
    }
    Optional<ReplicaView.Contact> contact = view.contact();
    String leader = leading ? node : election.leader();
    ActorRef<Command> leaderRef = leading ? context.getSelf() : knownLeader().orElse(null);
    String leaderAddress = leaderRef == null ? null
        : leading || leaderRef.path().address().hasLocalScope() ? address : leaderRef.path().address().toString();
    String role = switch (election.role()) {
      case LEADER -> "leader";
      case FOLLOWER -> "follower";
      default -> "candidate";
    };
    return new LeaderInfo(node, address, leading, role, electionStatus(), leading ? term : election.term(), leader,
        leading ? term : leader == null ? 0 : election.leaderTerm(), leaderAddress, contact.map(c -> (now - c.atNanos()) / 1_000_000).orElse(-1L),
        leading ? log.lastIndex() : 0, leading ? replication.commitIndex()
            : contact.map(ReplicaView.Contact::leaderCommit).orElse(0L),
        settings.writeQuorum(), reachableFollowers().size(), progress);
  }
}
