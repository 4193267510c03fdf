package quorumkv.replication;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.BehaviorInterceptor;
import akka.actor.typed.TypedActorContext;
import akka.actor.typed.SupervisorStrategy;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.TimerScheduler;
import akka.actor.typed.receptionist.ServiceKey;
import akka.persistence.typed.PersistenceId;
import akka.persistence.typed.RecoveryCompleted;
import akka.persistence.typed.javadsl.CommandHandler;
import akka.persistence.typed.javadsl.Effect;
import akka.persistence.typed.javadsl.EventHandler;
import akka.persistence.typed.javadsl.EventSourcedBehavior;
import akka.persistence.typed.javadsl.RetentionCriteria;
import akka.persistence.typed.javadsl.SignalHandler;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Optional;
import quorumkv.CborSerializable;
import quorumkv.core.LeaderContact;
import quorumkv.metrics.Metrics;
import quorumkv.storage.EntryChanges;
import quorumkv.storage.EntryOutcome;
import quorumkv.storage.KeyValue;
import quorumkv.storage.LogEntry;
import quorumkv.storage.ReplicaState;
import quorumkv.storage.VersionedValue;
import quorumkv.watch.WatchHistory;

/**
 * A node's durable replica. It appends the leader's entries only after the entry before them
 * matches the leader's log, replacing a conflicting suffix that a new leader did not adopt;
 * persists them (one journal event per Replicate) before it acknowledges; applies entries to its
 * key map once the leader says they are committed; refuses any leader whose term is older than one
 * it promised; and serves reads. One per node, the leader's own node included.
 *
 * <p>A commit index that comes without new entries is applied at once but written to the journal
 * only with the next journal write, or after the commit-flush delay: see {@link #onReplicate}.
 */
