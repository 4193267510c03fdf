package quorumkv.replication;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.AbstractBehavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.Receive;
import akka.actor.typed.javadsl.TimerScheduler;
import java.time.Duration;
import java.util.HashSet;
import java.util.Set;
import java.util.function.Consumer;
import quorumkv.storage.EntryOutcome;

/**
 * One per client write, a child of the leader: counts the acks for its log index and answers the
 * client exactly once, as soon as the leader's own replica and {@code quorum} followers hold the
 * write (it does not wait for the slowest) and, for an entry whose outcome depends on the state,
 * the leader's replica has applied it, or with 503 when the timeout passes or too few of
 * the awaited followers are left to make the quorum.
 *
 * <p>The leader tells it of acks and of followers that left the cluster; it does not watch the
 * followers itself, because a remote watch per write would cost two system messages per
 * follower on every write.
 */
public final class QuorumAggregator extends AbstractBehavior<QuorumAggregator.Command> {

  public sealed interface Command {}

  /** {@code node} holds the write on disk. */
  public record FollowerAcked(String node) implements Command {}

  /** The leader's own replica holds the write on disk. */
  public record LeaderDurable() implements Command {}

  /** {@code node} stopped or left the cluster before it answered. */
  public record FollowerLost(String node) implements Command {}

  private record Timeout() implements Command {}

  /** This node's replica applied the (command) entry: what it did, if known. */
  private record Applied(FollowerActor.OutcomeKnown known) implements Command {}

  private final long index;
  private final String key;
  private final int quorum;
  private final Set<String> awaited;
  private final Set<String> acked = new HashSet<>();
  private final Duration timeout;
  private final Consumer<WriteResult> replyTo;
  private final String leaderNode;
  /** Whether the answer waits for the entry's outcome (a command entry), and the outcome once applied. */
  private final boolean awaitsOutcome;
  private FollowerActor.OutcomeKnown applied;
  private boolean leaderDurable;

  /**
   * {@code reply} is called once, on this actor's thread; it must only send a message (the leader
   * passes one that tags the answer for the {@link ReplyBatcher} of a forwarded write).
   */
  public static Behavior<Command> create(
      long index, String key, int quorum, Set<String> followers, Duration timeout,
      Consumer<WriteResult> reply, String leaderNode) {
    return Behaviors.setup(ctx -> Behaviors.withTimers(timers ->
        new QuorumAggregator(ctx, timers, index, key, quorum, followers, timeout, reply, leaderNode, null, 0)));
  }

  /**
   * For an entry whose outcome depends on the state (compare-and-set, prefix delete, transaction):
   * answers once {@code quorum} followers hold it and {@code localReplica} (the leader's) has
   * applied it, which it only does once it is committed, with what applying it did.
   */
  public static Behavior<Command> awaitingOutcome(
      long index, long term, String key, int quorum, Set<String> followers, Duration timeout,
      Consumer<WriteResult> reply, String leaderNode, ActorRef<FollowerActor.Command> localReplica) {
    return Behaviors.setup(ctx -> Behaviors.withTimers(timers ->
        new QuorumAggregator(ctx, timers, index, key, quorum, followers, timeout, reply, leaderNode, localReplica,
            term)));
  }

  private QuorumAggregator(
      ActorContext<Command> context, TimerScheduler<Command> timers, long index, String key, int quorum,
      Set<String> followers, Duration timeout, Consumer<WriteResult> replyTo, String leaderNode,
      ActorRef<FollowerActor.Command> localReplica, long term) {
    super(context);
    this.awaitsOutcome = localReplica != null;
    if (awaitsOutcome) {
      localReplica.tell(new FollowerActor.AwaitOutcome(index, term,
          context.messageAdapter(FollowerActor.OutcomeKnown.class, Applied::new)));
    }
    this.index = index;
    this.key = key;
    this.quorum = quorum;
    this.awaited = new HashSet<>(followers);
    this.timeout = timeout;
    this.replyTo = replyTo;
    this.leaderNode = leaderNode;
    timers.startSingleTimer(new Timeout(), timeout);
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(FollowerAcked.class, this::onFollowerAcked)
        .onMessage(LeaderDurable.class, this::onLeaderDurable)
        .onMessage(FollowerLost.class, this::onFollowerLost)
        .onMessage(Timeout.class, this::onTimeout)
        .onMessage(Applied.class, a -> {
          applied = a.known();
          return replyIfDone();
        })
        .build();
  }

  private Behavior<Command> onFollowerAcked(FollowerAcked ack) {
    if (awaited.remove(ack.node())) {
      acked.add(ack.node());
    }
    return replyIfDone();
  }

  private Behavior<Command> onLeaderDurable(LeaderDurable durable) {
    leaderDurable = true;
    return replyIfDone();
  }

  private Behavior<Command> onFollowerLost(FollowerLost lost) {
    if (awaited.remove(lost.node()) && acked.size() + awaited.size() < quorum) {
      return fail(String.format(
          "quorum not reached: %d of %d follower acks, and only %d awaited followers are left",
          acked.size(), quorum, awaited.size()));
    }
    return this;
  }

  private Behavior<Command> onTimeout(Timeout t) {
    if (leaderDurable && acked.size() >= quorum) { // only the apply was missing
      return fail(String.format(
          "not applied on the leader within %d ms although %d of %d follower acks came: the write is in doubt "
              + "(logged at index %d, not rolled back; its condition is decided when it applies)",
          timeout.toMillis(), acked.size(), quorum, index));
    }
    return fail(String.format(
        "quorum not reached: %d of %d follower acks%s within %d ms; the write is in doubt (logged at index %d, not rolled back)",
        acked.size(), quorum, leaderDurable ? "" : " and no durable write on the leader", timeout.toMillis(), index));
  }

  private Behavior<Command> replyIfDone() {
    if (!leaderDurable || acked.size() < quorum || (awaitsOutcome && applied == null)) {
      return this;
    }
    if (!awaitsOutcome) {
      replyTo.accept(new WriteResult.Written(key, index, acked.size(), quorum, leaderNode));
      return Behaviors.stopped();
    }
    if (applied.outcome().isEmpty()) {
      return fail(String.format("the entry logged at index %d was not the one applied there on the leader's replica "
          + "(a new leader replaced it), or its outcome is no longer known: the write is in doubt", index));
    }
    replyTo.accept(answer(applied.outcome().get()));
    return Behaviors.stopped();
  }

  private WriteResult answer(EntryOutcome outcome) {
    if (outcome instanceof EntryOutcome.ConditionFailed f) {
      return new WriteResult.ConditionFailed(f.key(), index, f.currentVersion(), leaderNode);
    } else if (outcome instanceof EntryOutcome.PrefixDeleted p) {
      return new WriteResult.PrefixDeleted(p.prefix(), index, p.deleted(), acked.size(), quorum, leaderNode);
    } else if (outcome instanceof EntryOutcome.TxnApplied t) {
      return new WriteResult.TxnDone(t.succeeded(), index, t.results(), acked.size(), quorum, leaderNode);
    }
    return new WriteResult.Written(key, index, acked.size(), quorum, leaderNode);
  }

  private Behavior<Command> fail(String reason) {
    replyTo.accept(new WriteResult.QuorumNotReached(key, index, acked.size(), quorum, leaderNode, reason));
    return Behaviors.stopped();
  }
}
