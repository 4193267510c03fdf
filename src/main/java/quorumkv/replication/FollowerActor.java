package quorumkv.replication;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.receptionist.ServiceKey;
import akka.persistence.typed.PersistenceId;
import akka.persistence.typed.RecoveryCompleted;
import akka.persistence.typed.javadsl.CommandHandler;
import akka.persistence.typed.javadsl.Effect;
import akka.persistence.typed.javadsl.EventHandler;
import akka.persistence.typed.javadsl.EventSourcedBehavior;
import akka.persistence.typed.javadsl.RetentionCriteria;
import akka.persistence.typed.javadsl.SignalHandler;
import java.util.List;
import java.util.Optional;
import quorumkv.CborSerializable;
import quorumkv.storage.KeyValue;
import quorumkv.storage.LogEntry;
import quorumkv.storage.ReplicaState;
import quorumkv.storage.VersionedValue;

/**
 * A node's durable replica: appends the leader's log entries strictly in index order, persists
 * them (one journal event per Replicate batch) before it acknowledges, and serves local reads.
 * One per node, the leader's own node included, where it is the leader's local store.
 */
public final class FollowerActor
    extends EventSourcedBehavior<FollowerActor.Command, FollowerActor.Event, ReplicaState> {

  public static final ServiceKey<Command> SERVICE_KEY = ServiceKey.create(Command.class, "quorumkv-replica");
  private static final String NAME_PREFIX = "replica-";

  // --- protocol ---
  public sealed interface Command extends CborSerializable {}

  /** Entries in index order; an empty list is a probe that asks for the replica's position. */
  public record Replicate(long term, List<LogEntry> entries, ActorRef<ReplicateReply> replyTo) implements Command {}

  /** One chunk of a full state transfer, sent in order; only the last one is answered. */
  public record InstallState(
      long term, long snapshotIndex, long snapshotTerm, int chunk, boolean last,
      List<KeyValue> pairs, ActorRef<ReplicateReply> replyTo) implements Command {}

  /** Records a promise not to accept entries from any term older than {@code term}. */
  public record Promise(long term, ActorRef<Position> replyTo) implements Command {}

  public record Get(String key, ActorRef<Value> replyTo) implements Command {}

  public record GetPosition(ActorRef<Position> replyTo) implements Command {}

  /** The whole state, for a state transfer by the leader on this node; never sent remotely. */
  public record GetState(ActorRef<ReplicaState> replyTo) implements Command {}

  public sealed interface ReplicateReply extends CborSerializable {
    String node();

    long lastIndex();
  }

  /** Everything up to {@code lastIndex} is durable here. */
  public record Acked(String node, long term, long lastIndex) implements ReplicateReply {}

  /** The entries received do not follow {@code lastIndex}: resend from {@code lastIndex + 1}. */
  public record Gap(String node, long term, long lastIndex) implements ReplicateReply {}

  /** The sender's term is older than one this replica has promised to. */
  public record Rejected(String node, long promisedTerm, long lastIndex) implements ReplicateReply {}

  /** A read result; {@code value == null} when the key does not exist. */
  public record Value(String key, String value, long version, String node, long lastIndex) implements CborSerializable {
    public boolean found() {
      return value != null;
    }
  }

  public record Position(
      String node, long lastIndex, long lastTerm, long promisedTerm, int keyCount, String digest)
      implements CborSerializable {}

  // --- events ---
  public sealed interface Event extends CborSerializable {}

  public record EntriesAppended(long term, List<LogEntry> entries) implements Event {}

  public record StateChunkInstalled(
      long term, long snapshotIndex, long snapshotTerm, boolean first, boolean last, List<KeyValue> pairs)
      implements Event {}

  public record TermPromised(long term) implements Event {}

  // --- behaviour ---
  private final ActorContext<Command> context;
  private final String node;
  private final int snapshotEvery;
  /** Next chunk expected of the state transfer in progress, or -1; not persisted on purpose. */
  private int expectedChunk = -1;

  private long recoveryStartNanos;

  public static Behavior<Command> create(String node, int snapshotEvery) {
    return Behaviors.setup(ctx -> new FollowerActor(ctx, node, snapshotEvery));
  }

  public static String actorName(String node) {
    return NAME_PREFIX + node;
  }

  /** The node a replica belongs to, from its actor name. */
  public static String nodeOf(ActorRef<?> replica) {
    String name = replica.path().name();
    return name.startsWith(NAME_PREFIX) ? name.substring(NAME_PREFIX.length()) : name;
  }

  private FollowerActor(ActorContext<Command> context, String node, int snapshotEvery) {
    super(PersistenceId.ofUniqueId(NAME_PREFIX + node));
    this.context = context;
    this.node = node;
    this.snapshotEvery = snapshotEvery;
    this.recoveryStartNanos = System.nanoTime();
  }

  @Override
  public ReplicaState emptyState() {
    return ReplicaState.empty();
  }

  @Override
  public RetentionCriteria retentionCriteria() {
    return RetentionCriteria.snapshotEvery(snapshotEvery, 2).withDeleteEventsOnSnapshot();
  }

  @Override
  public CommandHandler<Command, Event, ReplicaState> commandHandler() {
    return newCommandHandlerBuilder()
        .forAnyState()
        .onCommand(Replicate.class, this::onReplicate)
        .onCommand(InstallState.class, this::onInstallState)
        .onCommand(Promise.class, this::onPromise)
        .onCommand(Get.class, this::onGet)
        .onCommand(GetPosition.class, (state, cmd) -> Effect().reply(cmd.replyTo(), position(state)))
        .onCommand(GetState.class, (state, cmd) -> Effect().reply(cmd.replyTo(), state))
        .build();
  }

  private Effect<Event, ReplicaState> onReplicate(ReplicaState state, Replicate cmd) {
    if (cmd.term() < state.promisedTerm()) {
      return Effect().reply(cmd.replyTo(), new Rejected(node, state.promisedTerm(), state.lastIndex()));
    }
    expectedChunk = -1;
    List<LogEntry> fresh = contiguousAfter(state.lastIndex(), cmd.entries());
    if (fresh.isEmpty()) {
      boolean gap = cmd.entries().stream().anyMatch(e -> e.index() > state.lastIndex());
      if (cmd.term() > state.promisedTerm()) {
        return Effect()
            .persist(new TermPromised(cmd.term()))
            .thenReply(cmd.replyTo(), s -> reply(gap, cmd.term(), s));
      }
      return Effect().reply(cmd.replyTo(), reply(gap, cmd.term(), state));
    }
    return Effect()
        .persist(new EntriesAppended(cmd.term(), fresh))
        .thenReply(cmd.replyTo(), s -> new Acked(node, cmd.term(), s.lastIndex()));
  }

  private ReplicateReply reply(boolean gap, long term, ReplicaState state) {
    return gap ? new Gap(node, term, state.lastIndex()) : new Acked(node, term, state.lastIndex());
  }

  /** The entries that extend the log without a hole: duplicates dropped, stopping at a gap. */
  static List<LogEntry> contiguousAfter(long lastIndex, List<LogEntry> entries) {
    int from = 0;
    while (from < entries.size() && entries.get(from).index() <= lastIndex) {
      from++;
    }
    int to = from;
    long expected = lastIndex + 1;
    while (to < entries.size() && entries.get(to).index() == expected) {
      to++;
      expected++;
    }
    return from == 0 && to == entries.size() ? entries : List.copyOf(entries.subList(from, to));
  }

  private Effect<Event, ReplicaState> onInstallState(ReplicaState state, InstallState cmd) {
    if (cmd.term() < state.promisedTerm()) {
      return Effect().reply(cmd.replyTo(), new Rejected(node, state.promisedTerm(), state.lastIndex()));
    }
    boolean first = cmd.chunk() == 0;
    if (!first && cmd.chunk() != expectedChunk) {
      // A chunk of a transfer whose start this incarnation never saw: the leader will time out
      // and start over from chunk 0.
      return Effect().none();
    }
    expectedChunk = cmd.last() ? -1 : cmd.chunk() + 1;
    if (first) {
      context.getLog().info("Full state transfer from term {} up to index {} started", cmd.term(), cmd.snapshotIndex());
    }
    var event = new StateChunkInstalled(
        cmd.term(), cmd.snapshotIndex(), cmd.snapshotTerm(), first, cmd.last(), cmd.pairs());
    if (!cmd.last()) {
      return Effect().persist(event);
    }
    return Effect()
        .persist(event)
        .thenRun(s -> context.getLog().info("Full state transfer done: {} keys at index {}", s.keyCount(), s.lastIndex()))
        .thenReply(cmd.replyTo(), s -> new Acked(node, cmd.term(), s.lastIndex()));
  }

  private Effect<Event, ReplicaState> onPromise(ReplicaState state, Promise cmd) {
    if (cmd.term() <= state.promisedTerm()) {
      return Effect().reply(cmd.replyTo(), position(state));
    }
    return Effect().persist(new TermPromised(cmd.term())).thenReply(cmd.replyTo(), this::position);
  }

  private Effect<Event, ReplicaState> onGet(ReplicaState state, Get cmd) {
    Optional<VersionedValue> v = state.get(cmd.key());
    Value reply = v.map(x -> new Value(cmd.key(), x.value(), x.version(), node, state.lastIndex()))
        .orElseGet(() -> new Value(cmd.key(), null, 0, node, state.lastIndex()));
    return Effect().reply(cmd.replyTo(), reply);
  }

  private Position position(ReplicaState s) {
    return new Position(node, s.lastIndex(), s.lastTerm(), s.promisedTerm(), s.keyCount(), s.digestHex());
  }

  @Override
  public EventHandler<ReplicaState, Event> eventHandler() {
    return newEventHandlerBuilder()
        .forAnyState()
        .onEvent(EntriesAppended.class, (s, e) -> s.append(e.term(), e.entries()))
        .onEvent(StateChunkInstalled.class,
            (s, e) -> s.installChunk(e.term(), e.snapshotIndex(), e.snapshotTerm(), e.first(), e.last(), e.pairs()))
        .onEvent(TermPromised.class, (s, e) -> s.promise(e.term()))
        .build();
  }

  @Override
  public SignalHandler<ReplicaState> signalHandler() {
    return newSignalHandlerBuilder()
        .onSignal(RecoveryCompleted.instance(), s -> context.getLog().info(
            "Replica {} recovered in {} ms: {} keys, last index {}, term {}",
            node, (System.nanoTime() - recoveryStartNanos) / 1_000_000, s.keyCount(), s.lastIndex(), s.promisedTerm()))
        .build();
  }
}