public final class FollowerActor
    extends EventSourcedBehavior<FollowerActor.Command, FollowerActor.Event, ReplicaState> {

  public static final ServiceKey<Command> SERVICE_KEY = ServiceKey.create(Command.class, "quorumkv-replica");
  private static final String NAME_PREFIX = "replica-";

  // --- protocol ---
  public sealed interface Command extends CborSerializable {}

  /**
   * Entries that follow {@code (prevIndex, prevTerm)} in the leader's log, and the leader's commit
   * index. With no entries it is a heartbeat: it carries the commit index and asks for the
   * replica's position. {@code sentAtNanos} is the leader's clock when it sent it, brought back in
   * the answer for the leader's read lease.
   */
  public record Replicate(long term, String leader, long prevIndex, long prevTerm, List<LogEntry> entries,
      long leaderCommit, long sentAtNanos, ActorRef<ReplicateReply> replyTo) implements Command {}

  /** One chunk of a full state transfer, sent in order; only the last one is answered. */
  public record InstallState(long term, long snapshotIndex, long snapshotTerm, int chunk, boolean last,
      List<KeyValue> pairs, ActorRef<ReplicateReply> replyTo) implements Command {}

  /**
   * Would this replica promise {@code term}? Nothing is persisted: a candidate asks before it
   * campaigns, and only campaigns if N − W replicas say yes (pre-vote).
   */
  public record PreVote(long term, String candidate, ActorRef<PreVoteReply> replyTo) implements Command {}

  public record PreVoteReply(String node, long term, boolean granted, long promisedTerm) implements CborSerializable {}

  /** A would-be leader asks for a promise to refuse every older term, and for this log's position. */
  public record Prepare(long term, String candidate, ActorRef<PrepareReply> replyTo) implements Command {}

  /** The leader checks that no newer term has been promised here; nothing is persisted. */
  public record ConfirmTerm(long term, long round, ActorRef<TermConfirmed> replyTo) implements Command {}

  /** Reads once this replica has applied at least {@code minIndex}. */
  public record ReadAt(String key, long minIndex, ActorRef<ReadResult> replyTo) implements Command {}

  public record GetPosition(ActorRef<Position> replyTo) implements Command {}

  /** Log entries from {@code from}, for a new leader adopting this log. */
  public record GetLog(long from, int max, ActorRef<LogSlice> replyTo) implements Command {}

  /** Streams this replica's committed state to {@code target}, for a new leader whose own replica is too far behind. */
  public record SendStateTo(long term, ActorRef<Command> target, int chunkSize, ActorRef<ReplicateReply> replyTo)
      implements Command {}

  /** Writes a commit index held back from the journal (see {@link #onReplicate}); sent by its own timer. */
  private enum FlushCommit implements Command { INSTANCE }

  /** The whole state, for a state transfer by the leader on this node; never sent remotely. */
  public record GetState(ActorRef<ReplicaState> replyTo) implements Command {}

  /**
   * The whole applied state once this replica has applied {@code minIndex} (a read index): range
   * pages and backups are served from it on this node, never sent remotely.
   */
  public record StateAt(long minIndex, ActorRef<ReplicaState> replyTo) implements Command {}

  /**
   * The outcome of the command entry of {@code term} at {@code index}, once this replica has
   * applied it (empty if the entry applied there was another, or its outcome is no longer kept).
   * The leader's aggregators ask their own node's replica; never sent remotely.
   */
  public record AwaitOutcome(long index, long term, ActorRef<OutcomeKnown> replyTo) implements Command {}

  public record OutcomeKnown(long index, Optional<EntryOutcome> outcome) {}

  public sealed interface ReplicateReply extends CborSerializable {
    String node();

    long term();
  }

  /**
   * The log matches the leader's up to {@code matchIndex}, durably. {@code sentAtNanos}: that of the
   * Replicate answered, or {@link #UNTIMED} for the end of a state transfer.
   */
  public record Acked(String node, long term, long matchIndex, long sentAtNanos) implements ReplicateReply {
    public static final long UNTIMED = Long.MIN_VALUE;
  }

  /** The entry before the ones sent is missing or differs: resend from {@code hintIndex + 1}. */
  public record Gap(String node, long term, long hintIndex) implements ReplicateReply {}

  /** The sender's term is older than one this replica has promised to. */
  public record Rejected(String node, long term, long promisedTerm) implements ReplicateReply {}

  public sealed interface PrepareReply extends CborSerializable {
    String node();
  }

  public record Prepared(String node, long term, long lastIndex, long lastTerm, long appliedIndex)
      implements PrepareReply {}

  public record PrepareRejected(String node, long promisedTerm) implements PrepareReply {}

  public record TermConfirmed(String node, long term, long round, boolean confirmed) implements CborSerializable {}

  /**
   * A read result; {@code value == null} when the key does not exist. {@code expiresAt}: when the
   * key's TTL runs out (the leader's clock, epoch ms), 0 without a TTL.
   */
  public record Value(String key, String value, long version, String node, long appliedIndex, long expiresAt)
      implements ReadResult {
    public Value(String key, String value, long version, String node, long appliedIndex) {
      this(key, value, version, node, appliedIndex, 0);
    }

    public boolean found() {
      return value != null;
    }
  }

  public record Position(String node, long lastIndex, long lastTerm, long appliedIndex, long baseIndex,
      long baseTerm, long promisedTerm, int keyCount, String digest) implements CborSerializable {}

  /** {@code entries} from {@code from}; empty when {@code from} is no longer (or not yet) in the log. */
  public record LogSlice(String node, long from, List<LogEntry> entries, long lastIndex) implements CborSerializable {}

  // --- events ---
  public sealed interface Event extends CborSerializable {}

  /** Entries appended after {@code prevIndex} (possibly none) and the commit index then known. */
  public record Appended(long term, long prevIndex, List<LogEntry> entries, long leaderCommit) implements Event {}

  public record StateChunkInstalled(
      long term, long snapshotIndex, long snapshotTerm, boolean first, boolean last, List<KeyValue> pairs)
      implements Event {}

  public record TermPromised(long term, String candidate) implements Event {}

  // --- behaviour ---
  private record ParkedRead(String key, long minIndex, ActorRef<ReadResult> replyTo) {}

  private final ActorContext<Command> context;
  private final String node;
  private final int snapshotEvery;
  private final int retainedEntries;
  /** Next chunk expected of the state transfer in progress, or -1; not persisted on purpose. */
  private int expectedChunk = -1;
  /** Reads waiting for entries to be applied; answered after each apply. */
  private final List<ParkedRead> parkedReads = new ArrayList<>();
  private final List<StateAt> parkedStateReads = new ArrayList<>();
  private final List<AwaitOutcome> parkedOutcomes = new ArrayList<>();
  private final long startNanos = System.nanoTime();
  private final Metrics metrics;
  /** Where the applied state is published for local reads; null when nobody reads it that way. */
  private final ReplicaView view;
  /** Where applied changes are recorded for watch streams; null when not watched. */
  private final WatchHistory watchHistory;
  /** The last leader heard from: makes a live leader sticky (pre-votes) and tells this node who leads. */
  private final LeaderContact leaderContact;
  private boolean recovered;
  /** The last state {@link #published}; null until the replica has recovered. Its applied index never goes back. */
  private ReplicaState latest;
  /** The highest term promised (or being written as promised) since this replica started: never lower than its state's. */
  private long promisedTerm;
  private final TimerScheduler<Command> timers;
  private final Duration commitFlushDelay;
  /**
   * A commit index applied but not yet written (see {@link #onReplicate}): the event that writes
   * it, and the state it gave, which reads are served from until the journal catches up. Both
   * null when the journal's state is the newest.
   */
  private Appended unwrittenCommit;
  private ReplicaState aheadOfJournal;

  /** A replica on its own, outside a cluster: it grants every pre-vote for a newer term. */
  public static Behavior<Command> create(String node, int snapshotEvery, int retainedEntries) {
    return create(node, snapshotEvery, retainedEntries, null, Duration.ZERO);
  }

  /** {@link #create(String, int, int, ReplicaView, Duration, Duration)} writing every commit index at once. */
  public static Behavior<Command> create(
      String node, int snapshotEvery, int retainedEntries, ReplicaView view, Duration minElectionTimeout) {
    return create(node, snapshotEvery, retainedEntries, view, minElectionTimeout, Duration.ZERO);
  }

  /**
   * Also publishes its state and its last contact with a leader to {@code view}; refuses
   * pre-votes while it has heard from a leader within {@code minElectionTimeout}; holds a commit
   * index that comes without new entries back from the journal for up to {@code commitFlushDelay}
   * (zero: writes it at once).
   */
  public static Behavior<Command> create(String node, int snapshotEvery, int retainedEntries, ReplicaView view,
      Duration minElectionTimeout, Duration commitFlushDelay) {
    return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> {
      FollowerActor replica = new FollowerActor(ctx, timers, node, snapshotEvery, retainedEntries, view,
          new LeaderContact(minElectionTimeout.toNanos()), commitFlushDelay);
      return Behaviors.intercept(() -> replica.new AnsweredAtOnce(), replica);
    }));
  }

  /**
   * Answers the commands that only read ({@link ConfirmTerm}, {@link PreVote}, and a {@link ReadAt},
   * {@link StateAt} or {@link AwaitOutcome} of an index this replica has applied) as they arrive,
   * before the event-sourced behaviour sees them; the others of them are parked until applied.
   * That behaviour stashes every command while a journal write is in flight and, in Akka 2.8,
   * unstashes them recursively, one group of stack frames per stashed command that only replies
   * (akka/akka#29933). One leader read round sends every follower a ConfirmTerm, each leader read a
   * ReadAt, each range read a StateAt and each write the leader's replica an AwaitOutcome, so a
   * replica whose write stalled (a paused node, a slow disk, a healed partition delivering its
   * backlog) gathered thousands, and a node's JVM died of a StackOverflowError in a nemesis run.
   * Answered here, they are never stashed, and never wait behind a journal write.
   *
   * <p>The answers come from what the command handler would have used, or a newer view of it:
   * {@link #latest}, the last state the event handlers or a commit made (an event is applied when it
   * is persisted, before its write completes), and {@link #promisedTerm}, the highest term this
   * replica has promised or is promising. A term confirmed here was not yet given away: a promise
   * to a newer candidate is answered only once written, after this. ConfirmTerm and PreVote that
   * come before the replica has first recovered wait in a list of their own, and reads among the
   * parked reads; both are answered in a loop once it has.
   */
  private final class AnsweredAtOnce extends BehaviorInterceptor<Command, Command> {
    AnsweredAtOnce() {
      super(Command.class);
    }

    @Override
    public Behavior<Command> aroundReceive(TypedActorContext<Command> ctx, Command msg, ReceiveTarget<Command> target) {
      if (msg instanceof ConfirmTerm || msg instanceof PreVote) {
        if (latest != null) {
          answer(msg);
        } else {
          if (untilRecovered.size() == MAX_UNTIL_RECOVERED) {
            untilRecovered.remove(0); // as if the network had lost the oldest: its round or campaign has timed out
          }
          untilRecovered.add(msg);
        }
        return Behaviors.same();
      }
      if (msg instanceof ReadAt c) {
        if (latest != null && latest.appliedIndex() >= c.minIndex()) {
          c.replyTo().tell(read(latest, c.key()));
        } else {
          parkedReads.add(new ParkedRead(c.key(), c.minIndex(), c.replyTo())); // answered once applied
        }
        return Behaviors.same();
      }
      if (msg instanceof StateAt c) {
        if (latest != null && latest.appliedIndex() >= c.minIndex()) {
          c.replyTo().tell(latest);
        } else {
          parkedStateReads.add(c);
        }
        return Behaviors.same();
      }
      if (msg instanceof AwaitOutcome c) {
        if (latest != null && latest.appliedIndex() >= c.index()) {
          c.replyTo().tell(new OutcomeKnown(c.index(), latest.outcome(c.index(), c.term())));
        } else {
          parkedOutcomes.add(c);
        }
        return Behaviors.same();
      }
      return target.apply(ctx, msg);
    }
  }

  /** ConfirmTerm and PreVote that came before the replica had recovered, answered once it has. */
  private final List<Command> untilRecovered = new ArrayList<>();
  private static final int MAX_UNTIL_RECOVERED = 10_000;

  /** Answers a ConfirmTerm or a PreVote from {@link #promisedTerm} (see {@link AnsweredAtOnce}). */
  private void answer(Command readOnly) {
    if (readOnly instanceof ConfirmTerm c) {
      c.replyTo().tell(new TermConfirmed(node, c.term(), c.round(), c.term() >= promisedTerm));
    } else if (readOnly instanceof PreVote c) {
      c.replyTo().tell(new PreVoteReply(node, c.term(), leaderContact.grantsPreVote(c.candidate(), c.term(), promisedTerm,
          System.nanoTime(), ReplicationStatus.get(context.getSystem()).joinedAtNanos()), promisedTerm));
    }
  }

  public static String actorName(String node) {
    return NAME_PREFIX + node;
  }

  /** The node a replica belongs to, from its actor name. */
  public static String nodeOf(ActorRef<?> replica) {
    String name = replica.path().name();
    return name.startsWith(NAME_PREFIX) ? name.substring(NAME_PREFIX.length()) : name;
  }

  private FollowerActor(ActorContext<Command> context, TimerScheduler<Command> timers, String node,
      int snapshotEvery, int retainedEntries, ReplicaView view, LeaderContact leaderContact,
      Duration commitFlushDelay) {
    // A journal write that fails (the circuit breaker's 10 s call-timeout: a node paused, or an
    // fsync stalled that long) restarts the replica, which recovers from its journal: it must not
    // stop for good and leave the node without a replica.
    super(PersistenceId.ofUniqueId(NAME_PREFIX + node),
        SupervisorStrategy.restartWithBackoff(Duration.ofMillis(200), Duration.ofSeconds(5), 0.2));
    this.view = view;
    this.watchHistory = view == null ? null : view.watchHistory().orElse(null);
    this.leaderContact = leaderContact;
    this.context = context;
    this.node = node;
    this.snapshotEvery = snapshotEvery;
    this.retainedEntries = retainedEntries;
    this.metrics = Metrics.get(context.getSystem());
    this.timers = timers;
    this.commitFlushDelay = commitFlushDelay;
  }

  @Override
  public ReplicaState emptyState() {
    return ReplicaState.empty();
  }

  @Override
  public RetentionCriteria retentionCriteria() {
    return RetentionCriteria.snapshotEvery(snapshotEvery, 2).withDeleteEventsOnSnapshot();
  }

  /**
   * A full state transfer (a restore is one) is snapshotted with its last chunk: otherwise its
   * chunk events, the whole state once more, would be replayed on every recovery until the next
   * snapshot by count. Commands wait while it is written, and the last chunk is answered after it.
   */
  @Override
  public boolean shouldSnapshot(ReplicaState state, Event event, long sequenceNr) {
    return event instanceof StateChunkInstalled chunk && chunk.last();
  }

  /**
   * Called by the event handlers: when the event being applied is one that {@link
   * #retentionCriteria} snapshots after (every {@code snapshotEvery}), the watch history is written
   * now, so that no snapshot covers a change the history's file does not have (see {@link
   * WatchHistory}). A full state transfer's last chunk, snapshotted too, resets the history, which
   * writes it at once. At recovery this writes at the same events, which costs only time.
   */
  private void writeWatchHistoryIfSnapshotFollows() {
    if (watchHistory != null && lastSequenceNumber(context) % snapshotEvery == 0) {
      watchHistory.write();
    }
  }

  @Override
  public CommandHandler<Command, Event, ReplicaState> commandHandler() {
    return newCommandHandlerBuilder()
        .forAnyState()
        .onCommand(Replicate.class, this::onReplicate)
        .onCommand(InstallState.class, this::onInstallState)
        .onCommand(Prepare.class, this::onPrepare)
        // ConfirmTerm, PreVote, ReadAt, StateAt, AwaitOutcome: answered before they get here (AnsweredAtOnce)
        .onCommand(GetPosition.class, (s, c) -> Effect().reply(c.replyTo(), position(newest(s))))
        .onCommand(GetLog.class, (s, c) -> Effect().reply(c.replyTo(),
            new LogSlice(node, c.from(), s.entriesFrom(c.from(), c.max()), s.lastIndex())))
        .onCommand(GetState.class, (s, c) -> Effect().reply(c.replyTo(), newest(s)))
        .onCommand(SendStateTo.class, (s, c) -> onSendStateTo(newest(s), c))
        .onCommand(FlushCommit.class, (s, c) -> onFlushCommit(s))
        .build();
  }

  private Effect<Event, ReplicaState> onReplicate(ReplicaState state, Replicate cmd) {
    if (cmd.term() < state.promisedTerm()) {
      return Effect().reply(cmd.replyTo(), new Rejected(node, cmd.term(), state.promisedTerm()));
    }
    long now = System.nanoTime();
    if (leaderContact.contacts() > 0 && leaderContact.term() == cmd.term() && cmd.leader().equals(leaderContact.leader())) {
      metrics.leaderSilence(now - leaderContact.atNanos());
    }
    leaderContact.heard(cmd.term(), cmd.leader(), now);
    if (view != null) {
      view.publishContact(new ReplicaView.Contact(cmd.term(), cmd.leader(), leaderContact.atNanos(),
          cmd.leaderCommit(), leaderContact.contacts()));
    }
    expectedChunk = -1;
    if (!state.matches(cmd.prevIndex(), cmd.prevTerm())) {
      // Missing: resend from my last entry. Different: from my last applied one, which is
      // committed and so the same in every log.
      long hint = cmd.prevIndex() > state.lastIndex() ? state.lastIndex() : state.appliedIndex();
      return Effect().reply(cmd.replyTo(), new Gap(node, cmd.term(), hint));
    }
    long matched = cmd.entries().isEmpty()
        ? cmd.prevIndex() : cmd.entries().get(cmd.entries().size() - 1).index();
    boolean newTerm = cmd.term() > state.promisedTerm();
    boolean newEntries = cmd.entries().stream().anyMatch(e -> !state.matches(e.index(), e.term()));
    boolean newCommit = Math.min(cmd.leaderCommit(), matched) > newest(state).appliedIndex();
    Acked ack = new Acked(node, cmd.term(), matched, cmd.sentAtNanos());
    if (!newTerm && !newEntries && !newCommit) {
      return Effect().reply(cmd.replyTo(), ack);
    }
    if (newCommit) {
      // Entries up to the leader's commit index are committed: on the leader's replica and W
      // followers' disks whatever happens to this one. Local reads, waiting reads and outcomes see
      // them now, not after this replica's journal write of the commit index. The event handler
      // applies the same entries again once that write is done, and records them for watch
      // streams then.
      ReplicaState committed = state.append(
          cmd.term(), cmd.prevIndex(), cmd.entries(), cmd.leaderCommit(), retainedEntries);
      published(committed);
      answerParkedReads(committed);
      if (!newTerm && !newEntries && !commitFlushDelay.isZero() && !commitFlushDelay.isNegative()) {
        // Only the commit index is new (it comes alone right after each commit, to every replica
        // the leader's own included). Its journal write waits for the leader's next entries, which
        // carry it anyway, or for the flush timer: written at once, it held up those next entries
        // for a whole journal write. The entries acknowledged are already durable here.
        unwrittenCommit = new Appended(cmd.term(), matched, List.of(), cmd.leaderCommit());
        aheadOfJournal = committed;
        if (!timers.isTimerActive(FlushCommit.INSTANCE)) {
          timers.startSingleTimer(FlushCommit.INSTANCE, commitFlushDelay);
        }
        return Effect().reply(cmd.replyTo(), ack);
      }
    }
    long started = System.nanoTime();
    return Effect()
        .persist(withUnwrittenCommit(new Appended(cmd.term(), cmd.prevIndex(), cmd.entries(), cmd.leaderCommit())))
        .thenRun(s -> written(s, started))
        .thenReply(cmd.replyTo(), s -> ack);
  }

  /**
   * The newest applied state: the journal's, or the one whose commit index is not written yet
   * (which has the journal's log: only a message with nothing else new is held back, and every
   * journal write takes the held commit index with it).
   */
  private ReplicaState newest(ReplicaState journalState) {
    return aheadOfJournal != null && aheadOfJournal.appliedIndex() > journalState.appliedIndex()
        ? aheadOfJournal : journalState;
  }

  /**
   * {@code event}, preceded in the same journal write by the commit index not written yet unless
   * the event carries it too: the journal's state never falls behind what was published.
   */
  private List<Event> withUnwrittenCommit(Event event) {
    Appended held = unwrittenCommit;
    unwrittenCommit = null;
    aheadOfJournal = null; // commands wait while the write is in flight; it brings the journal's state up to it
    if (held == null || event instanceof Appended a && a.term() == held.term()
        && a.leaderCommit() >= held.leaderCommit() && verifiedIndex(a) >= held.prevIndex()) {
      return List.of(event);
    }
    return List.of(held, event);
  }

  private static long verifiedIndex(Appended a) {
    return a.entries().isEmpty() ? a.prevIndex() : Math.max(a.prevIndex(), a.entries().get(a.entries().size() - 1).index());
  }

  /** After a journal write of entries or a commit index begun at {@code started}: the reads it lets through. */
  private void written(ReplicaState s, long started) {
    metrics.persisted(System.nanoTime() - started);
    metrics.applied(s.appliedIndex());
    answerParkedReads(s);
  }

  private Effect<Event, ReplicaState> onFlushCommit(ReplicaState state) {
    if (unwrittenCommit == null) {
      return Effect().none();
    }
    long started = System.nanoTime();
    return Effect()
        .persist(withUnwrittenCommit(unwrittenCommit))
        .thenRun(s -> written(s, started));
  }

  private Effect<Event, ReplicaState> onInstallState(ReplicaState state, InstallState cmd) {
    if (cmd.term() < state.promisedTerm()) {
      return Effect().reply(cmd.replyTo(), new Rejected(node, cmd.term(), state.promisedTerm()));
    }
    boolean first = cmd.chunk() == 0;
    if (first && cmd.snapshotIndex() <= state.appliedIndex()) {
      // Already past that state (a transfer started before this replica caught up): keep ours.
      expectedChunk = -1;
      return Effect().reply(cmd.replyTo(), new Acked(node, cmd.term(), state.appliedIndex(), Acked.UNTIMED));
    }
    if (!first && cmd.chunk() != expectedChunk) {
      // A chunk of a transfer whose start this incarnation never saw: the leader will time out
      // and start over from chunk 0.
      return Effect().none();
    }
    expectedChunk = cmd.last() ? -1 : cmd.chunk() + 1;
    if (first) {
      context.getLog().info("Full state transfer in term {} up to index {} started", cmd.term(), cmd.snapshotIndex());
    }
    var event = new StateChunkInstalled(
        cmd.term(), cmd.snapshotIndex(), cmd.snapshotTerm(), first, cmd.last(), cmd.pairs());
    if (!cmd.last()) {
      return Effect().persist(withUnwrittenCommit(event));
    }
    return Effect()
        .persist(withUnwrittenCommit(event))
        .thenRun(s -> context.getLog().info("Full state transfer done: {} keys at index {}", s.keyCount(), s.appliedIndex()))
        .thenRun(this::answerParkedReads)
        .thenReply(cmd.replyTo(), s -> new Acked(node, cmd.term(), s.appliedIndex(), Acked.UNTIMED));
  }

  private Effect<Event, ReplicaState> onSendStateTo(ReplicaState state, SendStateTo cmd) {
    List<List<KeyValue>> chunks = new ArrayList<>();
    state.forEachChunk(cmd.chunkSize(), chunks::add);
    for (int i = 0; i < chunks.size(); i++) {
      cmd.target().tell(new InstallState(cmd.term(), state.appliedIndex(), state.appliedTerm(), i,
          i == chunks.size() - 1, chunks.get(i), cmd.replyTo()));
    }
    context.getLog().info("Sent {} keys at index {} to {} for a new leader", state.keyCount(), state.appliedIndex(),
        cmd.target().path());
    return Effect().none();
  }

  private Effect<Event, ReplicaState> onPrepare(ReplicaState state, Prepare cmd) {
    if (!state.canPromise(cmd.term(), cmd.candidate())) {
      return Effect().reply(cmd.replyTo(), new PrepareRejected(node, state.promisedTerm()));
    }
    if (cmd.term() == state.promisedTerm()) { // the same candidate asking again
      return Effect().reply(cmd.replyTo(),
          new Prepared(node, cmd.term(), state.lastIndex(), state.lastTerm(), newest(state).appliedIndex()));
    }
    if (!leaderContact.grantsPromise(cmd.candidate(), System.nanoTime(),
        ReplicationStatus.get(context.getSystem()).joinedAtNanos())) {
      // A leader was heard from within the minimum election timeout: it may be serving reads under
      // its lease (LeaderLease), which counts on this replica promising nobody else meanwhile.
      return Effect().reply(cmd.replyTo(), new PrepareRejected(node, state.promisedTerm()));
    }
    leaderContact.promised(cmd.candidate(), System.nanoTime());
    return Effect().persist(withUnwrittenCommit(new TermPromised(cmd.term(), cmd.candidate()))).thenReply(cmd.replyTo(), s ->
        new Prepared(node, cmd.term(), s.lastIndex(), s.lastTerm(), s.appliedIndex()));
  }

  private void answerParkedReads(ReplicaState state) {
    for (Iterator<AwaitOutcome> it = parkedOutcomes.iterator(); it.hasNext(); ) {
      AwaitOutcome r = it.next();
      if (state.appliedIndex() >= r.index()) {
        r.replyTo().tell(new OutcomeKnown(r.index(), state.outcome(r.index(), r.term())));
        it.remove();
      }
    }
    for (Iterator<StateAt> it = parkedStateReads.iterator(); it.hasNext(); ) {
      StateAt r = it.next();
      if (state.appliedIndex() >= r.minIndex()) {
        r.replyTo().tell(state);
        it.remove();
      }
    }
    for (Iterator<ParkedRead> it = parkedReads.iterator(); it.hasNext(); ) {
      ParkedRead r = it.next();
      if (state.appliedIndex() >= r.minIndex()) {
        r.replyTo().tell(read(state, r.key()));
        it.remove();
      }
    }
  }

  private Value read(ReplicaState state, String key) {
    return value(node, state, key);
  }

  static Value value(String node, ReplicaState state, String key) {
    Optional<VersionedValue> v = state.get(key);
    return v.map(x -> new Value(key, x.value(), x.version(), node, state.appliedIndex(), x.expiresAt()))
        .orElseGet(() -> new Value(key, null, 0, node, state.appliedIndex()));
  }

  private Position position(ReplicaState s) {
    return new Position(node, s.lastIndex(), s.lastTerm(), s.appliedIndex(), s.baseIndex(), s.baseTerm(),
        s.promisedTerm(),
        s.keyCount(), s.digestHex());
  }

  /**
   * Publishes a state for local reads and the commands answered at once ({@link AnsweredAtOnce}):
   * from the event handlers, which Akka runs as an event is persisted (before its journal write
   * completes: every applied entry is already durable on a quorum), and (see {@link #onReplicate})
   * when committed entries are about to be applied, before the journal write of the commit index.
   * Every published state is committed. A state that has applied less than the last one published
   * is not published: a replica restarted after a journal failure replays older states, and a full
   * state transfer's chunks before the last hold part of the keys at no index; readers keep the
   * newer, whole state meanwhile. After a crash this replica may recover to an earlier applied index
   * than it published, and catches up with the leader's next message. During recovery nothing is
   * published.
   */
  private ReplicaState published(ReplicaState state) {
    if (recovered) {
      promisedTerm = Math.max(promisedTerm, state.promisedTerm());
      if (latest == null || state.appliedIndex() >= latest.appliedIndex()) {
        latest = state;
        if (view != null) {
          view.publish(state);
        }
      }
    }
    return state;
  }

  /**
   * Applies an Appended event; the entries it applied are recorded in the watch history before the
   * state is published, and written to its file before any snapshot of it is taken (the history's
   * durability rests on that order: see {@link WatchHistory} and {@link
   * #writeWatchHistoryIfSnapshotFollows}). Runs for replayed events at recovery too, which is how
   * the history catches up on entries it lost in a crash.
   */
  private ReplicaState onAppended(ReplicaState s, Appended e) {
    if (watchHistory == null) {
      return published(s.append(e.term(), e.prevIndex(), e.entries(), e.leaderCommit(), retainedEntries));
    }
    List<EntryChanges> changes = new ArrayList<>();
    ReplicaState next = s.append(e.term(), e.prevIndex(), e.entries(), e.leaderCommit(), retainedEntries, changes);
    if (next.appliedIndex() > s.appliedIndex()) {
      watchHistory.applied(s.appliedIndex(), changes, next.appliedIndex());
    }
    writeWatchHistoryIfSnapshotFollows();
    return published(next);
  }

  @Override
  public EventHandler<ReplicaState, Event> eventHandler() {
    return newEventHandlerBuilder()
        .forAnyState()
        .onEvent(Appended.class, this::onAppended)
        .onEvent(StateChunkInstalled.class, (s, e) -> {
          ReplicaState next = s.installChunk(e.term(), e.snapshotIndex(), e.snapshotTerm(), e.first(), e.last(), e.pairs());
          if (e.last() && watchHistory != null) {
            watchHistory.reset(next.appliedIndex(), "this node's replica was replaced by a full state transfer");
          }
          writeWatchHistoryIfSnapshotFollows();
          if (!e.last()) { // part of the keys, at no index: not a state to read from
            promisedTerm = Math.max(promisedTerm, next.promisedTerm());
            return next;
          }
          return published(next);
        })
        .onEvent(TermPromised.class, (s, e) -> {
          writeWatchHistoryIfSnapshotFollows();
          return published(s.promise(e.term(), e.candidate()));
        })
        .build();
  }

  @Override
  public SignalHandler<ReplicaState> signalHandler() {
    return newSignalHandlerBuilder()
        .onSignal(RecoveryCompleted.instance(), s -> {
          recovered = true;
          leaderContact.recovered(s.promisedTerm());
          if (watchHistory != null) {
            watchHistory.recovered(s.appliedIndex());
          }
          published(s);
          untilRecovered.forEach(FollowerActor.this::answer);
          untilRecovered.clear();
          answerParkedReads(s);
          context.getLog().info(
              "Replica {} recovered in {} ms: {} keys, applied index {}, log up to {} (term {}), promised term {}",
              node, (System.nanoTime() - startNanos) / 1_000_000, s.keyCount(), s.appliedIndex(), s.lastIndex(),
              s.lastTerm(), s.promisedTerm());
        })
        .build();
  }
}
